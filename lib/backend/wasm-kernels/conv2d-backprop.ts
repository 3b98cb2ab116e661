/**
 * Conv2D gradients for the wasm backend (NHWC, dilation 1), built on XNNPACK through wasm's own
 * BatchMatMul and Conv2D kernels.
 *
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter, and its Conv2DBackpropInput is a scalar C++
 * loop (2-3 GFLOP/s against ~30 GFLOP/s for XNNPACK's forward conv). Its Conv3D gradients are
 * numerically wrong for stride > 1, so nothing here builds on them (docs/DESIGN.md section 4).
 *
 * Filter gradient, dW[kh,kw,ci,co] = sum_{n,oh,ow} xPad[n, oh*sh+kh, ow*sw+kw, ci] * dy[n,oh,ow,co]:
 *   one GEMM  colsT[KH*KW*Ci, P] @ dy[P, Co] = dW as [KH*KW*Ci, Co], i.e. already in tfjs' HWIO
 *   layout, with P = N*OH*OW (plus a few ignored columns, see transposedIm2col). The rows of colsT
 *   (tap-major "transposed im2col") are contiguous copies out of a channels-first, stride-phase-
 *   split, zero-padded copy of x made in one pass over the heap.
 *   Why this orientation: BatchMatMul reaches XNNPACK only when batch-1 and untransposed, and
 *   XNNPACK packs the right operand (here dy, small) and streams the left one; putting the large
 *   im2col matrix on the right instead (dy^T @ cols) makes the packing and the long reduction
 *   memory-bound (measured 4-10 GFLOP/s against ~25 for this form). wasm's Transpose (~0.4 GB/s)
 *   and Slice (copies its whole input out of the heap first) are avoided for the same reason.
 *   The one-hot depthwise im2col of docs/DESIGN.md section 4 is correct but slower here: XNNPACK runs a
 *   depthwise conv with channel multiplier KH*KW as many tiny GEMMs.
 *   Batches whose colsT would exceed DEFAULT_COLS_BUDGET_BYTES are processed in chunks of images
 *   (the wasm heap never shrinks, so one huge temporary would cost memory for the rest of the
 *   process).
 *
 * Input gradient, dx[i] = sum_{oh,k : oh*s + k - padTop = i} dy[oh] * w[k] (per spatial axis):
 *   split dx into its s*s stride phases (i = q*s + a). Phase a only sees the taps
 *   k = r + s*t with r = (a + padTop) mod s, so it is a stride-1 conv of dy itself with the
 *   sub-filter of those taps, flipped and with in/out channels swapped:
 *     dx[q*s + a] = sum_t dy[q + c - t] * w[r + s*t],  c = (a + padTop - r) / s.
 *   For stride 1 this is the classic "conv of dy with the flipped filter"; for stride 2 it does the
 *   9 taps of a 3x3 filter in four convs of 2x2, 2x1, 1x2 and 1x1 taps (no multiplications with
 *   inserted zeros, which would quadruple the work), then interleaves the four results.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { allocate, constantInfo, heapView, matMul2d, release, reshapeInfo, runWasm, sliceAxis0, TensorInfo } from './wasm-ops';

/** Default upper bound for the im2col buffer of one chunk (bytes); bigger batches are split by images. */
export const DEFAULT_COLS_BUDGET_BYTES = 64 * 1024 * 1024;
let colsBudgetBytes = DEFAULT_COLS_BUDGET_BYTES;

/** Sets the im2col chunk budget (bytes) and returns the previous one (tests force chunking with it). */
export function setIm2colBudgetBytes(bytes: number): number {
  const previous = colsBudgetBytes;
  colsBudgetBytes = bytes;
  return previous;
}

type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type DimRounding = 'floor' | 'round' | 'ceil' | undefined;

