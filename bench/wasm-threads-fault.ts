/**
 * The known fault of the opt-in threaded wasm backend (BENCHMARKS.md, "wasm threads"), reduced to
 * a few ops: one XNNPACK matMul; the gradient of an axis-2 gather, on wasm and then on cpu; then the
 * gradient of a batchDims-1 gather on wasm, whose forward gather dies inside wasm's own GatherV2 with
 * `RuntimeError: memory access out of bounds`. Every step passes on the stock single-threaded build,
 * without the matMul (SKIP_MATMUL=1), or without the backend switch. Prints one line per step; the
 * exit code is 0 either way (it reports, it does not test).
 *
 *   npx tsx bench/wasm-threads-fault.ts                              # threaded build, 2 threads: fails
 *   SKIP_MATMUL=1 npx tsx bench/wasm-threads-fault.ts                # passes
 *   METAANCHOR_WASM_THREADS=1 npx tsx bench/wasm-threads-fault.ts    # stock build: passes
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from '../lib/backend/wasm-kernels';
import { requestedWasmThreads, useThreadedWasm, wasmThreadsInUse } from '../lib/backend/wasm-threads';
import { makeRng, normal } from '../lib/util/seed';

function randomValues(seed: number, n: number): Float32Array {
  const rng = makeRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = normal(rng);
  return out;
}

async function main(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('@tensorflow/tfjs-backend-wasm');
  // Default 2 threads; METAANCHOR_WASM_THREADS=1 runs the stock single-threaded build.
  useThreadedWasm(process.env.METAANCHOR_WASM_THREADS?.trim() === '1' ? 1 : requestedWasmThreads() ?? 2);
  await tf.setBackend('wasm');
  registerWasmTrainingKernels();
  const shape = [4, 5, 3];
  const x = randomValues(31, 60);
  // Each gradient runs on wasm and then on cpu, as the kernel tests compare them; the backend switch
  // is part of the reproduction.
  const gatherGrad = (axis: number, batchDims: number, indices: number[], idxShape: number[], outShape: number[], seed: number) => async () => {
    const weights = randomValues(seed, outShape.reduce((a, b) => a * b, 1));
    const run = () =>
      tf.tidy(() => {
        const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor(indices, idxShape, 'int32'), axis, batchDims), tf.tensor(weights, outShape)));
        return tf.grad(f)(tf.tensor(x, shape)).dataSync();
      });
    run();
    await tf.setBackend('cpu');
    run();
    await tf.setBackend('wasm');
  };
  const matMul = () => tf.tidy(() => tf.matMul(tf.tensor2d(randomValues(5, 540), [27, 20]), tf.tensor2d(randomValues(6, 80), [20, 4])).dataSync());
  const steps: [string, () => unknown][] = [
    ['matMul [27,20] x [20,4]', matMul],
    ['gradient of gather axis 2', gatherGrad(2, 0, [2, 0, 2], [3], [4, 5, 3], 42)],
    ['gradient of gather axis 1, batchDims 1', gatherGrad(1, 1, [0, 1, 1, 4, 4, 4, 2, 3], [4, 2], [4, 2, 3], 43)],
  ];
  if (process.env.SKIP_MATMUL) steps.shift();
  console.log(`wasm, XNNPACK threads: ${wasmThreadsInUse()}`);
  for (const [name, run] of steps) {
    try {
      await run();
      console.log(`ok    ${name}`);
    } catch (e) {
      console.log(`FAIL  ${name}: ${String(e).split('\n')[0]}`);
      return;
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
