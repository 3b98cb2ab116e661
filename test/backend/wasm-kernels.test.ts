/**
 * The project's wasm training kernels (lib/backend/wasm-kernels) against the cpu backend and
 * against float64 finite differences, plus a RetinaNet-like training step on wasm.
 *
 * Tolerances (all relative to the largest magnitude of the reference, per tensor):
 * - wasm vs cpu, single kernels: 1e-5 (both float32; measured ~3e-7);
 * - wasm vs float64 central finite differences of L = sum(op(x) * G): 1e-5. L is linear in each
 *   input, so the difference quotient is exact up to float64 rounding (~1e-12); what remains is the
 *   float32 arithmetic of the kernel;
 * - whole RetinaNet-like net, wasm vs cpu: gradients 1e-4, loss trajectory over 4 momentum-SGD
 *   steps 1e-4 (float32 rounding differences compound through ~20 layers).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { explainWasmOom, isWasmOutOfMemory, registerWasmTrainingKernels, setIm2colBudgetBytes, wasmHeapBytes } from '../../lib/backend/wasm-kernels';
import { requestedWasmThreads, useThreadedWasm, wasmThreadsInUse } from '../../lib/backend/wasm-threads';
import { UserError } from '../../lib/util/errors';
import { makeRng, normal } from '../../lib/util/seed';
import { anchorsPerImage, detectionLoss, forward, makeBatch, makeParams, NET } from './retinanet-like';

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

const CONV_CASES: ConvCase[] = [
  { name: '3x3 s1 same, 9x7, 5->6 ch', x: [2, 9, 7, 5], filter: [3, 3, 5, 6], strides: 1, pad: 'same' },
  { name: '3x3 s2 same, odd 9x7', x: [2, 9, 7, 5], filter: [3, 3, 5, 6], strides: 2, pad: 'same' },
  { name: '3x3 s2 same, even 8x10', x: [2, 8, 10, 5], filter: [3, 3, 5, 6], strides: 2, pad: 'same' },
  { name: '3x3 s2 valid, batch 3', x: [3, 9, 7, 3], filter: [3, 3, 3, 7], strides: 2, pad: 'valid' },
  { name: '3x3 s1 valid', x: [2, 9, 7, 4], filter: [3, 3, 4, 4], strides: 1, pad: 'valid' },
  { name: '1x1 s1', x: [2, 9, 7, 5], filter: [1, 1, 5, 6], strides: 1, pad: 'same' },
  { name: '1x1 s2 same, odd 9x7', x: [2, 9, 7, 5], filter: [1, 1, 5, 6], strides: 2, pad: 'same' },
  { name: '1x1 s2 valid, 10x8', x: [2, 10, 8, 5], filter: [1, 1, 5, 6], strides: 2, pad: 'valid' },
  { name: '5x3 strides 2x3 same', x: [1, 11, 13, 2], filter: [5, 3, 2, 3], strides: [2, 3], pad: 'same' },
  { name: '3x3 s2 numeric pad 1 (PyTorch style)', x: [2, 10, 9, 6], filter: [3, 3, 6, 5], strides: 2, pad: 1 },
  {
    name: '3x3 s2 explicit asymmetric pad',
    x: [2, 9, 7, 4],
    filter: [3, 3, 4, 4],
    strides: 2,
    pad: [
      [0, 0],
      [2, 1],
      [0, 3],
      [0, 0],
    ],
  },
  { name: '7x7 s2 same (stem)', x: [2, 12, 11, 3], filter: [7, 7, 3, 5], strides: 2, pad: 'same' },
];

const REL_TOL_VS_CPU = 1e-5;
const REL_TOL_VS_FD = 1e-5;
const REL_TOL_NET = 1e-4;

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function randomValues(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = normal(rng);
  return out;
}

/** max |a - b| / max |b|. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  assert.ok(scale > 0, 'reference is all zeros');
  return diff / scale;
}

async function onBackend<T>(name: 'cpu' | 'wasm', fn: () => T): Promise<T> {
  assert.ok(await tf.setBackend(name));
  let result: T | undefined;
  tf.tidy(() => {
    result = fn();
  });
  return result as T;
}

/** Float64 reference conv (NHWC, HWIO), padding as tfjs computes it. */
function referenceConv(x: Float64Array, w: Float64Array, c: ConvCase): { out: Float64Array; shape: number[] } {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
  const { batchSize: n, inHeight: h, inWidth: wd, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const out = new Float64Array(n * oh * ow * co);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const o = ((b * oh + y) * ow + xx) * co;
        for (let ky = 0; ky < kh; ky++) {
          const iy = y * sh + ky - info.padInfo.top;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = xx * sw + kx - info.padInfo.left;
            if (ix < 0 || ix >= wd) continue;
            for (let i = 0; i < ci; i++) {
              const xv = x[((b * h + iy) * wd + ix) * ci + i];
              const wb = ((ky * kw + kx) * ci + i) * co;
              for (let j = 0; j < co; j++) out[o + j] += xv * w[wb + j];
            }
          }
        }
      }
    }
  }
  return { out, shape: [n, oh, ow, co] };
}

