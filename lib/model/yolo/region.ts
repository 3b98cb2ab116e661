/**
 * YOLOv2's region layer as plain functions over typed arrays (darknet src/region_layer.c):
 * decoding, the ground-truth assignment and the loss targets of one image, and inference
 * candidates. The tensor side (the loss itself) is ./loss.ts.
 *
 * Layout of one image's raw output (the region conv, NHWC): [H, W, A * (5 + K)] with channel
 * a * (5 + K) + e, e = 0 tx, 1 ty, 2 tw, 3 th, 4 objectness logit, 5.. class logits, i.e. entry
 * ((y * W + x) * A + a) * (5 + K) + e. Anchors are darknet's `biases`: [w0, h0, w1, h1, ...] in
 * grid cells.
 *
 * Decoding (get_region_box, absolute=1), in cells: cx = x + sigmoid(tx), cy = y + sigmoid(ty),
 * w = exp(tw) anchor_w, h = exp(th) anchor_h; times the stride in input pixels. Objectness
 * sigmoid, classes softmax (yolov2.cfg softmax=1), score = objectness * class probability.
 */
import { clipBoxes } from '../../box/clip';
import { LABEL_BACKGROUND } from '../../box/labels';
import { RegionLossParams } from './config';

export interface RegionShape {
  gridH: number;
  gridW: number;
  /** Anchors per cell A. */
  numAnchors: number;
  /** Classes K. */
  numClasses: number;
}

