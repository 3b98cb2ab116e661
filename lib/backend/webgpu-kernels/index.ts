/**
 * Fixes for tfjs-backend-webgpu 4.22 kernels the project's training needs, registered when the
 * webgpu backend is chosen (lib/backend/webgpu.ts). Each has a test in test/backend/webgpu-kernels.
 *
 * - AddN: one shader binds every input as a storage buffer; with more inputs than
 *   maxStorageBuffersPerShaderStage - 1 (16 on the software adapter, 8 by WebGPU's default, 31 on
 *   Metal) the pipeline is invalid, Dawn reports a validation error and the output buffer keeps
 *   stale contents. The gradient-norm clipping sums ~50 squared norms with tf.addN, so the norm came
 *   out as whatever buffer was reused (the positives count, 59). Fixed by summing in chunks that fit
 *   the limit (as the stock Concat kernel does).
 */
import * as tf from '@tensorflow/tfjs';

type KernelFunc = tf.KernelConfig['kernelFunc'];

interface WebGPUBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: object): boolean;
}

let stockAddN: KernelFunc | undefined;

/** AddN summing at most `maxStorageBuffersPerShaderStage - 1` inputs per shader. */
const addNChunked: KernelFunc = (args) => {
  const backend = args.backend as unknown as WebGPUBackendLike;
  const inputs = args.inputs as unknown as tf.TensorInfo[];
  const perShader = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
  const temps: tf.TensorInfo[] = [];
  let level = inputs;
  while (level.length > perShader) {
    const next: tf.TensorInfo[] = [];
    for (let i = 0; i < level.length; i += perShader) {
      const chunk = level.slice(i, i + perShader);
      if (chunk.length === 1) {
        next.push(chunk[0]);
        continue;
      }
      const sum = stockAddN!({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
      temps.push(sum);
      next.push(sum);
    }
    level = next;
  }
  const out = stockAddN!({ ...args, inputs: level as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
  for (const t of temps) backend.disposeData(t.dataId);
  return out;
};

const KERNELS: { name: string; kernelFunc: KernelFunc; keepStock: (f: KernelFunc) => void }[] = [
  { name: 'AddN', kernelFunc: addNChunked, keepStock: (f) => (stockAddN = f) },
];

/** Replace the stock webgpu kernels listed above; returns their names. Idempotent. */
export function registerWebGPUKernelFixes(): string[] {
  for (const { name, kernelFunc, keepStock } of KERNELS) {
    const existing = tf.getKernel(name, 'webgpu');
    if (existing?.kernelFunc === kernelFunc) continue;
    if (!existing) throw new Error(`webgpu kernel ${name} is missing; @tensorflow/tfjs-backend-webgpu did not load as expected`);
    keepStock(existing.kernelFunc);
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc, setupFunc: existing.setupFunc });
  }
  return KERNELS.map((k) => k.name);
}

/** Put the stock kernels back (tests: show that a fix is needed). */
export function unregisterWebGPUKernelFixes(): void {
  for (const { name, kernelFunc } of KERNELS) {
    const existing = tf.getKernel(name, 'webgpu');
    if (existing?.kernelFunc !== kernelFunc) continue;
    tf.unregisterKernel(name, 'webgpu');
    if (name === 'AddN' && stockAddN) tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: stockAddN });
  }
}
