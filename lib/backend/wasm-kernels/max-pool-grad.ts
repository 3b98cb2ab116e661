/**
 * MaxPoolGrad for the wasm backend. tfjs-backend-wasm 4.22's own kernel returns wrong gradients
 * when the pooled input has negative values (measured: a 2x2 / stride 2 pool of sin-valued input
 * differs from the cpu backend by up to 0.65; the same input shifted by +10 agrees), so any max
 * pool after a leaky ReLU or a normalisation trained wrongly on wasm.
 *
 * dx[b, r, c, d] = sum of dy[b, i, j, d] over the output positions (i, j) whose window has its
 * maximum at (r, c); the first maximum in row-major window order wins, as in TensorFlow and the
 * cpu backend (`maxPoolPositions`). Padded positions never win (they count as -inf). One pass over
 * the windows in JavaScript on the heap views: O(output size x window size), no copies.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { allocate, heapView, TensorInfo } from './wasm-ops';

export function maxPoolGradWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.MaxPoolGradAttrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  if (input.dtype !== 'float32') throw new Error(`MaxPoolGrad on wasm supports float32 (got ${input.dtype})`);
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: ch, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const dilH = info.dilationHeight;
  const dilW = info.dilationWidth;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const out = allocate(backend, input.shape, 'float32');
  // Views are taken after the output allocation, which may have grown (and replaced) the heap.
  const x = heapView(backend, input);
  const g = heapView(backend, dy);
  const dx = heapView(backend, out);
  dx.fill(0);
  const xRow = inWidth * ch;
  const xImage = inHeight * xRow;
  const yImage = outHeight * outWidth * ch;
  for (let b = 0; b < batchSize; b++) {
    const xb = b * xImage;
    for (let i = 0; i < outHeight; i++) {
      const r0 = i * strideHeight - padTop;
      for (let j = 0; j < outWidth; j++) {
        const c0 = j * strideWidth - padLeft;
        const yOff = b * yImage + (i * outWidth + j) * ch;
        for (let d = 0; d < ch; d++) {
          let best = -Infinity;
          let at = -1;
          for (let u = 0; u < filterHeight; u++) {
            const r = r0 + u * dilH;
            if (r < 0 || r >= inHeight) continue;
            for (let v = 0; v < filterWidth; v++) {
              const c = c0 + v * dilW;
              if (c < 0 || c >= inWidth) continue;
              const k = xb + r * xRow + c * ch + d;
              // NaN never compares greater: a window of NaNs passes its gradient nowhere, as on cpu.
              if (x[k] > best) {
                best = x[k];
                at = k;
              }
            }
          }
          if (at >= 0) dx[at] += g[yOff + d];
        }
      }
    }
  }
  return out;
}