/** Box in cells, centre form. */
export interface CellBox {
  cx: number;
  cy: number;
  w: number;
  h: number;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * exp(tw) is clamped at exp(10) (22000 anchor widths, far outside any image) so that an untrained
 * or diverging net yields huge but finite boxes; darknet does not clamp.
 */
const MAX_LOG_SCALE = 10;

/** get_region_box: the box predicted at cell (x, y) by anchor a, in cells. */
export function regionBox(raw: ArrayLike<number>, shape: RegionShape, anchorsWH: ArrayLike<number>, x: number, y: number, a: number): CellBox {
  const base = ((y * shape.gridW + x) * shape.numAnchors + a) * (5 + shape.numClasses);
  return {
    cx: x + sigmoid(raw[base]),
    cy: y + sigmoid(raw[base + 1]),
    w: Math.exp(Math.min(raw[base + 2], MAX_LOG_SCALE)) * anchorsWH[2 * a],
    h: Math.exp(Math.min(raw[base + 3], MAX_LOG_SCALE)) * anchorsWH[2 * a + 1],
  };
}

/** darknet box_iou on centre-form boxes (0 for empty or non-finite boxes). */
export function cellBoxIou(a: CellBox, b: CellBox): number {
  const iw = Math.min(a.cx + a.w / 2, b.cx + b.w / 2) - Math.max(a.cx - a.w / 2, b.cx - b.w / 2);
  const ih = Math.min(a.cy + a.h / 2, b.cy + b.h / 2) - Math.max(a.cy - a.h / 2, b.cy - b.h / 2);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const iou = inter / (a.w * a.h + b.w * b.h - inter);
  return Number.isFinite(iou) ? iou : 0;
}

/**
 * bias_match=1: the anchor whose (w, h), centred on the ground truth, has the highest IoU with it
 * (strictly greater wins, so ties go to the first anchor, as in region_layer.c).
 */
export function bestAnchorByShape(widthCells: number, heightCells: number, anchorsWH: ArrayLike<number>): number {
  let best = 0;
  let bestIou = 0;
  for (let n = 0; n < anchorsWH.length / 2; n++) {
    const iou = cellBoxIou({ cx: 0, cy: 0, w: anchorsWH[2 * n], h: anchorsWH[2 * n + 1] }, { cx: 0, cy: 0, w: widthCells, h: heightCells });
    if (iou > bestIou) {
      bestIou = iou;
      best = n;
    }
  }
  return best;
}

/** Ground truth of one image in input pixels (as lib/data batches carry it). */
export interface RegionGroundTruth {
  /** 4N (x1, y1, x2, y2). */
  boxes: Float32Array;
  classIdx: Int32Array;
  /** Non-zero: crowd / dropped (lib/data/types.ts): never assigned, but no no-object loss near it. */
  ignore?: Uint8Array;
}

/**
 * Loss targets of one image, one row per prediction (y, x, a) in output order. The loss
 * (./loss.ts) is, summed over predictions,
 *   0.5 coordWeight |coord - (sigmoid(tx), sigmoid(ty), tw, th)|^2
 * + 0.5 objWeight (objTarget - sigmoid(to))^2
 * + classWeight * cross-entropy(softmax(class logits), classIdx)
 * whose gradient with respect to the raw outputs is minus darknet's `delta`.
 */
export interface RegionTargets {
  /** 4 per prediction: targets of sigmoid(tx), sigmoid(ty), tw, th. */
  coord: Float32Array;
  coordWeight: Float32Array;
  objTarget: Float32Array;
  objWeight: Float32Array;
  /** Class index of assigned predictions, -1 elsewhere. */
  classIdx: Int32Array;
  classWeight: Float32Array;
  /** Ground truths assigned (each one to one prediction; a later one in the same slot replaces it). */
  assigned: number;
  /** Mean IoU of the assigned predictions with their ground truth (darknet's "Avg IOU"). */
  meanIou: number;
}

/**
 * forward_region_layer's deltas for one image (yolov2.cfg: bias_match, rescore, softmax):
 * 1. every prediction: no-object target 0 with noobject_scale, dropped when its best IoU with any
 *    ground truth (ignored ones included) exceeds `thresh`; with `priorTerm`, coordinates pulled to
 *    the anchor (sigmoid 0.5, tw = th = 0) with weight 0.01;
 * 2. every (non-ignored) ground truth, in order: the cell holding its centre, the anchor best by
 *    centred shape IoU; coord targets (x - i, y - j, log(w / anchor_w), log(h / anchor_h)) with
 *    weight coord_scale (2 - w h) (w, h relative to the input), objectness target = IoU of the
 *    current prediction with it (rescore=1) with object_scale, its class with class_scale.
 */
export function regionTargets(
  raw: ArrayLike<number>,
  shape: RegionShape,
  anchorsWH: ArrayLike<number>,
  gt: RegionGroundTruth,
  stridePx: number,
  params: RegionLossParams,
  priorTerm: boolean,
): RegionTargets {
  const { gridH: H, gridW: W, numAnchors: A } = shape;
  if (anchorsWH.length !== 2 * A) throw new RangeError(`regionTargets: ${anchorsWH.length / 2} anchors for A = ${A}`);
  const expected = H * W * A * (5 + shape.numClasses);
  if (raw.length !== expected) throw new RangeError(`regionTargets: ${raw.length} outputs, expected ${expected} for ${H}x${W}x${A}x(5+${shape.numClasses})`);
  const M = H * W * A;
  const t: RegionTargets = {
    coord: new Float32Array(4 * M),
    coordWeight: new Float32Array(M),
    objTarget: new Float32Array(M),
    objWeight: new Float32Array(M).fill(params.noobjectScale),
    classIdx: new Int32Array(M).fill(LABEL_BACKGROUND),
    classWeight: new Float32Array(M),
    assigned: 0,
    meanIou: 0,
  };
  const truths: CellBox[] = [];
  const usable: boolean[] = [];
  for (let g = 0; g < gt.classIdx.length; g++) {
    const [x1, y1, x2, y2] = [gt.boxes[4 * g], gt.boxes[4 * g + 1], gt.boxes[4 * g + 2], gt.boxes[4 * g + 3]];
    const box = { cx: (x1 + x2) / 2 / stridePx, cy: (y1 + y2) / 2 / stridePx, w: (x2 - x1) / stridePx, h: (y2 - y1) / stridePx };
    truths.push(box);
    usable.push(box.w > 0 && box.h > 0);
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let a = 0; a < A; a++) {
        const m = (y * W + x) * A + a;
        const pred = regionBox(raw, shape, anchorsWH, x, y, a);
        let best = 0;
        for (let g = 0; g < truths.length; g++) if (usable[g]) best = Math.max(best, cellBoxIou(pred, truths[g]));
        if (best > params.thresh) t.objWeight[m] = 0;
        if (priorTerm) {
          t.coord.set([0.5, 0.5, 0, 0], 4 * m);
          t.coordWeight[m] = params.priorScale;
        }
      }
    }
  }
  let iouSum = 0;
  for (let g = 0; g < truths.length; g++) {
    if (!usable[g] || (gt.ignore && gt.ignore[g] !== 0)) continue;
    const tr = truths[g];
    const i = Math.min(W - 1, Math.max(0, Math.floor(tr.cx)));
    const j = Math.min(H - 1, Math.max(0, Math.floor(tr.cy)));
    const n = bestAnchorByShape(tr.w, tr.h, anchorsWH);
    const m = (j * W + i) * A + n;
    t.coord.set([tr.cx - i, tr.cy - j, Math.log(tr.w / anchorsWH[2 * n]), Math.log(tr.h / anchorsWH[2 * n + 1])], 4 * m);
    t.coordWeight[m] = params.coordScale * (2 - (tr.w / W) * (tr.h / H));
    const iou = cellBoxIou(regionBox(raw, shape, anchorsWH, i, j, n), tr);
    iouSum += iou;
    t.objTarget[m] = iou;
    t.objWeight[m] = params.objectScale;
    t.classIdx[m] = gt.classIdx[g];
    t.classWeight[m] = params.classScale;
    t.assigned += 1;
  }
  t.meanIou = t.assigned > 0 ? iouSum / t.assigned : 0;
  return t;
}

