/**
 * YOLOv2's region loss on tensors, from the per-image targets of ./region.ts.
 *
 * darknet does not write a loss: it writes `delta` (minus the gradient) per output. The loss here
 * is the function whose gradient with respect to the raw outputs is exactly minus that delta
 * (test/model/yolo/loss.test.ts checks it against a loop transcription of forward_region_layer):
 *   coord: 0.5 w_c |t_c - (sigmoid(tx), sigmoid(ty), tw, th)|^2
 *   obj:   0.5 w_o (t_o - sigmoid(to))^2            (rescore: t_o = IoU, held constant)
 *   class: w_k * -log softmax(logits)[class]        (delta = scale (onehot - p))
 * summed over predictions and averaged over the images of the batch (darknet's update divides by
 * the batch size). Only split / sigmoid / square / logSoftmax / sums: gradients work on cpu and
 * on wasm with the project's kernels, no comparisons on differentiated tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { tidy } from '../layers';
import { RegionTargets } from './region';

export interface RegionLoss {
  total: tf.Scalar;
  coord: tf.Scalar;
  obj: tf.Scalar;
  cls: tf.Scalar;
}

/**
 * raw: [N, H, W, A * (5 + K)] region outputs; targets: one RegionTargets per image (N of them,
 * each with H * W * A rows).
 */
export function regionLoss(raw: tf.Tensor4D, targets: readonly RegionTargets[], numAnchors: number, numClasses: number): RegionLoss {
  const [N, H, W, C] = raw.shape;
  const A = numAnchors;
  const K = numClasses;
  if (C !== A * (5 + K)) throw new Error(`regionLoss: ${C} channels, expected ${A} x (5 + ${K})`);
  if (targets.length !== N) throw new Error(`regionLoss: ${targets.length} target sets for ${N} images`);
  const M = H * W * A;
  const coord = new Float32Array(4 * N * M);
  const coordW = new Float32Array(N * M);
  const objT = new Float32Array(N * M);
  const objW = new Float32Array(N * M);
  // Class targets as weighted one-hot rows (host data: no int compares on the wasm path).
  const clsW = new Float32Array(N * M * K);
  targets.forEach((t, n) => {
    if (t.objWeight.length !== M) throw new Error(`regionLoss: image ${n} has ${t.objWeight.length} target rows, expected ${M}`);
    coord.set(t.coord, 4 * n * M);
    coordW.set(t.coordWeight, n * M);
    objT.set(t.objTarget, n * M);
    objW.set(t.objWeight, n * M);
    for (let m = 0; m < M; m++) if (t.classIdx[m] >= 0) clsW[(n * M + m) * K + t.classIdx[m]] = t.classWeight[m];
  });
  return tidy(() => {
    const p = tf.reshape(raw, [N * M, 5 + K]);
    const [xy, wh, o, logits] = tf.split(p, [2, 2, 1, K], 1);
    const v = tf.concat([tf.sigmoid(xy), wh], 1);
    const coordLoss = tf.mul(0.5, tf.sum(tf.mul(tf.tensor2d(coordW, [N * M, 1]), tf.square(tf.sub(tf.tensor2d(coord, [N * M, 4]), v)))));
    const objLoss = tf.mul(0.5, tf.sum(tf.mul(tf.tensor2d(objW, [N * M, 1]), tf.square(tf.sub(tf.tensor2d(objT, [N * M, 1]), tf.sigmoid(o))))));
    const clsLoss = tf.neg(tf.sum(tf.mul(tf.tensor2d(clsW, [N * M, K]), tf.logSoftmax(logits))));
    const inv = 1 / N;
    const c = tf.mul(coordLoss, inv) as tf.Scalar;
    const ob = tf.mul(objLoss, inv) as tf.Scalar;
    const cl = tf.mul(clsLoss, inv) as tf.Scalar;
    return { total: tf.addN([c, ob, cl]) as tf.Scalar, coord: c, obj: ob, cls: cl };
  });
}
