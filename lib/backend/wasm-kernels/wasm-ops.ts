/**
 * Calling the wasm backend's own kernels from inside a kernel, without going through the engine.
 *
 * The project's training kernels are compositions of wasm kernels (XNNPACK convolutions and
 * matrix products) and copies within the wasm heap. Calling the kernels as `tf.*` ops inside a kernel would create
 * engine-tracked tensors that share data with the kernel's output; calling the registered kernel
 * functions directly returns plain `TensorInfo`s owned by the backend, which this module frees
 * with `disposeData` as soon as they are consumed (the same pattern tfjs-backend-wasm uses for
 * its composite kernels, e.g. BatchMatMul's internal reshapes).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type TensorInfo = tf.TensorInfo;
export type Shape = number[];

/** Runs the wasm backend's kernel `name` and returns its (single) output. */
export function runWasm(backend: BackendWasm, name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown> = {}): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
  const out = kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned several outputs`);
  return out;
}

/** Frees intermediate results (each `TensorInfo` created by `runWasm` holds one reference). */
export function release(backend: BackendWasm, ...infos: (TensorInfo | undefined)[]): void {
  for (const info of infos) if (info) backend.disposeData(info.dataId);
}

/** A view of another shape on the same data (no copy; the view holds its own reference). */
export function reshapeInfo(backend: BackendWasm, x: TensorInfo, shape: Shape): TensorInfo {
  return runWasm(backend, 'Reshape', { x }, { shape });
}

/** `a @ b` for 2-D views, through the rank-3 batch-1 untransposed BatchMatMul (XNNPACK's path). */
export function matMul2d(backend: BackendWasm, a: TensorInfo, b: TensorInfo): TensorInfo {
  const a3 = reshapeInfo(backend, a, [1, a.shape[0], a.shape[1]]);
  const b3 = reshapeInfo(backend, b, [1, b.shape[0], b.shape[1]]);
  const out = runWasm(backend, 'BatchMatMul', { a: a3, b: b3 }, { transposeA: false, transposeB: false });
  release(backend, a3, b3);
  const out2 = reshapeInfo(backend, out, [a.shape[0], b.shape[1]]);
  release(backend, out);
  return out2;
}

/**
 * A new (uninitialised) heap tensor. A failed allocation near the 4 GiB heap cap can come back as
 * address 0 instead of an exception; writing through it would corrupt the heap, so it is turned into
 * the RangeError that `explainWasmOom` (memory.ts) recognises.
 */
export function allocate(backend: BackendWasm, shape: Shape, dtype: tf.DataType, values?: tf.TypedArray): TensorInfo {
  const out = backend.makeOutput(shape, dtype, undefined, values);
  const bytes = tf.util.sizeFromShape(shape) * tf.util.bytesPerElement(dtype);
  if (bytes > 0 && backend.getMemoryOffset(out.dataId) === 0) {
    backend.disposeData(out.dataId);
    throw new RangeError(`offset is out of bounds: the wasm heap could not allocate ${bytes} more bytes`);
  }
  return out;
}

/** Allocates a float32 backend tensor holding `values` (not tracked by the engine). */
export function constantInfo(backend: BackendWasm, shape: Shape, values: Float32Array): TensorInfo {
  return allocate(backend, shape, 'float32', values);
}

/**
 * Rows [start, start + count) along axis 0 as a new tensor. A contiguous copy inside the heap:
 * wasm's own Slice kernel first copies the WHOLE input out of the heap (readSync), which costs
 * more than the slice itself for the large activations seen here.
 */
export function sliceAxis0(backend: BackendWasm, x: TensorInfo, start: number, count: number): TensorInfo {
  if (start === 0 && count === x.shape[0]) return reshapeInfo(backend, x, x.shape);
  const shape = x.shape.slice();
  shape[0] = count;
  const rowSize = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = allocate(backend, shape, x.dtype);
  const src = heapView(backend, x);
  heapView(backend, out).set(src.subarray(start * rowSize, (start + count) * rowSize));
  return out;
}

/**
 * A typed-array view of a tensor's data in the wasm heap. Valid only until the next allocation
 * (heap growth replaces the underlying ArrayBuffer), so take views after allocating outputs.
 */
export function heapView(backend: BackendWasm, info: TensorInfo): Float32Array | Int32Array | Uint8Array {
  return backend.typedArrayFromHeap(info) as Float32Array | Int32Array | Uint8Array;
}
