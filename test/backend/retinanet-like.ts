/**
 * A tiny RetinaNet-like detector with a MetaAnchor-style generated classification conv, written
 * with plain tfjs ops so that one training step exercises every op family the real model needs:
 * convs (3x3 / 1x1, stride 1 / 2, 'same' / numeric padding), fused conv + bias + relu, frozen-BN
 * scale/shift, group norm, residual add, max-pool, FPN top-down path with nearest 2x upsampling
 * (rank-4 tiles), global average pooling, a weight generator (matMul, relu) whose output is a conv
 * filter (Eq. 6 of the paper: theta = theta* + W2 relu(W11 b + W12 r(x))), concat, slice, transpose,
 * gather (along two axes), sigmoid focal loss and smooth-L1 on positive anchors.
 *
 * Parameters and data are plain typed arrays, so the same net runs on any backend.
 */
import * as tf from '@tensorflow/tfjs';
import { makeRng, normal, Rng } from '../../lib/util/seed';

export interface HostTensor {
  shape: number[];
  values: Float32Array;
}

export const NET = {
  batch: 2,
  heightPx: 24,
  widthPx: 20,
  channels: 8,
  numClasses: 2,
  /** Anchor shapes per position; b = (log h/AH, log w/AW) per anchor (MetaAnchor Eq. 7). */
  anchorCodes: [
    [0, 0],
    [0.35, -0.35],
    [-0.35, 0.35],
  ],
  hidden: 6,
  groups: 2,
};

function randn(rng: Rng, shape: number[], std: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = std * normal(rng);
  return { shape, values };
}

function constant(shape: number[], value: number): HostTensor {
  return { shape, values: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value) };
}

/** Deterministic parameters (He-like init so activations stay O(1)). */
export function makeParams(seed: number): Record<string, HostTensor> {
  const rng = makeRng(seed);
  const c = NET.channels;
  const a = NET.anchorCodes.length;
  const k = NET.numClasses;
  const he = (kh: number, cin: number) => Math.sqrt(2 / (kh * kh * cin));
  return {
    stemW: randn(rng, [3, 3, 3, c], he(3, 3)),
    bnGamma: randn(rng, [c], 0.1),
    bnBeta: randn(rng, [c], 0.1),
    res1W: randn(rng, [3, 3, c, c], he(3, c)),
    gnGamma: constant([c], 1),
    gnBeta: constant([c], 0),
    res2W: randn(rng, [3, 3, c, c], he(3, c)),
    c4W: randn(rng, [3, 3, c, 12], he(3, c)),
    c4B: constant([12], 0.01),
    lat3W: randn(rng, [1, 1, c, c], he(1, c)),
    lat3B: constant([c], 0),
    lat4W: randn(rng, [1, 1, 12, c], he(1, 12)),
    lat4B: constant([c], 0),
    p5W: randn(rng, [3, 3, c, c], he(3, c)),
    towerW: randn(rng, [3, 3, c, c], he(3, c)),
    towerB: constant([c], 0),
    // Generator of the classification conv (Eq. 6), theta* = shared base weights.
    thetaStar: randn(rng, [1, k * 9 * c], 0.05),
    genW11: randn(rng, [2, NET.hidden], 0.5),
    genW12: randn(rng, [c, NET.hidden], 0.5),
    genB1: constant([NET.hidden], 0.1),
    genW2: randn(rng, [NET.hidden, k * 9 * c], 0.05),
    clsBias: constant([a * k], -1),
    boxW: randn(rng, [3, 3, c, a * 4], 0.05),
    boxB: constant([a * 4], 0),
  };
}

export interface Batch {
  images: HostTensor;
  /** Per anchor (level-major, then y, x, anchor): class index, -1 background, -2 ignored. */
  labels: Int32Array;
  boxTargets: HostTensor;
}

/** Anchors per image: levels P3 (6x5), P4 (3x3), P5 (2x2) times anchors per position. */
export function anchorsPerImage(): number {
  return (6 * 5 + 3 * 3 + 2 * 2) * NET.anchorCodes.length;
}

export function makeBatch(seed: number): Batch {
  const rng = makeRng(seed);
  const images = randn(rng, [NET.batch, NET.heightPx, NET.widthPx, 3], 1);
  const total = NET.batch * anchorsPerImage();
  const labels = new Int32Array(total);
  for (let i = 0; i < total; i++) {
    const u = rng();
    labels[i] = u < 0.12 ? Math.floor(rng() * NET.numClasses) : u < 0.2 ? -2 : -1;
  }
  const boxTargets = randn(rng, [total, 4], 0.5);
  return { images, labels, boxTargets };
}

