/**
 * RetinaNet's training losses (Lin et al. 2017; detectron2 `RetinaNet.losses`):
 * - sigmoid focal loss over every (anchor, class) of non-ignored anchors, alpha 0.25, gamma 2;
 * - smooth-L1 (beta 0.1 / 0.11) or L1 box loss over positive anchors;
 * both summed and divided by the number of positive anchors in the batch (at least 1), or by a
 * caller-given normaliser (detectron2 divides by an exponential moving average of that count).
 *
 * Labels (lib/box/targets.ts): class index 0..K-1 = positive, -1 = background, -2 = ignored.
 *
 * Only ops with gradients on every backend appear on the differentiated path (sigmoid, relu, abs,
 * exp, log1p, minimum, mul/add); masks come from the labels, which are not differentiated.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors';

export const LABEL_BACKGROUND = -1;
export const LABEL_IGNORE = -2;

export interface FocalLossOptions {
  /** Weight of positives; (1 - alpha) weighs negatives; < 0 disables weighting. Default 0.25. */
  alpha?: number;
  /** Focusing exponent. Default 2. */
  gamma?: number;
}

export interface BoxLossOptions {
  /** 'smooth-l1' (default) or 'l1'. */
  kind?: 'smooth-l1' | 'l1';
  /** Smooth-L1 transition point; detectron2 RetinaNet 0.1, Detectron 0.11. Default 0.1; 0 = L1. */
  beta?: number;
}

function checkShapes(logitsOrDeltas: tf.Tensor, labels: tf.Tensor, what: string): void {
  const s = logitsOrDeltas.shape;
  const l = labels.shape;
  if (labels.dtype !== 'int32') throw new UserError(`${what}: labels must be int32, got ${labels.dtype}`, 'build them with tf.tensor(labels, shape, "int32")');
  if (l.length !== s.length - 1 || l.some((d, i) => d !== s[i])) {
    throw new UserError(`${what}: labels [${l}] do not match predictions [${s}]`, 'labels need one entry per anchor: [N, totalAnchors]');
  }
}

/**
 * Sum of the sigmoid focal loss over non-ignored anchors and all classes (not normalised).
 * logits [..., K], labels int32 [...] (same leading shape).
 *
 * With t the one-hot target, p = sigmoid(x):
 *   CE  = log(1 + exp(x)) - t x = relu(x) - t x + log1p(exp(-|x|))   (stable for any x)
 *   p_t = p t + (1 - p)(1 - t),  FL = alpha_t (1 - p_t)^gamma CE.
 */
