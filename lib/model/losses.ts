/**
 * RetinaNet's training losses (Lin et al. 2017; detectron2 `RetinaNet.losses`):
 * - sigmoid focal loss over every (anchor, class) of non-ignored anchors, alpha 0.25, gamma 2;
 * - smooth-L1 (beta 0.1 / 0.11) or L1 box loss over positive anchors;
 * both summed and divided by the number of positive anchors in the batch (at least 1), or by a
 * caller-given normaliser (detectron2 divides by an exponential moving average of that count).
 *
 * Labels (lib/box/targets.ts, values lib/box/labels.ts): class index 0..K-1 = positive, -1 = background, -2 = ignored.
 *
 * Only ops with gradients on every backend appear on the differentiated path (sigmoid, relu, abs,
 * exp, log1p, square, sub, mul/add); masks come from the labels, which are not differentiated.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors';
import { LABEL_IGNORE } from '../box/labels';

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
 * With t the one-hot target and p = sigmoid(x), write z = x (t = 0) or -x (t = 1), i.e.
 * z = (1 - 2t) x. Then
 *   CE      = -log(1 - p) or -log p   = softplus(z) = relu(z) + log1p(exp(-|z|))   (stable for any x)
 *   1 - p_t = sigmoid(z),   FL = alpha_t (1 - p_t)^gamma CE,
 * so the differentiated path is one product with the label-only sign (1 - 2t), then elementwise
 * functions of z: about half the ops of writing CE and p_t out in x and t, which matters on the
 * [N, anchors, K] tensors of training (2.2 M entries at 9x9 anchors, batch 8, 128 px).
 */
export function sigmoidFocalLossSum(logits: tf.Tensor, labels: tf.Tensor, opts: FocalLossOptions = {}): tf.Scalar {
  checkShapes(logits, labels, 'focal loss');
  const alpha = opts.alpha ?? 0.25;
  const gamma = opts.gamma ?? 2;
  const K = logits.shape[logits.rank - 1];
  return tf.tidy(() => {
    const valid = tf.expandDims(tf.cast(tf.notEqual(labels, LABEL_IGNORE), 'float32'), -1);
    // One-hot targets. oneHot maps the negative labels (background -1, ignored -2) to all-zero
    // rows on every backend (TensorFlow's semantics for out-of-range indices); it refuses depth 1,
    // so K = 1 takes depth 2 and drops the extra column. It stays int32 and is cast: wasm's
    // OneHot writes int32 values whatever dtype it is asked for.
    const oneHot = tf.oneHot(labels as tf.Tensor, Math.max(K, 2));
    const t = tf.cast(K >= 2 ? oneHot : tf.slice(oneHot, 0, [...labels.shape, 1]), 'float32');
    // Label-only factors (no gradient flows through them): the sign 1 - 2t and the weight
    // valid * alpha_t, alpha_t = alpha t + (1 - alpha)(1 - t).
    const sign = tf.sub(1, tf.mul(t, 2));
    const weight = alpha >= 0 ? tf.mul(tf.add(tf.mul(t, 2 * alpha - 1), 1 - alpha), valid) : valid; // valid broadcasts over K
    const z = tf.mul(logits, sign);
    const ce = tf.add(tf.relu(z), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
    const q = tf.sigmoid(z); // 1 - p_t
    const modulator = gamma === 2 ? tf.square(q) : gamma === 1 ? q : gamma === 0 ? undefined : tf.pow(q, gamma);
    const loss = modulator ? tf.mul(ce, modulator) : ce;
    return tf.sum(tf.mul(loss, weight)) as tf.Scalar;
  });
}

/**
 * Sum over positive anchors of the box loss. deltas, targets [..., 4]; labels int32 [...].
 * Targets of non-positive anchors are ignored (they may hold anything, NaN included).
 * smooth-L1(d) = 0.5 d^2 / beta if |d| < beta, else |d| - 0.5 beta; written with
 * q = min(|d|, beta) = |d| - relu(|d| - beta) as 0.5 q^2 / beta + (|d| - q), which needs no
 * comparison on the differentiated path.
 */
export function boxLossSum(deltas: tf.Tensor, targets: tf.Tensor, labels: tf.Tensor, opts: BoxLossOptions = {}): tf.Scalar {
  checkShapes(deltas, labels, 'box loss');
  if (targets.shape.length !== deltas.shape.length || targets.shape.some((d, i) => d !== deltas.shape[i])) {
    throw new UserError(`box loss: targets [${targets.shape}] do not match deltas [${deltas.shape}]`, 'targets need 4 values per anchor: [N, totalAnchors, 4]');
  }
  const kind = opts.kind ?? 'smooth-l1';
  const beta = kind === 'l1' ? 0 : (opts.beta ?? 0.1);
  if (!(beta >= 0)) throw new UserError(`box loss: beta = ${beta}`, 'use beta >= 0 (0.1 or 0.11; 0 means L1)');
  return tf.tidy(() => {
    const pos = tf.expandDims(tf.cast(tf.greaterEqual(labels, 0), 'float32'), -1);
    // The positive mask at the targets' shape through a broadcast product (wasm's Tile, which
    // broadcastTo runs, costs ~10x more), so that non-positive targets are replaced before use.
    const posFull = tf.mul(tf.onesLike(targets), pos);
    const cleanTargets = tf.where(tf.cast(posFull, 'bool'), targets, tf.zerosLike(targets));
    const n = tf.abs(tf.sub(deltas, cleanTargets));
    let loss: tf.Tensor;
    if (beta === 0) loss = n;
    else {
      const q = tf.sub(n, tf.relu(tf.sub(n, beta)));
      loss = tf.add(tf.mul(tf.square(q), 0.5 / beta), tf.sub(n, q));
    }
    return tf.sum(tf.mul(loss, posFull)) as tf.Scalar;
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