type Params = Record<string, tf.Tensor>;

function frozenBn(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor4D {
  // Fixed statistics (mean 0.1, variance 2); trainable scale/shift, as detectron2's FrozenBN + affine.
  const scale = tf.mul(gamma.add(1), 1 / Math.sqrt(2 + 1e-5));
  const shift = tf.sub(beta, tf.mul(scale, 0.1));
  return tf.add(tf.mul(x, scale), shift);
}

function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const xg = tf.reshape(x, [n, h * w, groups, c / groups]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  const y = tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, 1e-5)));
  return tf.add(tf.mul(tf.reshape(y, [n, h, w, c]), gamma), beta);
}

/** Nearest 2x upsampling with rank-4 tiles (exact gradient on cpu and wasm), cropped to outH x outW. */
export function upsample2x(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const wide = tf.tile(tf.reshape(x, [n * h, w, 1, c]), [1, 1, 2, 1]);
  const tall = tf.tile(tf.reshape(wide, [n * h, 1, 2 * w * c]), [1, 2, 1]);
  const up = tf.reshape(tall, [n, 2 * h, 2 * w, c]) as tf.Tensor4D;
  return outH === 2 * h && outW === 2 * w ? up : tf.slice(up, [0, 0, 0, 0], [n, outH, outW, c]);
}

/** Generated classification conv for one level, per image (Eq. 6), [N, H*W*A, K] logits. */
function metaAnchorCls(p: Params, feat: tf.Tensor4D): tf.Tensor3D {
  const [n, h, w, c] = feat.shape;
  const a = NET.anchorCodes.length;
  const k = NET.numClasses;
  const b = tf.tensor2d(NET.anchorCodes);
  const r = tf.mean(feat, [1, 2]); // global average pooling, [N, C]
  const fromB = tf.matMul(b, p.genW11); // [A, m]
  const fromR = tf.matMul(r, p.genW12); // [N, m]
  const outs: tf.Tensor[] = [];
  for (let i = 0; i < n; i++) {
    const hidden = tf.relu(tf.add(tf.add(fromB, tf.slice(fromR, [i, 0], [1, -1])), p.genB1)); // [A, m]
    const theta = tf.add(p.thetaStar, tf.matMul(hidden, p.genW2)); // [A, K*9*C]
    // theta[a] holds K filters of 3x3xC; tfjs wants [3, 3, C, A*K] with output channel a*K + k.
    const filter = tf.transpose(tf.reshape(theta, [a * k, 3, 3, c]), [1, 2, 3, 0]) as tf.Tensor4D;
    const img = tf.slice(feat, [i, 0, 0, 0], [1, h, w, c]);
    outs.push(tf.conv2d(img, filter, 1, 'same'));
  }
  const logits = tf.add(tf.concat(outs, 0), p.clsBias);
  return tf.reshape(logits, [n, h * w * a, k]);
}

