/**
 * Overlap measures between boxes.
 *
 * Boxes are Float32Array of length 4N holding (x1, y1, x2, y2) in input-image pixels, continuous
 * coordinates: width = x2 - x1 (no "+1" as in the original Detectron; detectron2 and torchvision
 * dropped it too). Matrices are row-major flat typed arrays.
 *
 * Degenerate boxes (x2 <= x1 or y2 <= y1, including inverted ones) have area 0, not a negative area
 * as `(x2 - x1) * (y2 - y1)` would give; their IoU with anything, themselves included, is 0, because
 * a zero union is defined to give 0 rather than NaN. So a degenerate box never matches, suppresses
 * or is suppressed by anything.
 *
 * Arithmetic is in float64 (JS numbers); only the stored results are float32.
 */

/** Number of boxes in a flat (x1, y1, x2, y2) array; throws on a length that is not a multiple of 4. */
export function boxCount(boxes: ArrayLike<number>, what = 'boxes'): number {
  if (boxes.length % 4 !== 0) {
    throw new RangeError(`${what}: length ${boxes.length} is not a multiple of 4 (expected x1, y1, x2, y2 per box)`);
  }
  return boxes.length / 4;
}

/** Width of box i, clamped at 0 for degenerate boxes. */
export function boxWidth(boxes: ArrayLike<number>, i: number): number {
  const w = boxes[4 * i + 2] - boxes[4 * i];
  return w > 0 ? w : 0;
}

/** Height of box i, clamped at 0 for degenerate boxes. */
export function boxHeight(boxes: ArrayLike<number>, i: number): number {
  const h = boxes[4 * i + 3] - boxes[4 * i + 1];
  return h > 0 ? h : 0;
}

/** Areas in square pixels (Float32Array of N); 0 for degenerate boxes. */
export function boxArea(boxes: Float32Array): Float32Array {
  const n = boxCount(boxes);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = boxWidth(boxes, i) * boxHeight(boxes, i);
  return out;
}

/** True when box i has no area (x2 <= x1 or y2 <= y1) or a non-finite coordinate. */
export function isDegenerate(boxes: ArrayLike<number>, i: number): boolean {
  const x1 = boxes[4 * i];
  const y1 = boxes[4 * i + 1];
  const x2 = boxes[4 * i + 2];
  const y2 = boxes[4 * i + 3];
  // Written so that NaN makes the box degenerate (every comparison with NaN is false).
  return !(x2 > x1 && y2 > y1 && Number.isFinite(x1 + y1 + x2 + y2));
}

/** Intersection area of box i of `a` and box j of `b`. */
export function intersectionArea(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const iw = Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j]);
  if (!(iw > 0)) return 0;
  const ih = Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1]);
  if (!(ih > 0)) return 0;
  return iw * ih;
}

/** IoU of box i of `a` and box j of `b` in float64; 0 when the union is 0. */
export function iouPair(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const inter = intersectionArea(a, i, b, j);
  if (inter === 0) return 0;
  const union = boxWidth(a, i) * boxHeight(a, i) + boxWidth(b, j) * boxHeight(b, j) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * IoU matrix, Na x Nb row-major: out[i * Nb + j] = IoU(a_i, b_j).
 * For matching, detectron2 lays out GT x anchors (`pairwise_iou(gt_boxes, anchors)`); pass the boxes in
 * that order if you want that layout.
 */
export function iouMatrix(a: Float32Array, b: Float32Array): Float32Array {
  const na = boxCount(a, 'a');
  const nb = boxCount(b, 'b');
  const out = new Float32Array(na * nb);
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) out[i * nb + j] = iouPair(a, i, b, j);
  }
  return out;
}

/**
 * Intersection over the area of the second box, Na x Nb: out[i * Nb + j] = |a_i ∩ b_j| / |b_j|
 * (0 when b_j is degenerate). For crowd regions call `ioaMatrix(crowdBoxes, anchors)`: the fraction
 * of each anchor that lies inside a crowd region, as Detectron's crowd filter and the COCO
 * evaluator's `iscrowd` rule measure it (intersection over the area of the non-crowd box).
 */
export function ioaMatrix(a: Float32Array, b: Float32Array): Float32Array {
  const na = boxCount(a, 'a');
  const nb = boxCount(b, 'b');
  const out = new Float32Array(na * nb);
  for (let j = 0; j < nb; j++) {
    const areaB = boxWidth(b, j) * boxHeight(b, j);
    if (areaB === 0) continue;
    for (let i = 0; i < na; i++) out[i * nb + j] = intersectionArea(a, i, b, j) / areaB;
  }
  return out;
}
