/**
 * Clipping boxes to the image and finding boxes that still have an area, as detectron2's
 * `Boxes.clip` and `Boxes.nonempty` at inference. Anchors themselves are never clipped (RetinaNet
 * keeps anchors that cross the border).
 */
import { boxCount } from './iou';

/** A copy of `boxes` with x clamped to [0, widthPx] and y to [0, heightPx]. */
export function clipBoxes(boxes: Float32Array, heightPx: number, widthPx: number): Float32Array {
  const n = boxCount(boxes);
  if (!(heightPx > 0 && widthPx > 0)) throw new RangeError(`clipBoxes: image size ${heightPx}x${widthPx} must be positive`);
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    out[4 * i] = Math.min(Math.max(boxes[4 * i], 0), widthPx);
    out[4 * i + 1] = Math.min(Math.max(boxes[4 * i + 1], 0), heightPx);
    out[4 * i + 2] = Math.min(Math.max(boxes[4 * i + 2], 0), widthPx);
    out[4 * i + 3] = Math.min(Math.max(boxes[4 * i + 3], 0), heightPx);
  }
  return out;
}

/**
 * Indices of boxes whose width and height both exceed `minSizePx` (default 0: any positive area).
 * Boxes with a non-finite coordinate are left out.
 */
export function nonEmptyIndices(boxes: Float32Array, minSizePx = 0): Int32Array {
  const n = boxCount(boxes);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = boxes[4 * i + 2] - boxes[4 * i];
    const h = boxes[4 * i + 3] - boxes[4 * i + 1];
    if (w > minSizePx && h > minSizePx && Number.isFinite(w + h)) keep.push(i);
  }
  return Int32Array.from(keep);
}

/** Rows `indices` of a flat array with `width` values per row (boxes: 4, scores: 1). */
export function gatherRows<T extends Float32Array | Int32Array>(values: T, indices: ArrayLike<number>, width: number): T {
  const ctor = values.constructor as { new (n: number): T };
  const out = new ctor(indices.length * width);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    for (let c = 0; c < width; c++) out[k * width + c] = values[i * width + c];
  }
  return out;
}
