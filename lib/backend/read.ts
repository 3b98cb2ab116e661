/**
 * Reading tensors on every backend. The webgpu backend cannot read synchronously in Node
 * (tfjs-backend-webgpu's readSync goes through an OffscreenCanvas), but it keeps a CPU copy of
 * whatever was read asynchronously. So code that needs values synchronously first awaits
 * `prefetch(...)`, after which `dataSync()` returns the cached copy on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { takeWebGPUErrors } from './webgpu';

/** Throw when the webgpu device reported errors: the values read may be stale buffer contents. */
export function checkDeviceErrors(): void {
  const errors = takeWebGPUErrors();
  if (errors.length) {
    throw new Error(`the webgpu device reported ${errors.length} error(s), results are invalid; first: ${errors[0]}`);
  }
}

/** True when `dataSync()` works on a tensor not read before (cpu, wasm, tensorflow). */
export function canReadSync(): boolean {
  return tf.getBackend() !== 'webgpu';
}

/** Read the tensors asynchronously (a no-op cost on backends that read synchronously anyway). */
export async function prefetch(tensors: readonly tf.Tensor[]): Promise<void> {
  if (canReadSync()) return;
  await Promise.all(tensors.map((t) => t.data()));
}

/** The first value of each scalar (or tensor), read asynchronously. */
export async function scalars(tensors: readonly tf.Tensor[]): Promise<number[]> {
  const data = await Promise.all(tensors.map((t) => t.data()));
  checkDeviceErrors();
  return data.map((d) => d[0]);
}
