/**
 * GatherV2 with batchDims > 0 for the wasm backend.
 *
 * tfjs-backend-wasm 4.22's C++ Gather (src/cc/kernels/Gather.cc, gather_impl) takes the row of
 * batch b from `indices[b * batchSize + j]` instead of `indices[b * indicesPerBatch + j]`. With
 * batchDims 0 (batchSize 1, b always 0) that is right; with batchDims > 0 and
 * batchSize != indicesPerBatch it is wrong, and when batchSize > indicesPerBatch it reads past the
 * end of the indices buffer and uses whatever the heap holds there (malloc bookkeeping, other
 * tensors) as row numbers: silently wrong values, or `RuntimeError: memory access out of bounds`
 * when that word is large, which depends on everything allocated before. E.g. x [4,5,3], indices
 * [[0,1],[1,4],[4,4],[2,3]], axis 1, batchDims 1 reads indices 0,1,4,5,8,9,12,13 of 8.
 * This version gathers straight from the heap; batchDims 0 stays wasm's.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { allocate, heapView, TensorInfo } from './wasm-ops';

let stockGatherV2: tf.KernelFunc | undefined;

export function setStockGatherV2(kernelFunc: tf.KernelFunc): void {
  stockGatherV2 = kernelFunc;
}

export function gatherV2Wasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.GatherV2Attrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
  const batchDims = attrs.batchDims ?? 0;
  if (batchDims === 0 || x.dtype === 'string' || x.dtype === 'complex64') {
    if (!stockGatherV2) throw new Error('GatherV2 on wasm: the stock kernel was not recorded at registration');
    return stockGatherV2(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as unknown as tf.Tensor, indices as unknown as tf.Tensor, axis, batchDims);
  const { batchSize, outerSize, dimSize, sliceSize } = info;
  const idx = heapView(backend, indices);
  // Same check and message as wasm's own kernel.
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i];
    tf.util.assert(v <= dimSize - 1 && v >= 0, () => `GatherV2: the index value ${v} is not in [0, ${dimSize - 1}]`);
  }
  const perBatch = batchSize > 0 ? idx.length / batchSize : 0;
  const out = allocate(backend, info.outputShape, x.dtype);
  if (tf.util.sizeFromShape(info.outputShape) === 0) return out;
  // Views after the allocation, which may have grown (and replaced) the heap.
  const src = heapView(backend, x);
  const ids = heapView(backend, indices);
  const dst = heapView(backend, out);
  // out[b, o, j, :] = x[b, o, indices[b, j], :]
  let d = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let o = 0; o < outerSize; o++) {
      const base = (b * outerSize + o) * dimSize;
      for (let j = 0; j < perBatch; j++) {
        const s = (base + ids[b * perBatch + j]) * sliceSize;
        dst.set(src.subarray(s, s + sliceSize), d);
        d += sliceSize;
      }
    }
  }
  return out;
}