export function sigmoidFocalLossSum(logits: tf.Tensor, labels: tf.Tensor, opts: FocalLossOptions = {}): tf.Scalar {
  checkShapes(logits, labels, 'focal loss');
  const alpha = opts.alpha ?? 0.25;
  const gamma = opts.gamma ?? 2;
  const K = logits.shape[logits.rank - 1];
  return tf.tidy(() => {
    const x = logits;
    const valid = tf.expandDims(tf.cast(tf.notEqual(labels, LABEL_IGNORE), 'float32'), -1);
    // One-hot targets: background (-1) and ignored (-2) go to an extra column K that is dropped
    // (depth K + 1 also serves K = 1, which tf.oneHot alone refuses). oneHot is a single fast
    // kernel; a broadcast `equal` against range(K) costs ~50x more on wasm.
    const idx = tf.where(tf.greaterEqual(labels, 0), labels, tf.fill(labels.shape, K, 'int32'));
    const t = tf.slice(tf.oneHot(idx as tf.Tensor, K + 1), 0, [...labels.shape, K]);
    const ce = tf.add(tf.sub(tf.relu(x), tf.mul(x, t)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    const p = tf.sigmoid(x);
    // 1 - p_t = p + t - 2 p t
    const oneMinusPt = tf.sub(tf.add(p, t), tf.mul(tf.mul(p, t), 2));
    const modulator = gamma === 2 ? tf.square(oneMinusPt) : gamma === 0 ? tf.onesLike(oneMinusPt) : tf.pow(oneMinusPt, gamma);
    let loss = tf.mul(ce, modulator);
    if (alpha >= 0) loss = tf.mul(loss, tf.add(tf.mul(t, 2 * alpha - 1), 1 - alpha)); // alpha t + (1 - alpha)(1 - t)
    return tf.sum(tf.mul(loss, valid)) as tf.Scalar;
  });
}

/**
 * Sum over positive anchors of the box loss. deltas, targets [..., 4]; labels int32 [...].
 * Targets of non-positive anchors are ignored (they may hold anything).
 * smooth-L1(d) = 0.5 d^2 / beta if |d| < beta, else |d| - 0.5 beta; written with q = min(|d|, beta)
 * as (0.5 q^2 + beta (|d| - q)) / beta, which needs no comparison on the differentiated path.
 */
export function boxLossSum(deltas: tf.Tensor, targets: tf.Tensor, labels: tf.Tensor, opts: BoxLossOptions = {}): tf.Scalar {
  checkShapes(deltas, labels, 'box loss');
  if (targets.shape.length !== deltas.shape.length || targets.shape.some((d, i) => d !== deltas.shape[i])) {
    throw new UserError(`box loss: targets [${targets.shape}] do not match deltas [${deltas.shape}]`, 'targets need 4 values per anchor: [N, totalAnchors, 4]');
  }
  const kind = opts.kind ?? 'smooth-l1';
  const beta = kind === 'l1' ? 0 : opts.beta ?? 0.1;
  if (!(beta >= 0)) throw new UserError(`box loss: beta = ${beta}`, 'use beta >= 0 (0.1 or 0.11; 0 means L1)');
  return tf.tidy(() => {
    const posBool = tf.expandDims(tf.greaterEqual(labels, 0), -1);
    const pos = tf.cast(posBool, 'float32');
    const cleanTargets = tf.where(tf.broadcastTo(posBool, targets.shape), targets, tf.zerosLike(targets));
    const n = tf.abs(tf.sub(deltas, cleanTargets));
    let loss: tf.Tensor;
    if (beta === 0) loss = n;
    else {
      const q = tf.minimum(n, beta);
      loss = tf.div(tf.add(tf.mul(tf.square(q), 0.5), tf.mul(tf.sub(n, q), beta)), beta);
    }
    return tf.sum(tf.mul(loss, pos)) as tf.Scalar;
  });
}

/** Number of positive anchors (labels >= 0), as a scalar tensor. */
export function countPositives(labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.greaterEqual(labels, 0), 'float32')) as tf.Scalar);
}

export interface DetectionLossOptions {
  focal?: FocalLossOptions;
  box?: BoxLossOptions;
  /** Weight of the box loss (detectron2: 1). */
  boxWeight?: number;
  /** Divide by this instead of max(1, #positives in the batch) (e.g. detectron2's EMA of it). */
  normalizer?: number;
}

export interface DetectionLoss {
  /** cls + boxWeight * box. */
  total: tf.Scalar;
  cls: tf.Scalar;
  box: tf.Scalar;
  numPositives: tf.Scalar;
}

/**
 * The detector's training loss. clsLogits [N, A, K], boxDeltas [N, A, 4] (Detector.forward),
 * labels int32 [N, A], boxTargets [N, A, 4] (lib/box/targets.ts, stacked over images).
 */
export function detectionLoss(
  out: { clsLogits: tf.Tensor; boxDeltas: tf.Tensor },
  labels: tf.Tensor,
  boxTargets: tf.Tensor,
  opts: DetectionLossOptions = {},
): DetectionLoss {
  if (opts.normalizer !== undefined && !(opts.normalizer > 0)) {
    throw new UserError(`loss normalizer ${opts.normalizer} must be > 0`, 'pass the (average) number of positive anchors, or omit it');
  }
  return tf.tidy(() => {
    const numPositives = countPositives(labels);
    const norm = opts.normalizer !== undefined ? tf.scalar(opts.normalizer) : tf.maximum(numPositives, 1);
    const cls = tf.div(sigmoidFocalLossSum(out.clsLogits, labels, opts.focal), norm) as tf.Scalar;
    const box = tf.div(boxLossSum(out.boxDeltas, boxTargets, labels, opts.box), norm) as tf.Scalar;
    const total = tf.add(cls, tf.mul(box, opts.boxWeight ?? 1)) as tf.Scalar;
    return { total, cls, box, numPositives };
  });
}