/** Central finite differences (float64) of L = sum(f(v) * g) with respect to every entry of v. */
function finiteDifferences(v: Float64Array, g: Float64Array, f: (v: Float64Array) => Float64Array, step = 0.5): Float64Array {
  const loss = (vv: Float64Array) => {
    const y = f(vv);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * g[i];
    return s;
  };
  const grad = new Float64Array(v.length);
  const probe = Float64Array.from(v);
  for (let i = 0; i < v.length; i++) {
    probe[i] = v[i] + step;
    const up = loss(probe);
    probe[i] = v[i] - step;
    const down = loss(probe);
    probe[i] = v[i];
    grad[i] = (up - down) / (2 * step);
  }
  return grad;
}

/** dL/dx and dL/dW of L = sum(conv2d(x, W) * G) on the current backend. */
function convGrads(c: ConvCase, xv: Float32Array, wv: Float32Array, gv: Float32Array, gShape: number[]): Float32Array[] {
  const x = tf.tensor4d(xv, c.x);
  const w = tf.tensor4d(wv, c.filter);
  const g = tf.tensor(gv, gShape);
  const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as 'same'), g));
  return tf
    .grads(f)([x, w])
    .map((t) => t.dataSync() as Float32Array);
}

describe('wasm training kernels', () => {
  let registered: string[] = [];

  // METAANCHOR_WASM_THREADS=2 node test/run.js wasm-kernels runs every check on the threaded build.
  const threads = requestedWasmThreads() ?? 1;

  before(async () => {
    require('@tensorflow/tfjs-backend-wasm');
    useThreadedWasm(threads);
    assert.ok(await tf.setBackend('wasm'));
    await tf.ready();
    registered = registerWasmTrainingKernels();
  });

  test(`XNNPACK runs on ${threads} thread(s) (METAANCHOR_WASM_THREADS)`, () => {
    assert.equal(wasmThreadsInUse(), threads);
  });

  after(async () => {
    await tf.setBackend('cpu');
  });

  test('registration names the kernels and is idempotent', () => {
    assert.deepEqual(registered, [
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'GatherV2',
      'UnsortedSegmentSum',
      'MaxPoolGrad',
      'BatchMatMul',
      'Slice',
      'SplitV',
      'Identity',
      'Cast',
      'Sum',
      'Mean',
    ]);
    const before = registered.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    assert.deepEqual(registerWasmTrainingKernels(), registered);
    const afterSecond = registered.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    assert.deepEqual(afterSecond, before);
    // wasm's own scalar-loop Conv2DBackpropInput has been replaced.
    assert.match(String(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc.name), /Wasm$/);
  });

  for (const [i, c] of CONV_CASES.entries()) {
    test(`conv2d gradients, ${c.name}: wasm = cpu = finite differences`, async () => {
      const xv = randomValues(100 + i, size(c.x));
      const wv = randomValues(200 + i, size(c.filter));
      const x64 = Float64Array.from(xv);
      const w64 = Float64Array.from(wv);
      const ref = referenceConv(x64, w64, c);
      const gv = randomValues(300 + i, ref.out.length);
      const g64 = Float64Array.from(gv);

      const [dxWasm, dwWasm] = await onBackend('wasm', () => convGrads(c, xv, wv, gv, ref.shape));
      const [dxCpu, dwCpu] = await onBackend('cpu', () => convGrads(c, xv, wv, gv, ref.shape));
      const dxFd = finiteDifferences(x64, g64, (v) => referenceConv(v, w64, c).out);
      const dwFd = finiteDifferences(w64, g64, (v) => referenceConv(x64, v, c).out);

      assert.ok(relError(dxWasm, dxCpu) <= REL_TOL_VS_CPU, `dx vs cpu ${relError(dxWasm, dxCpu)}`);
      assert.ok(relError(dwWasm, dwCpu) <= REL_TOL_VS_CPU, `dW vs cpu ${relError(dwWasm, dwCpu)}`);
      assert.ok(relError(dxWasm, dxFd) <= REL_TOL_VS_FD, `dx vs finite differences ${relError(dxWasm, dxFd)}`);
      assert.ok(relError(dwWasm, dwFd) <= REL_TOL_VS_FD, `dW vs finite differences ${relError(dwWasm, dwFd)}`);
    });
  }

  test('filter gradient computed in image chunks equals the one-pass result', async () => {
    const c: ConvCase = { name: 'chunked', x: [5, 7, 6, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' };
    const xv = randomValues(11, size(c.x));
    const wv = randomValues(12, size(c.filter));
    const shape = [5, 4, 3, 4];
    const gv = randomValues(13, size(shape));
    const [, onePass] = await onBackend('wasm', () => convGrads(c, xv, wv, gv, shape));
    // colsT per image: 9 taps * 3 channels * 4 rows * (3 + 2) columns * 4 bytes = 2160 bytes.
    const previous = setIm2colBudgetBytes(2 * 2160); // chunks of 2 + 2 + 1 images
    let chunked: Float32Array;
    try {
      [, chunked] = await onBackend('wasm', () => convGrads(c, xv, wv, gv, shape));
    } finally {
      setIm2colBudgetBytes(previous);
    }
    assert.ok(relError(chunked, onePass) <= 1e-6, `chunked vs one pass ${relError(chunked, onePass)}`);
    const [, cpu] = await onBackend('cpu', () => convGrads(c, xv, wv, gv, shape));
    assert.ok(relError(chunked, cpu) <= REL_TOL_VS_CPU);
  });

  test('fused conv2d (bias + relu) gradients for input, filter and bias match cpu', async () => {
    const xv = randomValues(21, 2 * 8 * 6 * 5);
    const wv = randomValues(22, 3 * 3 * 5 * 7);
    const bv = randomValues(23, 7);
    const gv = randomValues(24, 2 * 4 * 3 * 7);
    const run = () => {
      const g = tf.tensor4d(gv, [2, 4, 3, 7]);
      const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: 1, bias: b, activation: 'relu' }), g));
      return tf
        .grads(f)([tf.tensor4d(xv, [2, 8, 6, 5]), tf.tensor4d(wv, [3, 3, 5, 7]), tf.tensor1d(bv)])
        .map((t) => t.dataSync() as Float32Array);
    };
    const wasm = await onBackend('wasm', run);
    const cpu = await onBackend('cpu', run);
    for (let i = 0; i < 3; i++) assert.ok(relError(wasm[i], cpu[i]) <= REL_TOL_VS_CPU, `input ${i}: ${relError(wasm[i], cpu[i])}`);
  });

  test('gather gradients (UnsortedSegmentSum) along axes 0, 1, 2 and with batchDims 1', async () => {
    const shape = [4, 5, 3];
    const xv = randomValues(31, size(shape));
    const cases = [
      { axis: 0, batchDims: 0, indices: [3, 0, 3, 3, 1], idxShape: [5] }, // repeated rows, row 2 never taken
      { axis: 1, batchDims: 0, indices: [4, 4, 0, 2], idxShape: [4] },
      { axis: 2, batchDims: 0, indices: [2, 0, 2], idxShape: [3] },
      { axis: 1, batchDims: 1, indices: [0, 1, 1, 4, 4, 4, 2, 3], idxShape: [4, 2] },
    ];
    for (const [k, gc] of cases.entries()) {
      const gather = (x: tf.Tensor) => tf.gather(x, tf.tensor(gc.indices, gc.idxShape, 'int32'), gc.axis, gc.batchDims);
      const outShape = await onBackend('cpu', () => gather(tf.tensor(xv, shape)).shape);
      const gv = randomValues(40 + k, size(outShape));
      const run = () =>
        tf
          .grad((x: tf.Tensor) => tf.sum(tf.mul(gather(x), tf.tensor(gv, outShape))))(tf.tensor(xv, shape))
          .dataSync();
      const wasm = await onBackend('wasm', run);
      const cpu = await onBackend('cpu', run);
      // Float64 finite differences of the same gather, evaluated on host values.
      const hostGather = (v: Float64Array): Float64Array => {
        const out = new Float64Array(size(outShape));
        const [d0, d1, d2] = shape;
        let o = 0;
        if (gc.batchDims === 1) {
          const per = gc.idxShape[1];
          for (let b = 0; b < d0; b++) for (let j = 0; j < per; j++) for (let c = 0; c < d2; c++) out[o++] = v[(b * d1 + gc.indices[b * per + j]) * d2 + c];
        } else if (gc.axis === 0) {
          for (const i of gc.indices) for (let r = 0; r < d1 * d2; r++) out[o++] = v[i * d1 * d2 + r];
        } else if (gc.axis === 1) {
          for (let a = 0; a < d0; a++) for (const i of gc.indices) for (let c = 0; c < d2; c++) out[o++] = v[(a * d1 + i) * d2 + c];
        } else {
          for (let a = 0; a < d0 * d1; a++) for (const i of gc.indices) out[o++] = v[a * d2 + i];
        }
        return out;
      };
      const fd = finiteDifferences(Float64Array.from(xv), Float64Array.from(gv), hostGather);
      assert.ok(relError(wasm, cpu) <= REL_TOL_VS_CPU, `case ${k} vs cpu`);
      assert.ok(relError(wasm, fd) <= REL_TOL_VS_FD, `case ${k} vs finite differences`);
    }
  });

  test("gather with batchDims 1 and 2 (wasm's own reads past the indices): exact values, all dtypes", async () => {
    // out[b, o, j, :] = x[b, o, indices[b, j], :] with x = 0, 1, 2, ... (cast for int32 and bool).
    const cases = [
      { xShape: [4, 5, 3], indices: [0, 1, 1, 4, 4, 4, 2, 3], idxShape: [4, 2], axis: 1, batchDims: 1 },
      { xShape: [2, 3, 4, 2], indices: [3, 0, 1, 1, 2, 0], idxShape: [2, 3], axis: 2, batchDims: 1 },
      { xShape: [2, 3, 4, 2], indices: [3, 0, 1, 1, 2, 0, 0, 0, 1, 2, 3, 3], idxShape: [2, 3, 2], axis: 2, batchDims: 2 },
      // 64 batches of 1 index: wasm's own reads 4032 int32 past a 64-element buffer.
      { xShape: [64, 5, 3], indices: Array.from({ length: 64 }, (_, i) => i % 5), idxShape: [64, 1], axis: 1, batchDims: 1 },
    ];
    for (const c of cases) {
      const bd = c.batchDims;
      const batch = size(c.xShape.slice(0, bd));
      const outer = size(c.xShape.slice(bd, c.axis));
      const dim = c.xShape[c.axis];
      const slice = size(c.xShape.slice(c.axis + 1));
      const per = c.indices.length / batch;
      const expected: number[] = [];
      for (let b = 0; b < batch; b++) {
        for (let o = 0; o < outer; o++) {
          for (let j = 0; j < per; j++) {
            for (let s = 0; s < slice; s++) expected.push(((b * outer + o) * dim + c.indices[b * per + j]) * slice + s);
          }
        }
      }
      const outShape = [...c.xShape.slice(0, c.axis), ...c.idxShape.slice(bd), ...c.xShape.slice(c.axis + 1)];
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const got = await onBackend('wasm', () => {
          const x = tf.range(0, size(c.xShape), 1, 'int32').reshape(c.xShape);
          const g = tf.gather(dtype === 'bool' ? tf.notEqual(tf.mod(x, 3), 0) : tf.cast(x, dtype), tf.tensor(c.indices, c.idxShape, 'int32'), c.axis, bd);
          return { shape: g.shape, dtype: g.dtype, values: Array.from(g.dataSync()) };
        });
        const want = dtype === 'bool' ? expected.map((v) => (v % 3 !== 0 ? 1 : 0)) : expected;
        assert.deepEqual(got, { shape: outShape, dtype, values: want }, `x [${c.xShape}], indices [${c.idxShape}], ${dtype}`);
      }
    }
    await assert.rejects(
      onBackend('wasm', () => tf.gather(tf.zeros([2, 3]), tf.tensor([[0], [3]], [2, 1], 'int32'), 1, 1)),
      /index value 3 is not in \[0, 2\]/,
    );
  });

  test('unsortedSegmentSum: float32 and int32, ids out of range dropped, multi-dim ids', async () => {
    const xv = randomValues(51, 6 * 4);
    const ids = [2, 0, 2, -1, 5, 1];
    const expected = new Float64Array(3 * 4);
    ids.forEach((s, i) => {
      if (s >= 0 && s < 3) for (let j = 0; j < 4; j++) expected[s * 4 + j] += xv[i * 4 + j];
    });
    const wasm = await onBackend('wasm', () => tf.unsortedSegmentSum(tf.tensor2d(xv, [6, 4]), tf.tensor1d(ids, 'int32'), 3).dataSync());
    const cpu = await onBackend('cpu', () => tf.unsortedSegmentSum(tf.tensor2d(xv, [6, 4]), tf.tensor1d(ids, 'int32'), 3).dataSync());
    assert.ok(relError(wasm, expected) <= 1e-6);
    assert.ok(relError(wasm, cpu) <= 1e-6);
    const intOut = await onBackend('wasm', () => {
      const r = tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 2);
      return { dtype: r.dtype, values: Array.from(r.dataSync()) };
    });
    assert.deepEqual(intOut, { dtype: 'int32', values: [5, 6, 4, 6] });
    // ids of shape [2, 3] over x [2, 3, 2]: a prefix of x's shape.
    const multi = await onBackend('wasm', () =>
      Array.from(
        tf
          .unsortedSegmentSum(
            tf.tensor3d([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6], [2, 3, 2]),
            tf.tensor2d([0, 1, 0, 1, 1, 0], [2, 3], 'int32') as unknown as tf.Tensor1D,
            2,
          )
          .dataSync(),
      ),
    );
    assert.deepEqual(multi, [1 + 3 + 6, 1 + 3 + 6, 2 + 4 + 5, 2 + 4 + 5]);
  });

  test("one buffer as XNNPACK's right operand with two shapes: both products equal cpu (no stale packed weights)", async () => {
    // wasm caches XNNPACK's packed-weights operator by the right operand's id only; a reshape
    // shares the id, so without batch-matmul.ts's guard the second product reuses the [48, 64]
    // packing for a [64, 48] operand: wrong numbers and writes past the output.
    const run = () => {
      const b = tf.tensor1d(Array.from({ length: 48 * 64 }, (_, i) => Math.sin(i)));
      const a1 = tf.tensor2d(
        Array.from({ length: 16 * 48 }, (_, i) => Math.cos(i)),
        [16, 48],
      );
      const a2 = tf.tensor2d(
        Array.from({ length: 16 * 64 }, (_, i) => Math.cos(i * 0.5)),
        [16, 64],
      );
      const r1 = tf.matMul(a1, tf.reshape(b, [48, 64])).dataSync();
      const r2 = tf.matMul(a2, tf.reshape(b, [64, 48])).dataSync();
      const r3 = tf.matMul(a1, tf.reshape(b, [48, 64])).dataSync();
      return [r1, r2, r3];
    };
    const wasm = await onBackend('wasm', run);
    const cpu = await onBackend('cpu', run);
    for (let i = 0; i < 3; i++) assert.ok(relError(wasm[i], cpu[i]) <= REL_TOL_VS_CPU, `product ${i + 1}: ${relError(wasm[i], cpu[i])}`);
  });

  test('matMul with every transpose / batch combination: wasm = cpu, gradients = finite differences', async () => {
    type MatCase = [number[], number[], boolean, boolean];
    const cases: MatCase[] = [
      [[40, 70], [70, 50], false, false], // stock XNNPACK path
      [[70, 40], [70, 50], true, false],
      [[40, 70], [50, 70], false, true],
      [[70, 40], [50, 70], true, true],
      [[3, 40, 70], [70, 50], false, false], // batch folded into rows
      [[3, 40, 70], [50, 70], false, true],
      [[3, 70, 40], [70, 50], true, false], // one GEMM per batch
      [[3, 40, 70], [3, 70, 50], false, false],
      [[3, 70, 40], [3, 50, 70], true, true],
      [[40, 70], [3, 70, 50], false, false], // left operand broadcast
      [[2, 3, 40, 70], [2, 3, 50, 70], false, true],
      [[1, 300, 70], [1, 50, 70], false, true],
      [[5, 4], [6, 5], true, true], // tiny: stock scalar loop
    ];
    for (const [i, [aShape, bShape, tA, tB]] of cases.entries()) {
      const av = randomValues(60 + i, size(aShape));
      const bv = randomValues(80 + i, size(bShape));
      const run = () => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), tA, tB).dataSync();
      const wasm = await onBackend('wasm', run);
      const cpu = await onBackend('cpu', run);
      assert.ok(relError(wasm, cpu) <= REL_TOL_VS_CPU, `case ${i} forward: ${relError(wasm, cpu)}`);
    }
    // Gradients (which are transposed products) of a generator-like layer, against float64 differences.
    const [m, k, n] = [7, 33, 400];
    const hv = randomValues(91, m * k);
    const wv = randomValues(92, k * n);
    const gv = randomValues(93, m * n);
    const [dh, dw] = await onBackend('wasm', () =>
      tf
        .grads((h: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(h, w), tf.tensor2d(gv, [m, n]))))([tf.tensor2d(hv, [m, k]), tf.tensor2d(wv, [k, n])])
        .map((t) => t.dataSync()),
    );
    const hostMatMul = (h: Float64Array, w: Float64Array) => {
      const out = new Float64Array(m * n);
      for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) for (let c = 0; c < n; c++) out[i * n + c] += h[i * k + j] * w[j * n + c];
      return out;
    };
    const h64 = Float64Array.from(hv);
    const w64 = Float64Array.from(wv);
    const g64 = Float64Array.from(gv);
    assert.ok(
      relError(
        dh,
        finiteDifferences(h64, g64, (v) => hostMatMul(v, w64)),
      ) <= REL_TOL_VS_FD,
    );
    // dW has k*n entries; the differences of a random subset of 300 suffice.
    const rng = makeRng(94);
    const picks = Array.from({ length: 300 }, () => Math.floor(rng() * k * n));
    const dwFd = picks.map((p) => {
      // L(W) = sum_i,c G[i,c] (H W)[i,c] is linear in W[p]: its difference quotient is sum_i G[i,c] H[i,j].
      const j = Math.floor(p / n);
      const c = p % n;
      let s = 0;
      for (let i = 0; i < m; i++) s += g64[i * n + c] * h64[i * k + j];
      return s;
    });
    assert.ok(
      relError(
        picks.map((p) => dw[p]),
        dwFd,
      ) <= REL_TOL_VS_FD,
    );
  });

  test('slice and split copy exactly (any rank and dtype) and their gradients match cpu', async () => {
    const shape = [3, 4, 5, 2, 3];
    const values = Array.from({ length: size(shape) }, (_, i) => i);
    const slices: [number[], number[]][] = [
      [
        [0, 0, 0, 0, 0],
        [3, 4, 5, 2, 3],
      ],
      [
        [1, 0, 0, 0, 0],
        [2, 4, 5, 2, 3],
      ],
      [
        [0, 1, 2, 0, 0],
        [3, 2, 3, 2, 3],
      ],
      [
        [0, 0, 0, 1, 1],
        [3, 4, 5, 1, 2],
      ],
      [
        [2, 3, 4, 1, 2],
        [1, 1, 1, 1, 1],
      ],
      [
        [1, 1, 1, 0, 0],
        [-1, -1, -1, -1, -1],
      ],
    ];
    for (const dtype of ['float32', 'int32'] as const) {
      for (const [begin, sz] of slices) {
        const got = await onBackend('wasm', () => tf.slice(tf.tensor(values, shape, dtype), begin, sz).arraySync());
        const want = await onBackend('cpu', () => tf.slice(tf.tensor(values, shape, dtype), begin, sz).arraySync());
        assert.deepEqual(got, want, `${dtype} slice ${begin} ${sz}`);
      }
    }
    const bools = await onBackend('wasm', () => Array.from(tf.slice(tf.tensor2d([true, false, false, true], [2, 2], 'bool'), [1, 0], [1, 2]).dataSync()));
    assert.deepEqual(bools, [0, 1]);
    const splits = await onBackend('wasm', () => tf.split(tf.tensor(values, shape), [1, 3, 1], 2).map((t) => t.arraySync()));
    const splitsCpu = await onBackend('cpu', () => tf.split(tf.tensor(values, shape), [1, 3, 1], 2).map((t) => t.arraySync()));
    assert.deepEqual(splits, splitsCpu);
    // Gradients of pad (a slice) and concat (a split), the two places training uses them.
    const xv = randomValues(97, 2 * 6 * 5 * 3);
    const run = () =>
      tf
        .grad((x: tf.Tensor) => {
          const padded = tf.pad(x, [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]);
          const joined = tf.concat([padded, tf.square(padded)], 3);
          return tf.sum(tf.mul(joined, tf.tensor(randomValues(98, 2 * 8 * 7 * 6), [2, 8, 7, 6])));
        })(tf.tensor4d(xv, [2, 6, 5, 3]))
        .dataSync();
    const wasm = await onBackend('wasm', run);
    const cpu = await onBackend('cpu', run);
    assert.ok(relError(wasm, cpu) <= REL_TOL_VS_CPU);
    // The same function on host values; quadratic in x, so central differences are exact.
    const g98 = Float64Array.from(randomValues(98, 2 * 8 * 7 * 6));
    const hostPadConcat = (v: Float64Array): Float64Array => {
      const out = new Float64Array(2 * 8 * 7 * 6);
      for (let n = 0; n < 2; n++) {
        for (let y = 0; y < 6; y++) {
          for (let x = 0; x < 5; x++) {
            for (let c = 0; c < 3; c++) {
              const val = v[((n * 6 + y) * 5 + x) * 3 + c];
              const o = ((n * 8 + y + 1) * 7 + x + 1) * 6;
              out[o + c] = val;
              out[o + 3 + c] = val * val;
            }
          }
        }
      }
      return out;
    };
    assert.ok(relError(wasm, finiteDifferences(Float64Array.from(xv), g98, hostPadConcat)) <= REL_TOL_VS_FD);
  });

  test('sum and mean over any axes equal cpu; identity shares the buffer', async () => {
    const shape = [3, 4, 5, 6];
    const xv = randomValues(71, size(shape));
    const axesCases: number[][] = [[0], [1], [2], [3], [0, 1, 2], [1, 2], [0, 2], [1, 3], [0, 3], [0, 1, 2, 3], [2, 3]];
    for (const axes of axesCases) {
      for (const keepDims of [false, true]) {
        const run = () => {
          const x = tf.tensor(xv, shape);
          const s = tf.sum(x, axes, keepDims);
          const m = tf.mean(x, axes, keepDims);
          return { shapes: [s.shape, m.shape], s: s.dataSync(), m: m.dataSync() };
        };
        const wasm = await onBackend('wasm', run);
        const cpu = await onBackend('cpu', run);
        assert.deepEqual(wasm.shapes, cpu.shapes, `axes ${axes}`);
        assert.ok(relError(wasm.s, cpu.s) <= REL_TOL_VS_CPU, `sum axes ${axes}: ${relError(wasm.s, cpu.s)}`);
        assert.ok(relError(wasm.m, cpu.m) <= REL_TOL_VS_CPU, `mean axes ${axes}`);
      }
    }
    // The gradient of a broadcast add is a Sum over the leading axes: against finite differences.
    const bv = randomValues(72, 6);
    const gv = randomValues(73, size(shape));
    const db = await onBackend('wasm', () =>
      tf
        .grad((b: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.tensor(xv, shape), b), tf.tensor(gv, shape))))(tf.tensor1d(bv))
        .dataSync(),
    );
    const hostAdd = (b: Float64Array) => Float64Array.from(xv, (x, i) => x + b[i % 6]);
    assert.ok(relError(db, finiteDifferences(Float64Array.from(bv), Float64Array.from(gv), hostAdd)) <= REL_TOL_VS_FD);
    const ints = await onBackend('wasm', () => Array.from(tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 0).dataSync()));
    assert.deepEqual(ints, [9, 12]);
    await onBackend('wasm', () => {
      const buffers = tf.backend().numDataIds();
      const x = tf.tensor1d([1, 2, 3]);
      const y = tf.clone(x);
      assert.equal(tf.backend().numDataIds(), buffers + 1);
      x.dispose();
      assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
    });
  });

  test('cast to the same dtype shares the buffer; casts between dtypes (to bool: x != 0) equal cpu', async () => {
    await onBackend('wasm', () => {
      const buffers = tf.backend().numDataIds();
      const x = tf.tensor1d([1.5, -2, 0]);
      const y = tf.cast(x, 'float32');
      assert.equal(tf.backend().numDataIds(), buffers + 1);
      x.dispose();
      assert.deepEqual(Array.from(y.dataSync()), [1.5, -2, 0]);
      y.dispose();
    });
    const values = [1.5, -2.7, 0, 3, -0.4, 255, NaN];
    for (const [from, to] of [
      ['float32', 'int32'],
      ['float32', 'bool'],
      ['int32', 'float32'],
      ['bool', 'float32'],
      ['int32', 'int32'],
      ['bool', 'bool'],
    ] as const) {
      const run = () => {
        const src = from === 'bool' ? tf.notEqual(tf.tensor1d(values), 0) : tf.cast(tf.tensor1d(values), from);
        const out = tf.cast(src, to);
        return { dtype: out.dtype, v: Array.from(out.dataSync()) };
      };
      const wasm = await onBackend('wasm', run);
      const cpu = await onBackend('cpu', run);
      assert.deepEqual(wasm, cpu, `${from} -> ${to}`);
    }
  });

  function netGrads(seed: number): { loss: number; grads: Record<string, Float32Array> } {
    const host = makeParams(seed);
    const batch = makeBatch(seed + 1);
    const vars: Record<string, tf.Variable> = {};
    for (const [name, t] of Object.entries(host)) vars[name] = tf.variable(tf.tensor(t.values, t.shape), true, `${name}_${tf.getBackend()}_${seed}`);
    const images = tf.tensor4d(batch.images.values, batch.images.shape as [number, number, number, number]);
    const { value, grads } = tf.variableGrads(() => detectionLoss(forward(vars, images), batch.labels, batch.boxTargets), Object.values(vars));
    const out: Record<string, Float32Array> = {};
    for (const [name, v] of Object.entries(vars)) out[name] = grads[v.name].dataSync() as Float32Array;
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads), ...Object.values(vars)]);
    return { loss, grads: out };
  }

  test('RetinaNet-like net with generated conv weights: every gradient matches cpu', async () => {
    const wasm = await onBackend('wasm', () => netGrads(7));
    const cpu = await onBackend('cpu', () => netGrads(7));
    assert.equal(anchorsPerImage(), 43 * NET.anchorCodes.length);
    assert.ok(Math.abs(wasm.loss - cpu.loss) <= 1e-5 * Math.abs(cpu.loss), `loss ${wasm.loss} vs ${cpu.loss}`);
    for (const name of Object.keys(cpu.grads)) {
      const scale = Math.max(...Array.from(cpu.grads[name], Math.abs));
      assert.ok(scale > 0, `gradient of ${name} is zero: that path was not exercised`);
      const err = relError(wasm.grads[name], cpu.grads[name]);
      assert.ok(err <= REL_TOL_NET, `${name}: relative error ${err}`);
    }
  });

  test('training steps on wasm: loss trajectory equals cpu and memory stays flat', async () => {
    const steps = 4;
    const train = () => {
      const host = makeParams(3);
      const batch = makeBatch(4);
      const vars: Record<string, tf.Variable> = {};
      for (const [name, t] of Object.entries(host)) vars[name] = tf.variable(tf.tensor(t.values, t.shape), true, `${name}_train_${tf.getBackend()}`);
      const images = tf.keep(tf.tensor4d(batch.images.values, batch.images.shape as [number, number, number, number]));
      const opt = tf.train.momentum(0.01, 0.9);
      const losses: number[] = [];
      const tensors: number[] = [];
      const dataIds: number[] = [];
      for (let s = 0; s < steps; s++) {
        const cost = opt.minimize(() => detectionLoss(forward(vars, images), batch.labels, batch.boxTargets), true, Object.values(vars));
        losses.push((cost as tf.Scalar).dataSync()[0]);
        (cost as tf.Scalar).dispose();
        tensors.push(tf.memory().numTensors);
        dataIds.push(tf.backend().numDataIds());
      }
      opt.dispose();
      tf.dispose([images, ...Object.values(vars)]);
      return { losses, tensors, dataIds };
    };
    const wasm = await onBackend('wasm', train);
    const cpu = await onBackend('cpu', train);
    for (let s = 0; s < steps; s++) {
      const err = Math.abs(wasm.losses[s] - cpu.losses[s]) / Math.abs(cpu.losses[s]);
      assert.ok(err <= REL_TOL_NET, `step ${s}: ${wasm.losses} vs ${cpu.losses} wasm ${wasm.losses[s]} vs cpu ${cpu.losses[s]}`);
    }
    assert.ok(wasm.losses[steps - 1] < wasm.losses[0], `loss did not decrease: ${wasm.losses}`);
    // Step 0 creates the momentum accumulators; afterwards nothing may accumulate, neither engine
    // tensors nor backend buffers (the kernels' intermediates live outside the engine).
    assert.deepEqual(wasm.tensors.slice(1), Array(steps - 1).fill(wasm.tensors[1]), `numTensors ${wasm.tensors}`);
    assert.deepEqual(wasm.dataIds.slice(1), Array(steps - 1).fill(wasm.dataIds[1]), `backend buffers ${wasm.dataIds}`);
  });

  test('an allocation beyond the heap cap throws a recognisable error and leaves the backend usable', async () => {
    await onBackend('wasm', () => {
      const heapBefore = wasmHeapBytes();
      const buffers = tf.backend().numDataIds();
      // 6 GiB: without the guard, malloc's 32-bit size wraps to 2 GiB and the tensor aliases it.
      let caught: unknown;
      try {
        tf.zeros([1536 * 1024 * 1024]);
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof RangeError && /offset is out of bounds/.test(caught.message), String(caught));
      const explained = explainWasmOom(caught, { what: 'training step', batchSize: 2 });
      assert.ok(explained instanceof UserError);
      assert.equal(wasmHeapBytes(), heapBefore, 'nothing was allocated');
      assert.equal(tf.backend().numDataIds(), buffers);
      assert.deepEqual(Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync()), [2, 3]);
    });
  });

  test('wasm heap size is readable', () => {
    const bytes = wasmHeapBytes();
    assert.ok(bytes !== undefined && bytes >= 16 * 2 ** 20 && bytes <= 4294901760, `heap ${bytes}`);
  });
});

