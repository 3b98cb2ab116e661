/**
 * BatchMatMul for the wasm backend that keeps XNNPACK's GEMM for transposed and batched products.
 *
 * wasm's own BatchMatMul reaches XNNPACK only for batch-1 products without transposes; everything
 * else runs a scalar blocked loop (~1 GFLOP/s, measured 1.4-1.8 s for one generator-sized
 * product [25 x 184320] x [184320 x 128]). Training hits those cases on every dense layer: tfjs-core's
 * matMul gradient is dA = dy @ B^T and dB = A^T @ dy, and the MetaAnchor weight generator
 * (theta = theta* + W2 relu(W1 b)) is all matMuls.
 *
 * Here a 2-D product op(A) @ op(B) becomes one untransposed GEMM after explicit transposes, in
 * whichever of two equivalent forms moves less data:
 *   direct:  op(A) @ op(B)                                   (transpose a if tA, b if tB), or
 *   flipped: (op(B)^T @ op(A)^T)^T                           (transpose b if !tB, a if !tA, and the M x N result),
 * so A^T @ B^T needs only the small result transpose. Batched products whose right operand is shared
 * (batch 1) fold the batch into the rows of one GEMM; other batched products run one GEMM per batch.
 * Tiny products stay on the stock kernel, whose loop beats the copies.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { allocate, heapView, matMul2d, release, reshapeInfo, TensorInfo } from './wasm-ops';

/**
 * wasm's XNNPACK path (batch-1, untransposed products) caches one packed-weights operator per right
 * operand, keyed by the operand's tensor id, its bias id and activation only — not by its shape
 * (tfjs-backend-wasm batch_mat_mul_impl.cc). Reshapes share ids, so the same buffer used as the
 * right operand with another [K, N] would run the operator packed for the first one: wrong
 * numbers, and writes past the output when the old N exceeds the new (the heap corruption that
 * surfaced as out-of-bounds faults in later kernels). The [K, N] each buffer was first used with
 * is recorded here (a WeakMap on the data id, so entries go with the data); a right operand seen
 * with another [K, N] is copied into a fresh tensor, whose new id gets its own operator.
 * wasm's _FusedMatMul shares that cache and is not guarded; nothing in lib/ calls it.
 */
const xnnpackRightShapes = new WeakMap<object, string>();

/** `b` itself, or a copy of it under a new id if wasm's operator cache holds it with another [K, N]. */
function freshRightOperand(backend: BackendWasm, b: TensorInfo, k: number, n: number): { b: TensorInfo; copied: boolean } {
  const key = `${k}x${n}`;
  const seen = xnnpackRightShapes.get(b.dataId);
  if (seen === undefined) {
    xnnpackRightShapes.set(b.dataId, key);
    return { b, copied: false };
  }
  if (seen === key) return { b, copied: false };
  const copy = allocate(backend, b.shape, 'float32');
  (heapView(backend, copy) as Float32Array).set(heapView(backend, b) as Float32Array);
  xnnpackRightShapes.set(copy.dataId, key);
  return { b: copy, copied: true };
}

/** Products below this many multiply-adds (per batch) use wasm's stock kernel. */
const MIN_MACS_FOR_XNNPACK = 32 * 1024;

let stockKernel: tf.KernelFunc | undefined;

/** The kernel this one replaces (set at registration; used for the cases it already handles well). */
export function setStockBatchMatMul(kernelFunc: tf.KernelFunc): void {
  stockKernel = kernelFunc;
}

/** Blocked 2-D transpose between heap arrays (measured 2-3x faster than wasm's Transpose kernel). */
function transposeInto(src: Float32Array, srcOffset: number, rows: number, cols: number, dst: Float32Array, dstOffset: number): void {
  const block = 32;
  for (let i0 = 0; i0 < rows; i0 += block) {
    const i1 = Math.min(rows, i0 + block);
    for (let j0 = 0; j0 < cols; j0 += block) {
      const j1 = Math.min(cols, j0 + block);
      for (let i = i0; i < i1; i++) {
        let s = srcOffset + i * cols + j0;
        let d = dstOffset + j0 * rows + i;
        for (let j = j0; j < j1; j++, d += rows) dst[d] = src[s++];
      }
    }
  }
}

/** The [rows, cols] matrix at element `offset` of x, transposed into a new [cols, rows] tensor. */
function transposed(backend: BackendWasm, x: TensorInfo, offset: number, rows: number, cols: number): TensorInfo {
  const out = allocate(backend, [cols, rows], 'float32');
  transposeInto(heapView(backend, x) as Float32Array, offset, rows, cols, heapView(backend, out) as Float32Array, 0);
  return out;
}

