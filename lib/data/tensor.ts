/**
 * The one place the data layer meets TensorFlow.js: a batch's NHWC Float32Array as a tensor.
 * The caller owns (and disposes) the returned tensor.
 */
import * as tf from '@tensorflow/tfjs';
import { Batch } from './pipeline';

export function batchToTensor(batch: Batch): tf.Tensor4D {
  return tf.tensor4d(batch.images, batch.shape, 'float32');
}