export interface RegionCandidates {
  /** (x1, y1, x2, y2) in input pixels, 4 per candidate. */
  boxes: Float32Array;
  scores: Float32Array;
  /** Contiguous class index. */
  classes: Int32Array;
}

/**
 * Inference candidates of one image (get_region_boxes): every (cell, anchor, class) whose
 * objectness * softmax probability exceeds `scoreThresh`, at most `topk` of them (best first),
 * boxes in input pixels, clipped to `imageSizePx` when given. Per-class NMS follows
 * (lib/detect/postprocess.ts finalizeDetections).
 */
export function regionCandidates(
  raw: ArrayLike<number>,
  shape: RegionShape,
  anchorsWH: ArrayLike<number>,
  stridePx: number,
  cfg: { scoreThresh: number; topkPerLevel: number },
  imageSizePx?: { heightPx: number; widthPx: number },
): RegionCandidates {
  const { gridH: H, gridW: W, numAnchors: A, numClasses: K } = shape;
  const E = 5 + K;
  if (raw.length !== H * W * A * E) throw new RangeError(`regionCandidates: ${raw.length} outputs, expected ${H * W * A * E}`);
  const slot: number[] = [];
  const cls: number[] = [];
  const score: number[] = [];
  const probs = new Float64Array(K);
  for (let m = 0; m < H * W * A; m++) {
    const base = m * E;
    const obj = sigmoid(raw[base + 4]);
    if (!(obj > cfg.scoreThresh)) continue; // class probabilities are <= 1
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, raw[base + 5 + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += probs[k] = Math.exp(raw[base + 5 + k] - max);
    for (let k = 0; k < K; k++) {
      const s = (obj * probs[k]) / sum;
      if (s > cfg.scoreThresh) {
        slot.push(m);
        cls.push(k);
        score.push(s);
      }
    }
  }
  let order = Array.from(score.keys());
  if (order.length > cfg.topkPerLevel) {
    order.sort((p, q) => score[q] - score[p] || p - q);
    order = order.slice(0, cfg.topkPerLevel);
  }
  let boxes = new Float32Array(4 * order.length);
  order.forEach((o, r) => {
    const m = slot[o];
    const a = m % A;
    const x = Math.floor(m / A) % W;
    const y = Math.floor(m / A / W);
    const b = regionBox(raw, shape, anchorsWH, x, y, a);
    boxes[4 * r] = (b.cx - b.w / 2) * stridePx;
    boxes[4 * r + 1] = (b.cy - b.h / 2) * stridePx;
    boxes[4 * r + 2] = (b.cx + b.w / 2) * stridePx;
    boxes[4 * r + 3] = (b.cy + b.h / 2) * stridePx;
  });
  if (imageSizePx) boxes = clipBoxes(boxes, imageSizePx.heightPx, imageSizePx.widthPx);
  return { boxes, scores: Float32Array.from(order, (o) => score[o]), classes: Int32Array.from(order, (o) => cls[o]) };
}