/** Forward pass: classification logits [N, T, K] and box deltas [N, T, 4] over P3, P4, P5. */
export function forward(p: Params, images: tf.Tensor4D): { cls: tf.Tensor3D; box: tf.Tensor3D } {
  const a = NET.anchorCodes.length;
  // Backbone. Stem: stride 2 with symmetric numeric padding (PyTorch style).
  let x = tf.conv2d(images, p.stemW as tf.Tensor4D, 2, 1) as tf.Tensor4D; // [N, 12, 10, C]
  x = tf.relu(frozenBn(x, p.bnGamma, p.bnBeta));
  const r1 = tf.relu(groupNorm(tf.conv2d(x, p.res1W as tf.Tensor4D, 1, 'same'), p.gnGamma, p.gnBeta, NET.groups));
  x = tf.relu(tf.add(x, tf.conv2d(r1, p.res2W as tf.Tensor4D, 1, 'same'))) as tf.Tensor4D;
  const c3 = tf.maxPool(x, 3, 2, 'same'); // [N, 6, 5, C]
  const c4 = tf.fused.conv2d({ x: c3, filter: p.c4W as tf.Tensor4D, strides: 2, pad: 'same', bias: p.c4B, activation: 'relu' }); // [N, 3, 3, 12]
  // FPN top-down.
  const p4 = tf.fused.conv2d({ x: c4, filter: p.lat4W as tf.Tensor4D, strides: 1, pad: 'same', bias: p.lat4B });
  const lat3 = tf.fused.conv2d({ x: c3, filter: p.lat3W as tf.Tensor4D, strides: 1, pad: 'same', bias: p.lat3B });
  const p3 = tf.add(lat3, upsample2x(p4, lat3.shape[1], lat3.shape[2])) as tf.Tensor4D;
  const p5 = tf.conv2d(tf.relu(p4), p.p5W as tf.Tensor4D, 2, 'same'); // [N, 2, 2, C]
  const levels: tf.Tensor4D[] = [p3, p4, p5];
  // Shared head.
  const cls: tf.Tensor[] = [];
  const box: tf.Tensor[] = [];
  for (const level of levels) {
    const t = tf.fused.conv2d({ x: level, filter: p.towerW as tf.Tensor4D, strides: 1, pad: 'same', bias: p.towerB, activation: 'relu' });
    cls.push(metaAnchorCls(p, t));
    const [n, h, w] = t.shape;
    const d = tf.conv2d(t, p.boxW as tf.Tensor4D, 1, 'same');
    box.push(tf.reshape(tf.add(d, p.boxB), [n, h * w * a, 4]));
  }
  // Box deltas in (dy, dx, dh, dw) order from the conv, reordered to (dx, dy, dw, dh) by a gather.
  const boxAll = tf.gather(tf.concat(box, 1), tf.tensor1d([1, 0, 3, 2], 'int32'), 2);
  return { cls: tf.concat(cls, 1) as tf.Tensor3D, box: boxAll as tf.Tensor3D };
}

/** Sigmoid focal loss (alpha 0.25, gamma 2) + smooth-L1 (beta 0.1) on positives, / #positives. */
export function detectionLoss(out: { cls: tf.Tensor3D; box: tf.Tensor3D }, labels: Int32Array, boxTargets: HostTensor): tf.Scalar {
  const [n, t, k] = out.cls.shape;
  const labelT = tf.tensor1d(labels, 'int32');
  const y = tf.reshape(
    tf.oneHot(
      tf.tensor1d(
        labels.map((v) => Math.max(v, 0)),
        'int32',
      ),
      k,
    ),
    [n, t, k],
  );
  const isPos = tf.reshape(tf.cast(tf.greaterEqual(labelT, 0), 'float32'), [n, t, 1]);
  const yPos = tf.mul(y, isPos);
  const valid = tf.reshape(tf.notEqual(labelT, -2), [n, t, 1]);
  const l = out.cls;
  const p = tf.sigmoid(l);
  // Stable BCE: max(l, 0) - l*y + log(1 + exp(-|l|)).
  const ce = tf.add(tf.sub(tf.maximum(l, 0), tf.mul(l, yPos)), tf.log(tf.add(1, tf.exp(tf.neg(tf.abs(l))))));
  const pt = tf.add(tf.mul(p, yPos), tf.mul(tf.sub(1, p), tf.sub(1, yPos)));
  const alphaT = tf.add(tf.mul(yPos, 0.25), tf.mul(tf.sub(1, yPos), 0.75));
  const focal = tf.mul(tf.mul(alphaT, tf.square(tf.sub(1, pt))), ce);
  const kept = tf.where(tf.broadcastTo(valid, [n, t, k]), focal, tf.zerosLike(focal));
  const posIdx: number[] = [];
  labels.forEach((v, i) => {
    if (v >= 0) posIdx.push(i);
  });
  const numPos = Math.max(1, posIdx.length);
  const clsLoss = tf.div(tf.sum(kept), numPos);
  const idx = tf.tensor1d(posIdx, 'int32');
  const pred = tf.gather(tf.reshape(out.box, [n * t, 4]), idx);
  const target = tf.gather(tf.tensor2d(boxTargets.values, boxTargets.shape as [number, number]), idx);
  const diff = tf.abs(tf.sub(pred, target));
  const beta = 0.1;
  const m = tf.minimum(diff, beta); // comparison-free smooth-L1 (no gradient for tf.less in tfjs)
  const smooth = tf.add(tf.div(tf.mul(0.5, tf.square(m)), beta), tf.sub(diff, m));
  const boxLoss = tf.div(tf.sum(smooth), numPos);
  return tf.add(clsLoss, boxLoss) as tf.Scalar;
}