function conv2DInfo(
  xShape: number[],
  filterShape: number[],
  strides: [number, number] | number,
  pad: PadAttr,
  dimRoundingMode: DimRounding,
  dataFormat: 'NHWC' | 'NCHW',
  kernelName: string,
): tf.backend_util.Conv2DInfo {
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  if (format !== 'channelsLast') {
    throw new Error(`${kernelName} on wasm supports only dataFormat 'NHWC' (got '${dataFormat}')`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
}

/**
 * The left GEMM operand of the filter gradient for images n0 .. n0+count-1: a new heap tensor
 * colsT [KH*KW*Ci, count*OH*rowPitch] with
 *   colsT[(kh*KW + kw)*Ci + ci, (m*OH + oh)*rowPitch + ow] = xPad[n0 + m, oh*sh + kh, ow*sw + kw, ci]
 * for ow < OW. Columns ow in [OW, rowPitch) hold other (finite) values of x: the matching rows of
 * the right operand (see paddedRowsDy) are zero, so they add nothing. Allowing them makes every
 * (tap, channel, image) block ONE contiguous copy out of a channels-first, stride-phase-split,
 * zero-padded copy of x:
 *   xt[ci][m][py][px][yq][xq] = xPad[n0 + m, yq*sh + py, xq*sw + px, ci],
 * in which output pixel (oh, ow) of tap (kh, kw) sits at phase (kh % sh, kw % sw), position
 * (oh + floor(kh/sh), ow + floor(kw/sw)), so consecutive ow (and, past the row end, the next oh)
 * are consecutive in memory. The price is rowPitch/OW - 1 extra GEMM work (5% at 40x40, 3x3).
 */
export function transposedIm2col(
  backend: BackendWasm,
  x: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  n0: number,
  count: number,
): { colsT: TensorInfo; rowPitch: number } {
  const { inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Extent of the padded input the conv reads, and of each stride phase of it.
  const hp = (oh - 1) * sh + kh;
  const wp = (ow - 1) * sw + kw;
  const hq = Math.ceil(hp / sh);
  const wq = Math.ceil(wp / sw);
  const phasePlane = hq * wq;
  const imagePlane = sh * sw * phasePlane;
  const channelPlane = count * imagePlane;
  // + wq: the last block's trailing (ignored) columns may run past the final row.
  const xt = new Float32Array(ci * channelPlane + wq);
  const src = heapView(backend, x) as Float32Array;
  const yFrom = Math.max(0, -top);
  const yTo = Math.min(h, hp - top);
  const xFrom = Math.max(0, -left);
  const xTo = Math.min(w, wp - left);
  for (let m = 0; m < count; m++) {
    for (let y = yFrom; y < yTo; y++) {
      const yp = y + top;
      const py = yp % sh;
      const rowBase = m * imagePlane + py * sw * phasePlane + ((yp - py) / sh) * wq;
      let s = (((n0 + m) * h + y) * w + xFrom) * ci;
      for (let xx = xFrom; xx < xTo; xx++) {
        const xp = xx + left;
        const px = xp % sw;
        let d = rowBase + px * phasePlane + (xp - px) / sw;
        for (let c = 0; c < ci; c++, d += channelPlane) xt[d] = src[s++];
      }
    }
  }
  const block = oh * wq;
  const colsT = allocate(backend, [kh * kw * ci, count * block], 'float32');
  const dst = heapView(backend, colsT) as Float32Array;
  for (let ky = 0; ky < kh; ky++) {
    const py = ky % sh;
    const yq = (ky - py) / sh;
    for (let kx = 0; kx < kw; kx++) {
      const px = kx % sw;
      const tapOffset = (py * sw + px) * phasePlane + yq * wq + (kx - px) / sw;
      const tap = ky * kw + kx;
      for (let c = 0; c < ci; c++) {
        for (let m = 0; m < count; m++) {
          const s = c * channelPlane + m * imagePlane + tapOffset;
          dst.set(xt.subarray(s, s + block), ((tap * ci + c) * count + m) * block);
        }
      }
    }
  }
  return { colsT, rowPitch: wq };
}

/**
 * dy of images n0 .. n0+count-1 as [count*OH*rowPitch, Co], rows (m*OH + oh)*rowPitch + ow,
 * zero for ow >= OW (the ignored columns of transposedIm2col).
 */
function paddedRowsDy(backend: BackendWasm, dy: TensorInfo, n0: number, count: number, rowPitch: number): TensorInfo {
  const [, oh, ow, co] = dy.shape;
  if (rowPitch === ow) {
    const rows = sliceAxis0(backend, dy, n0, count);
    const out = reshapeInfo(backend, rows, [count * oh * ow, co]);
    release(backend, rows);
    return out;
  }
  const out = allocate(backend, [count * oh * rowPitch, co], 'float32');
  const src = heapView(backend, dy) as Float32Array;
  const dst = heapView(backend, out) as Float32Array;
  const run = ow * co;
  const pitch = rowPitch * co;
  for (let r = 0; r < count * oh; r++) {
    const s = (n0 * oh + r) * run;
    dst.set(src.subarray(s, s + run), r * pitch);
    dst.fill(0, r * pitch + run, (r + 1) * pitch);
  }
  return out;
}

export function conv2DBackpropFilterWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.Conv2DBackpropFilterAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error('Conv2DBackpropFilter on wasm supports only float32');
  }
  const info = conv2DInfo(x.shape, filterShape, strides, pad, dimRoundingMode, dataFormat, 'Conv2DBackpropFilter');
  const { batchSize, filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co, outHeight: oh, outWidth: ow } = info;
  const rowPitchBound = ow + Math.ceil(kw / info.strideWidth);
  const bytesPerImage = kh * kw * ci * oh * rowPitchBound * 4;
  const chunk = Math.max(1, Math.min(batchSize, Math.floor(colsBudgetBytes / Math.max(1, bytesPerImage))));

  let acc: TensorInfo | undefined; // [KH*KW*Ci, Co]
  for (let n0 = 0; n0 < batchSize; n0 += chunk) {
    const count = Math.min(chunk, batchSize - n0);
    const { colsT, rowPitch } = transposedIm2col(backend, x, info, n0, count);
    const dyRows = paddedRowsDy(backend, dy, n0, count, rowPitch);
    const part = matMul2d(backend, colsT, dyRows);
    release(backend, colsT, dyRows);
    if (acc) {
      const sum = runWasm(backend, 'Add', { a: acc, b: part });
      release(backend, acc, part);
      acc = sum;
    } else {
      acc = part;
    }
  }
  const out = reshapeInfo(backend, acc as TensorInfo, [kh, kw, ci, co]);
  release(backend, acc);
  return out;
}

/** The taps of one stride phase along one spatial axis (see the module comment). */
interface AxisPhase {
  /** Output phase a: dx indices q*s + a. */
  phase: number;
  /** First tap r and number of taps T (taps r, r+s, ..., r+s*(T-1)). */
  firstTap: number;
  taps: number;
  /** dx[q*s + a] reads dy[q + shift - t]. */
  shift: number;
  /** Number of dx indices in this phase. */
  count: number;
}

function axisPhases(inSize: number, kernel: number, stride: number, padBefore: number): AxisPhase[] {
  const phases: AxisPhase[] = [];
  for (let a = 0; a < stride; a++) {
    const r = (((a + padBefore) % stride) + stride) % stride;
    const taps = r < kernel ? Math.ceil((kernel - r) / stride) : 0;
    const count = inSize > a ? Math.ceil((inSize - a) / stride) : 0;
    phases.push({ phase: a, firstTap: r, taps, shift: (a + padBefore - r) / stride, count });
  }
  return phases;
}

export function conv2DBackpropInputWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.Conv2DBackpropInputAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') {
    throw new Error('Conv2DBackpropInput on wasm supports only float32');
  }
  const info = conv2DInfo(inputShape, filter.shape, strides, pad, dimRoundingMode, dataFormat, 'Conv2DBackpropInput');
  const { batchSize, filterHeight: kh, filterWidth: kw, inHeight, inWidth, inChannels: ci, outChannels: co, outHeight: oh, outWidth: ow } = info;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  // Copied out of the heap: allocations below may replace the heap's buffer.
  const w = (heapView(backend, filter) as Float32Array).slice();

  interface PhaseResult {
    rows: AxisPhase;
    cols: AxisPhase;
    out: TensorInfo;
    rowOffset: number;
    colOffset: number;
  }
  const results: PhaseResult[] = [];
  let complete = true;
  for (const rows of axisPhases(inHeight, kh, sh, info.padInfo.top)) {
    for (const cols of axisPhases(inWidth, kw, sw, info.padInfo.left)) {
      if (rows.count === 0 || cols.count === 0) continue;
      if (rows.taps === 0 || cols.taps === 0) {
        complete = false; // this phase of dx gets no contribution: zero
        continue;
      }
      // g[u, v, co, ci] = w[r_a + sh*(T_a-1-u), r_b + sw*(T_b-1-v), ci, co]
      const g = new Float32Array(rows.taps * cols.taps * co * ci);
      for (let u = 0; u < rows.taps; u++) {
        const ky = rows.firstTap + sh * (rows.taps - 1 - u);
        for (let v = 0; v < cols.taps; v++) {
          const kx = cols.firstTap + sw * (cols.taps - 1 - v);
          const srcBase = (ky * kw + kx) * ci * co;
          const dstBase = (u * cols.taps + v) * co * ci;
          for (let o = 0; o < co; o++) {
            for (let i = 0; i < ci; i++) g[dstBase + o * ci + i] = w[srcBase + i * co + o];
          }
        }
      }
      const padTop = Math.max(0, rows.taps - 1 - rows.shift);
      const padBottom = Math.max(0, rows.count + rows.shift - oh);
      const padLeft = Math.max(0, cols.taps - 1 - cols.shift);
      const padRight = Math.max(0, cols.count + cols.shift - ow);
      const gInfo = constantInfo(backend, [rows.taps, cols.taps, co, ci], g);
      const out = runWasm(
        backend,
        'Conv2D',
        { x: dy, filter: gInfo },
        {
          strides: 1,
          pad: [
            [0, 0],
            [padTop, padBottom],
            [padLeft, padRight],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: 1,
        },
      );
      release(backend, gInfo);
      results.push({
        rows,
        cols,
        out,
        rowOffset: rows.shift - (rows.taps - 1) + padTop,
        colOffset: cols.shift - (cols.taps - 1) + padLeft,
      });
    }
  }

  if (results.length === 1 && complete && sh === 1 && sw === 1) {
    const only = results[0];
    const [, outRows, outCols] = only.out.shape;
    if (only.rowOffset === 0 && only.colOffset === 0 && outRows === inHeight && outCols === inWidth) return only.out;
  }

  // Interleave the phases: dx[n, q*sh + a, p*sw + b, :] = phase_ab[n, q + rowOffset, p + colOffset, :].
  const dx = allocate(backend, [batchSize, inHeight, inWidth, ci], 'float32');
  const dst = heapView(backend, dx) as Float32Array;
  if (!complete) dst.fill(0);
  for (const r of results) {
    const src = heapView(backend, r.out) as Float32Array;
    const [, pr, pc] = r.out.shape;
    for (let n = 0; n < batchSize; n++) {
      for (let q = 0; q < r.rows.count; q++) {
        const y = q * sh + r.rows.phase;
        let s = ((n * pr + q + r.rowOffset) * pc + r.colOffset) * ci;
        let d = ((n * inHeight + y) * inWidth + r.cols.phase) * ci;
        for (let p = 0; p < r.cols.count; p++, s += ci, d += sw * ci) {
          dst.set(src.subarray(s, s + ci), d);
        }
      }
    }
    release(backend, r.out);
  }
  return dx;
}
