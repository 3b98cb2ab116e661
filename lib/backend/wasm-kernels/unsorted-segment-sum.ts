/**
 * UnsortedSegmentSum for the wasm backend (absent in tfjs-backend-wasm 4.22). tfjs-core's
 * gradient of `gather` is `unsortedSegmentSum(dy, indices, x.shape[axis])`, so without it no
 * gather can be differentiated on wasm.
 *
 * out[s, ...] = sum over i with segmentIds[i] == s of x[i, ...]; ids outside [0, numSegments) are
 * dropped, as in TensorFlow. A direct scatter-add over the wasm heap is O(x.size); the cpu
 * backend's version builds a mask per segment, O(numSegments * x.size).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { allocate, heapView, TensorInfo } from './wasm-ops';

export function unsortedSegmentSumWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.UnsortedSegmentSumAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32 (got ${x.dtype})`);
  }
  const idRank = segmentIds.shape.length;
  for (let d = 0; d < idRank; d++) {
    if (segmentIds.shape[d] !== x.shape[d]) {
      throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`);
    }
  }
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const inner = tf.util.sizeFromShape(x.shape.slice(idRank));
  const out = allocate(backend, [numSegments, ...x.shape.slice(idRank)], x.dtype);
  // Views are taken after the output allocation, which may have grown (and replaced) the heap.
  const xs = heapView(backend, x);
  const ids = heapView(backend, segmentIds);
  const o = heapView(backend, out);
  o.fill(0);
  for (let i = 0; i < rows; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j];
  }
  return out;
}