describe('explainWasmOom', () => {
  test('turns the heap-exhaustion errors into a UserError naming what to reduce', () => {
    const oom = new RangeError('offset is out of bounds');
    const e = explainWasmOom(oom, { what: 'training step', batchSize: 8, imageSizePx: 512 });
    assert.ok(e instanceof UserError);
    assert.match(e.message, /wasm backend ran out of memory during training step at batch size 8, image size 512 px/);
    assert.match(e.message, /of at most 4\.00 GiB/);
    assert.match(e.hint ?? '', /reduce the batch size \(now 8, e\.g\. to 4\)/);
    assert.match(e.hint ?? '', /reduce the image size \(now 512 px, e\.g\. to 352 px\)/);
    assert.match(e.hint ?? '', /restart the process/);
    for (const msg of ['memory access out of bounds', 'Aborted(). Build with -sASSERTIONS for more info.']) {
      const runtime = new WebAssembly.RuntimeError(msg);
      assert.ok(isWasmOutOfMemory(runtime), msg);
      assert.ok(explainWasmOom(runtime, { batchSize: 1 }) instanceof UserError);
    }
  });

  test('passes other errors through unchanged', () => {
    const other = new RangeError('Invalid array length');
    assert.equal(explainWasmOom(other, { batchSize: 4 }), other);
    const plain = new Error('shape mismatch');
    assert.equal(explainWasmOom(plain), plain);
    assert.equal(isWasmOutOfMemory('offset is out of bounds'), false);
  });
});
