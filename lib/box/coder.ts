/**
 * Box coder: boxes <-> regression deltas (dx, dy, log dw, log dh) relative to anchors, as in
 * R-CNN / Faster R-CNN and detectron2's `Box2BoxTransform`:
 *
 *   dx = wx * (gx - ax) / aw     dy = wy * (gy - ay) / ah
 *   dw = ww * log(gw / aw)       dh = wh * log(gh / ah)
 *
 * with (ax, ay, aw, ah) the anchor's centre and size and (gx, gy, gw, gh) the target's. RetinaNet
 * uses weights (1, 1, 1, 1) (detectron2 `MODEL.RETINANET.BBOX_REG_WEIGHTS`). Decoding clamps the
 * *unweighted* dw, dh from above at log(1000/16), detectron2's `_DEFAULT_SCALE_CLAMP`, so that
 * exp() cannot overflow early in training; within the clamp, decode(encode(g)) = g up to float32
 * rounding.
 *
 * Both functions are element-wise (box i with anchor i); all arithmetic is float64.
 */
import { boxCount } from './iou';

/** (wx, wy, ww, wh). */
export type BoxCoderWeights = readonly [number, number, number, number];

/** RetinaNet's weights (detectron2 and torchvision). */
export const RETINANET_BOX_WEIGHTS: BoxCoderWeights = [1, 1, 1, 1];

/** log(1000 / 16) ≈ 4.1352: upper clamp of the unweighted log dw, log dh at decode time. */
export const LOG_SCALE_CLAMP = Math.log(1000 / 16);

function checkWeights(weights: BoxCoderWeights): void {
  if (weights.length !== 4 || !weights.every((w) => Number.isFinite(w) && w > 0)) {
    throw new RangeError(`box coder weights must be 4 positive numbers, got [${weights.join(', ')}]`);
  }
}

/**
 * Deltas of target box i of `gt` relative to anchor j of `anchors`, written at `out[4k..4k+3]`.
 * Throws when either box is degenerate: log(0) has no meaning as a regression target, and a silent
 * -Infinity would poison a loss. Callers drop degenerate GT boxes before encoding (the matcher never
 * assigns them).
 */
export function encodeOneInto(
  out: Float32Array,
  k: number,
  anchors: ArrayLike<number>,
  j: number,
  gt: ArrayLike<number>,
  i: number,
  weights: BoxCoderWeights = RETINANET_BOX_WEIGHTS,
): void {
  const aw = anchors[4 * j + 2] - anchors[4 * j];
  const ah = anchors[4 * j + 3] - anchors[4 * j + 1];
  const gw = gt[4 * i + 2] - gt[4 * i];
  const gh = gt[4 * i + 3] - gt[4 * i + 1];
  if (!(aw > 0 && ah > 0)) throw new RangeError(`encodeDeltas: anchor ${j} is degenerate (w=${aw}, h=${ah})`);
  if (!(gw > 0 && gh > 0)) throw new RangeError(`encodeDeltas: target box ${i} is degenerate (w=${gw}, h=${gh})`);
  const ax = anchors[4 * j] + 0.5 * aw;
  const ay = anchors[4 * j + 1] + 0.5 * ah;
  const gx = gt[4 * i] + 0.5 * gw;
  const gy = gt[4 * i + 1] + 0.5 * gh;
  out[4 * k] = (weights[0] * (gx - ax)) / aw;
  out[4 * k + 1] = (weights[1] * (gy - ay)) / ah;
  out[4 * k + 2] = weights[2] * Math.log(gw / aw);
  out[4 * k + 3] = weights[3] * Math.log(gh / ah);
}

/** Deltas (4N) of `gt` box i relative to anchor i. Both arrays hold N boxes. */
export function encodeDeltas(anchors: Float32Array, gt: Float32Array, weights: BoxCoderWeights = RETINANET_BOX_WEIGHTS): Float32Array {
  checkWeights(weights);
  const n = boxCount(anchors, 'anchors');
  if (boxCount(gt, 'gt') !== n) throw new RangeError(`encodeDeltas: ${n} anchors but ${gt.length / 4} target boxes`);
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) encodeOneInto(out, i, anchors, i, gt, i, weights);
  return out;
}

/**
 * Boxes (4N) decoded from `deltas` row i applied to anchor i. dw, dh (after dividing by their
 * weights) are clamped from above at `clampLog`. Degenerate anchors give degenerate boxes at the
 * anchor centre rather than NaN.
 */
export function decodeDeltas(
  anchors: Float32Array,
  deltas: Float32Array,
  weights: BoxCoderWeights = RETINANET_BOX_WEIGHTS,
  clampLog: number = LOG_SCALE_CLAMP,
): Float32Array {
  checkWeights(weights);
  const n = boxCount(anchors, 'anchors');
  if (deltas.length !== 4 * n) throw new RangeError(`decodeDeltas: ${n} anchors but ${deltas.length / 4} delta rows`);
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const aw = Math.max(anchors[4 * i + 2] - anchors[4 * i], 0);
    const ah = Math.max(anchors[4 * i + 3] - anchors[4 * i + 1], 0);
    const ax = anchors[4 * i] + 0.5 * aw;
    const ay = anchors[4 * i + 1] + 0.5 * ah;
    const dx = deltas[4 * i] / weights[0];
    const dy = deltas[4 * i + 1] / weights[1];
    const dw = Math.min(deltas[4 * i + 2] / weights[2], clampLog);
    const dh = Math.min(deltas[4 * i + 3] / weights[3], clampLog);
    const cx = ax + dx * aw;
    const cy = ay + dy * ah;
    const w = aw * Math.exp(dw);
    const h = ah * Math.exp(dh);
    out[4 * i] = cx - 0.5 * w;
    out[4 * i + 1] = cy - 0.5 * h;
    out[4 * i + 2] = cx + 0.5 * w;
    out[4 * i + 3] = cy + 0.5 * h;
  }
  return out;
}