/** The [rows, cols] matrix at element `offset` of x as its own tensor (a view when it is all of x). */
function matrixAt(backend: BackendWasm, x: TensorInfo, offset: number, rows: number, cols: number): TensorInfo {
  if (offset === 0 && rows * cols === tf.util.sizeFromShape(x.shape)) return reshapeInfo(backend, x, [rows, cols]);
  const out = allocate(backend, [rows, cols], 'float32');
  const src = heapView(backend, x) as Float32Array;
  (heapView(backend, out) as Float32Array).set(src.subarray(offset, offset + rows * cols));
  return out;
}

/**
 * op(a) @ op(b) for the matrices at the given offsets; a stored [M, K] (or [K, M] if tA), b stored
 * [K, N] (or [N, K] if tB). Returns a new [M, N] tensor.
 */
function product2d(
  backend: BackendWasm,
  a: TensorInfo,
  aOffset: number,
  tA: boolean,
  b: TensorInfo,
  bOffset: number,
  tB: boolean,
  m: number,
  k: number,
  n: number,
): TensorInfo {
  const direct = (tA ? m * k : 0) + (tB ? k * n : 0);
  const flipped = (tB ? 0 : k * n) + (tA ? 0 : m * k) + m * n;
  if (direct <= flipped) {
    const left = tA ? transposed(backend, a, aOffset, k, m) : matrixAt(backend, a, aOffset, m, k);
    const right = tB ? transposed(backend, b, bOffset, n, k) : matrixAt(backend, b, bOffset, k, n);
    const out = matMul2d(backend, left, right);
    release(backend, left, right);
    return out;
  }
  // (op(B)^T @ op(A)^T)^T: op(B)^T is b as stored when tB, op(A)^T is a as stored when tA.
  const left = tB ? matrixAt(backend, b, bOffset, n, k) : transposed(backend, b, bOffset, k, n);
  const right = tA ? matrixAt(backend, a, aOffset, k, m) : transposed(backend, a, aOffset, m, k);
  const outT = matMul2d(backend, left, right); // [N, M]
  release(backend, left, right);
  const out = transposed(backend, outT, 0, n, m);
  release(backend, outT);
  return out;
}

export function batchMatMulWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.BatchMatMulAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const tA = Boolean(attrs.transposeA);
  const tB = Boolean(attrs.transposeB);
  if (!stockKernel) throw new Error('BatchMatMul on wasm: the stock kernel was not recorded at registration');
  const stock = () => stockKernel!(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock();

  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const m = tA ? a.shape[aRank - 1] : a.shape[aRank - 2];
  const k = tA ? a.shape[aRank - 2] : a.shape[aRank - 1];
  const kB = tB ? b.shape[bRank - 1] : b.shape[bRank - 2];
  const n = tB ? b.shape[bRank - 2] : b.shape[bRank - 1];
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (k !== kB) return stock(); // let the stock kernel report the shape error
  const batch = Math.max(batchA, batchB);
  const xnnpackAlready = !tA && !tB && batchA === 1 && batchB === 1;
  const macs = m * k * n;
  if (xnnpackAlready) {
    const right = freshRightOperand(backend, b, k, n);
    if (!right.copied) return stock();
    const out = stockKernel({ inputs: { a, b: right.b }, backend, attrs } as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
    release(backend, right.b);
    return out;
  }
  if (macs < MIN_MACS_FOR_XNNPACK || (batchA !== batchB && batchA !== 1 && batchB !== 1)) {
    return stock();
  }
  const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n];

  if (batchB === 1 && !tA) {
    // Shared right operand: the batch of a folds into the rows of one GEMM.
    const out2 = product2d(backend, a, 0, false, b, 0, tB, batch * m, k, n);
    const out = reshapeInfo(backend, out2, outShape);
    release(backend, out2);
    return out;
  }
  const out = allocate(backend, outShape, 'float32');
  for (let i = 0; i < batch; i++) {
    const part = product2d(backend, a, batchA === 1 ? 0 : i * m * k, tA, b, batchB === 1 ? 0 : i * k * n, tB, m, k, n);
    (heapView(backend, out) as Float32Array).set(heapView(backend, part) as Float32Array, i * m * n);
    release(backend, part);
  }
  return out;
}
