/**
 * Greedy non-maximum suppression (torchvision `nms` / `batched_nms` semantics).
 *
 * Boxes are visited in decreasing score; ties keep the lower index first (a stable order, so the
 * result does not depend on the sort implementation). A box is kept unless its IoU with an already
 * kept box is strictly greater than `iouThreshold`. Checking each candidate only against the kept
 * boxes is the same rule as suppressing forward from every kept box, and costs O(N·kept) with an
 * early exit at `maxOut`.
 *
 * Boxes with a NaN score are dropped. Degenerate boxes have IoU 0 with everything, so they neither
 * suppress nor get suppressed; filter them first (see `nonEmptyIndices` in lib/box/clip.ts) if that
 * matters, as detectron2 does before NMS at inference.
 */
import { boxCount } from './iou';

/** Indices sorted by score descending, index ascending on ties; NaN scores left out. */
export function sortByScore(scores: ArrayLike<number>, indices?: ArrayLike<number>): Int32Array {
  const n = indices ? indices.length : scores.length;
  const order: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k] : k;
    if (!Number.isNaN(scores[i])) order.push(i);
  }
  order.sort((i, j) => scores[j] - scores[i] || i - j);
  return Int32Array.from(order);
}

function greedy(boxes: Float32Array, order: Int32Array, iouThreshold: number, maxOut: number): Int32Array {
  const limit = Math.min(maxOut, order.length);
  const kept = new Int32Array(limit);
  const keptBoxes = new Float64Array(4 * limit);
  const keptArea = new Float64Array(limit);
  let numKept = 0;
  for (let k = 0; k < order.length && numKept < limit; k++) {
    const i = order[k];
    const x1 = boxes[4 * i];
    const y1 = boxes[4 * i + 1];
    const x2 = boxes[4 * i + 2];
    const y2 = boxes[4 * i + 3];
    const area = (x2 > x1 ? x2 - x1 : 0) * (y2 > y1 ? y2 - y1 : 0);
    let suppressed = false;
    for (let q = 0; q < numKept; q++) {
      const iw = Math.min(x2, keptBoxes[4 * q + 2]) - Math.max(x1, keptBoxes[4 * q]);
      if (!(iw > 0)) continue;
      const ih = Math.min(y2, keptBoxes[4 * q + 3]) - Math.max(y1, keptBoxes[4 * q + 1]);
      if (!(ih > 0)) continue;
      const inter = iw * ih;
      if (inter / (area + keptArea[q] - inter) > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    kept[numKept] = i;
    keptBoxes[4 * numKept] = x1;
    keptBoxes[4 * numKept + 1] = y1;
    keptBoxes[4 * numKept + 2] = x2;
    keptBoxes[4 * numKept + 3] = y2;
    keptArea[numKept] = area;
    numKept++;
  }
  return kept.slice(0, numKept);
}

function checkArgs(boxes: Float32Array, scores: ArrayLike<number>, iouThreshold: number, maxOut: number): number {
  const n = boxCount(boxes);
  if (scores.length !== n) throw new RangeError(`nms: ${n} boxes but ${scores.length} scores`);
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) throw new RangeError(`nms: iouThreshold ${iouThreshold} not in [0, 1]`);
  if (!(maxOut >= 0)) throw new RangeError(`nms: maxOut ${maxOut} must be >= 0`);
  return n;
}

/**
 * Kept indices into `boxes` (4N) / `scores` (N), in decreasing score, at most `maxOut`.
 */
export function nms(boxes: Float32Array, scores: ArrayLike<number>, iouThreshold: number, maxOut: number = Infinity): Int32Array {
  checkArgs(boxes, scores, iouThreshold, maxOut);
  return greedy(boxes, sortByScore(scores), iouThreshold, maxOut);
}

/**
 * Per-class NMS: boxes of different classes never suppress each other. Returns kept indices in
 * decreasing score (index ascending on ties) over all classes, at most `maxOut` — the same set and
 * order as torchvision's `batched_nms` followed by `[:maxOut]`.
 */
export function batchedNms(
  boxes: Float32Array,
  scores: ArrayLike<number>,
  classes: ArrayLike<number>,
  iouThreshold: number,
  maxOut: number = Infinity,
): Int32Array {
  const n = checkArgs(boxes, scores, iouThreshold, maxOut);
  if (classes.length !== n) throw new RangeError(`batchedNms: ${n} boxes but ${classes.length} classes`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const c = classes[i];
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(i);
  }
  const keptAll: number[] = [];
  for (const list of byClass.values()) {
    // Every class keeps at most maxOut: more could never survive the final cut.
    const kept = greedy(boxes, sortByScore(scores, list), iouThreshold, maxOut);
    for (let k = 0; k < kept.length; k++) keptAll.push(kept[k]);
  }
  const merged = sortByScore(scores, keptAll);
  return merged.length > maxOut ? merged.slice(0, maxOut) : merged;
}
