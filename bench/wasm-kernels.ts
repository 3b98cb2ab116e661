/**
 * Times the wasm backend's Conv2D forward pass and the project's Conv2D gradients
 * (lib/backend/wasm-kernels) against wasm's shipped kernels and the cpu backend, and the
 * transposed matrix products of a MetaAnchor weight generator's gradient.
 *
 *   npx tsx bench/wasm-kernels.ts [--quick] [--no-cpu]
 *
 * Prints one line per shape and kernel: the fastest of the timed runs in milliseconds (the machine
 * is shared; the minimum is the least disturbed) and GFLOP/s (2 * N * OH * OW * KH * KW * Ci * Co
 * flops for each of forward, filter gradient and input gradient). The cpu backend's filter
 * gradient takes ~40 s on the first shape; --no-cpu skips the cpu lines.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels, wasmHeapBytes } from '../lib/backend/wasm-kernels';

interface ConvShape {
  name: string;
  batch: number;
  heightPx: number;
  widthPx: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
}

const SHAPES: ConvShape[] = [
  { name: 'b4 40x40x64->64 3x3 s1', batch: 4, heightPx: 40, widthPx: 40, inChannels: 64, outChannels: 64, kernel: 3, stride: 1 },
  { name: 'b4 80x80x32->64 3x3 s2', batch: 4, heightPx: 80, widthPx: 80, inChannels: 32, outChannels: 64, kernel: 3, stride: 2 },
  { name: 'b4 80x80x64->64 3x3 s1', batch: 4, heightPx: 80, widthPx: 80, inChannels: 64, outChannels: 64, kernel: 3, stride: 1 },
  { name: 'b4 40x40x128->64 1x1 s1', batch: 4, heightPx: 40, widthPx: 40, inChannels: 128, outChannels: 64, kernel: 1, stride: 1 },
  { name: 'b4 40x40x64->90 3x3 s1 (head)', batch: 4, heightPx: 40, widthPx: 40, inChannels: 64, outChannels: 90, kernel: 3, stride: 1 },
  { name: 'b4 160x160x3->32 3x3 s2 (stem)', batch: 4, heightPx: 160, widthPx: 160, inChannels: 3, outChannels: 32, kernel: 3, stride: 2 },
];

function fastest(xs: number[]): number {
  return Math.min(...xs);
}

function timeIt(fn: () => tf.Tensor, runs: number): number {
  fn().dispose(); // warm-up: XNNPACK operator creation, heap growth
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const out = fn();
    out.dataSync();
    times.push(performance.now() - t0);
    out.dispose();
  }
  return fastest(times);
}

function data(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    a[i] = s / 2147483648 - 0.5;
  }
  return a;
}

function measure(shape: ConvShape, runs: number, label: string): Record<string, number> {
  const { batch, heightPx, widthPx, inChannels, outChannels, kernel, stride } = shape;
  const x = tf.tensor4d(data(batch * heightPx * widthPx * inChannels, 1), [batch, heightPx, widthPx, inChannels]);
  const w = tf.tensor4d(data(kernel * kernel * inChannels * outChannels, 2), [kernel, kernel, inChannels, outChannels]);
  const y = tf.conv2d(x, w, stride, 'same');
  const dy = tf.tensor(data(y.size, 3), y.shape);
  const flops = 2 * y.size * kernel * kernel * inChannels;
  const attrs = { strides: stride, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
  const res: Record<string, number> = {};
  res.forward = timeIt(() => tf.conv2d(x, w, stride, 'same'), runs);
  res.filterGrad = timeIt(
    () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
    runs,
  );
  res.inputGrad = timeIt(
    () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
    runs,
  );
  for (const [k, ms] of Object.entries(res)) {
    console.log(
      `${label.padEnd(12)} ${shape.name.padEnd(32)} ${k.padEnd(11)} ${ms.toFixed(1).padStart(8)} ms ${(flops / ms / 1e6).toFixed(1).padStart(6)} GFLOP/s`,
    );
  }
  tf.dispose([x, w, y, dy]);
  return res;
}

/** The generator's gradient products: dh = dtheta @ W2^T and dW2 = h^T @ dtheta (m = 128, A = 25). */
function measureGenerator(label: string, runs: number): void {
  const anchors = 25;
  const hidden = 128;
  const thetaSize = 9 * 256 * 80; // 3x3 conv, 256 channels, 80 classes
  const dtheta = tf.tensor2d(data(anchors * thetaSize, 5), [anchors, thetaSize]);
  const w2 = tf.tensor2d(data(hidden * thetaSize, 6), [hidden, thetaSize]);
  const h = tf.tensor2d(data(anchors * hidden, 7), [anchors, hidden]);
  const flops = 2 * anchors * hidden * thetaSize;
  const rows: [string, () => tf.Tensor][] = [
    ['dtheta@W2^T', () => tf.matMul(dtheta, w2, false, true)],
    ['h^T@dtheta', () => tf.matMul(h, dtheta, true, false)],
  ];
  for (const [name, fn] of rows) {
    const ms = timeIt(fn, runs);
    console.log(
      `${label.padEnd(12)} ${'generator 25x128x184320'.padEnd(32)} ${name.padEnd(11)} ${ms.toFixed(1).padStart(8)} ms ${(flops / ms / 1e6).toFixed(1).padStart(6)} GFLOP/s`,
    );
  }
  tf.dispose([dtheta, w2, h]);
}

async function main(): Promise<void> {
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${os.cpus().length} cores`,
  );
  const quick = process.argv.includes('--quick');
  const withCpu = !process.argv.includes('--no-cpu');
  const runs = quick ? 2 : 5;
  const shapes = quick ? SHAPES.slice(0, 2) : SHAPES;
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  await tf.ready();
  // wasm's shipped input gradient, timed before the project's kernel replaces it (slow: 1 run).
  for (const shape of shapes.slice(0, 2)) {
    const { batch, heightPx, widthPx, inChannels, outChannels, kernel, stride } = shape;
    const w = tf.zeros([kernel, kernel, inChannels, outChannels]);
    const outH = Math.ceil(heightPx / stride);
    const outW = Math.ceil(widthPx / stride);
    const dy = tf.tensor(data(batch * outH * outW * outChannels, 3), [batch, outH, outW, outChannels]);
    const flops = 2 * dy.size * kernel * kernel * inChannels;
    const ms = timeIt(
      () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropInput',
            { dy, filter: w },
            { strides: stride, pad: 'same', dataFormat: 'NHWC', inputShape: [batch, heightPx, widthPx, inChannels] },
          ) as tf.Tensor,
      1,
    );
    console.log(
      `${'wasm-stock'.padEnd(12)} ${shape.name.padEnd(32)} ${'inputGrad'.padEnd(11)} ${ms.toFixed(1).padStart(8)} ms ${(flops / ms / 1e6).toFixed(1).padStart(6)} GFLOP/s`,
    );
    tf.dispose([w, dy]);
  }
  measureGenerator('wasm-stock', 1);
  registerWasmTrainingKernels();
  for (const shape of shapes) measure(shape, runs, 'wasm');
  measureGenerator('wasm', runs);
  console.log(`wasm heap after the runs: ${((wasmHeapBytes() ?? 0) / 2 ** 20).toFixed(0)} MiB`);
  if (withCpu) {
    await tf.setBackend('cpu');
    for (const shape of shapes.slice(0, 2)) measure(shape, 1, 'cpu');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
