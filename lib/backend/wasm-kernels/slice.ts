/**
 * Slice, SplitV and Identity for the wasm backend without needless copies.
 *
 * wasm's own Slice starts with `readSync`, a copy of the WHOLE input out of the heap, and its SplitV
 * slices once per output, so splitting a tensor into k parts copies it k + 1 times. Both sit on the
 * training path: the gradient of `pad` (used before stride-2 convs and max-pools) is a slice, and the
 * gradient of `concat` (FPN levels, per-image outputs) is a split. These versions copy each output
 * straight from the input's heap memory, in runs as long as the slice allows. Identity, and Cast to
 * the input's own dtype, share the input's buffer instead of copying it; Cast to bool is x != 0.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { allocate, heapView, TensorInfo } from './wasm-ops';

let stockSlice: tf.KernelFunc | undefined;
let stockIdentity: tf.KernelFunc | undefined;
let stockSplitV: tf.KernelFunc | undefined;

export function setStockSlice(kernelFunc: tf.KernelFunc): void {
  stockSlice = kernelFunc;
}

export function setStockIdentity(kernelFunc: tf.KernelFunc): void {
  stockIdentity = kernelFunc;
}

/**
 * Identity (tf.clone, and cast to the same dtype, which tfjs-core's Multiply gradient does to both
 * inputs of every product) sharing the input's buffer, as the cpu backend's Identity does; wasm's
 * own copies the data. Tensors are immutable, and Reshape already shares buffers the same way.
 */
export function identityWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm }): TensorInfo {
  const { inputs, backend } = args;
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    if (!stockIdentity) throw new Error('Identity on wasm: the stock kernel was not recorded at registration');
    return stockIdentity(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

let stockCast: tf.KernelFunc | undefined;

export function setStockCast(kernelFunc: tf.KernelFunc): void {
  stockCast = kernelFunc;
}

/**
 * Cast for the wasm backend:
 * - to the input's own dtype it shares the buffer, as the cpu backend's Cast does (tfjs-core's
 *   Multiply gradient casts both of its inputs to float32 on every product);
 * - to bool it is x != 0 (NaN included), as on cpu; wasm's own converts the bytes (-2.7 -> 254,
 *   0.4 -> 0);
 * - other casts are wasm's.
 */
export function castWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: TensorInfo };
  const dtype = (attrs as unknown as { dtype: tf.DataType }).dtype;
  const numeric = x.dtype !== 'string' && x.dtype !== 'complex64';
  if (numeric && x.dtype === dtype) {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  if (numeric && dtype === 'bool') {
    const out = allocate(backend, x.shape, 'bool');
    const src = heapView(backend, x);
    const dst = heapView(backend, out);
    for (let i = 0; i < src.length; i++) dst[i] = src[i] !== 0 ? 1 : 0;
    return out;
  }
  if (!stockCast) throw new Error('Cast on wasm: the stock kernel was not recorded at registration');
  return stockCast(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
}

export function setStockSplitV(kernelFunc: tf.KernelFunc): void {
  stockSplitV = kernelFunc;
}

/** x[begin : begin + size] (per axis) into a new tensor; numeric dtypes only. */
function sliceFromHeap(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = allocate(backend, size, x.dtype);
  const total = tf.util.sizeFromShape(size);
  if (total === 0) return out;
  const src = heapView(backend, x);
  const dst = heapView(backend, out);
  const rank = x.shape.length;
  const strides = new Array<number>(rank);
  for (let axis = rank - 1, s = 1; axis >= 0; axis--) {
    strides[axis] = s;
    s *= x.shape[axis];
  }
  // Merge trailing axes that are taken whole: each copied run then spans them entirely.
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === x.shape[k]) k--;
  const run = size[k] * strides[k];
  const runStart = begin[k] * strides[k];
  const outer = size.slice(0, k);
  const count = tf.util.sizeFromShape(outer);
  const index = new Array(k).fill(0);
  for (let r = 0, d = 0; r < count; r++, d += run) {
    let s = runStart;
    for (let axis = 0; axis < k; axis++) s += (begin[axis] + index[axis]) * strides[axis];
    dst.set(src.subarray(s, s + run), d);
    for (let axis = k - 1; axis >= 0; axis--) {
      if (++index[axis] < outer[axis]) break;
      index[axis] = 0;
    }
  }
  return out;
}

export function sliceWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.SliceAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    if (!stockSlice) throw new Error('Slice on wasm: the stock kernel was not recorded at registration');
    return stockSlice(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin, attrs.size);
  return sliceFromHeap(backend, x, begin, size);
}

export function splitVWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.SplitVAttrs }): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    if (!stockSplitV) throw new Error('SplitV on wasm: the stock kernel was not recorded at registration');
    return stockSplitV(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo[];
  }
  const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits, axis);
  const begin = new Array(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const out = sliceFromHeap(backend, x, begin.slice(), size);
    begin[axis] += s;
    return out;
  });
}
