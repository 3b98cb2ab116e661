/**
 * Table 4's "dropped" boxes (Sec. 4.1.3): the size/shape range, the paper's and the tables' version
 * of it, and the training set with the boxes in it flagged ignore (used by train()).
 */
import { GT_DROPPED } from '../box/matcher';
import { InputConfig, resizedSize } from './pipeline';
import { DetectionDataset } from './types';

/** Boxes with sqrtMinPx < sqrt(w*h) < sqrtMaxPx and logRatioMin < ln(w/h) < logRatioMax. */
export interface DropRange {
  sqrtMinPx: number;
  sqrtMaxPx: number;
  logRatioMin: number;
  logRatioMax: number;
}

/** The paper's range (Sec. 4.1.3) on its 600 px images. */
export const PAPER_DROP_RANGE_600: DropRange = { sqrtMinPx: 50, sqrtMaxPx: 100, logRatioMin: -1, logRatioMax: 1 };
export const PAPER_IMAGE_SIZE_PX = 600;

/**
 * The paper's range for inputs of `imageSizePx` (the side the paper calls 600: the short side
 * after resizing, or the square side): sizes scale by imageSizePx / 600, ratios stay.
 */
export function paperDropRange(imageSizePx: number): DropRange {
  const f = imageSizePx / PAPER_IMAGE_SIZE_PX;
  return { ...PAPER_DROP_RANGE_600, sqrtMinPx: PAPER_DROP_RANGE_600.sqrtMinPx * f, sqrtMaxPx: PAPER_DROP_RANGE_600.sqrtMaxPx * f };
}

/**
 * Table 4's range as the tables use it: the paper's 50 < sqrt(wh) < 100 px, |ln(w/h)| < 1 in input
 * pixels, unscaled. At the paper's 600 px input those sizes are the ones P4's anchors cover (base
 * 4·16 = 64 px, scales 64..101 px); anchors are 4·stride pixels at every input size, so keeping the
 * range in pixels keeps it "the boxes of one anchor level" on a smaller input too. On MNIST-Det's
 * 96 px proxy it holds about 1/6 of the boxes, as the paper's range does on COCO. (paperDropRange
 * instead scales it with the image: the same objects of a resized COCO image.)
 */
export function table4DropRange(): DropRange {
  return { ...PAPER_DROP_RANGE_600 };
}

/** The "600" side of an input config: minSizePx when set, else maxSizePx. */
export function paperSideOf(input: Pick<InputConfig, 'maxSizePx' | 'minSizePx'>): number {
  return input.minSizePx ?? input.maxSizePx;
}

/** Mask (1 = dropped) of the boxes in `range`, and the fraction dropped. Strict inequalities, as printed. */
export function selectDroppedBoxes(boxes: Float32Array, range: DropRange): { mask: Uint8Array; count: number; fraction: number } {
  const n = boxes.length / 4;
  const mask = new Uint8Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const w = boxes[4 * i + 2] - boxes[4 * i];
    const h = boxes[4 * i + 3] - boxes[4 * i + 1];
    if (!(w > 0 && h > 0)) continue;
    const s = Math.sqrt(w * h);
    const r = Math.log(w / h);
    if (s > range.sqrtMinPx && s < range.sqrtMaxPx && r > range.logRatioMin && r < range.logRatioMax) {
      mask[i] = 1;
      count++;
    }
  }
  return { mask, count, fraction: n ? count / n : NaN };
}

/**
 * A copy of `ds` whose boxes in `range` are flagged ignore (Table 4 training: their loss is 0;
 * anchors they claim are neither positive nor negative). `range` is in input pixels; `input` maps
 * each image's boxes there first (omit it when images already have the input size, e.g. MNIST-Det).
 * The fraction is over the boxes that were not already ignore.
 */
export function ignoreDroppedBoxes(
  ds: DetectionDataset,
  range: DropRange,
  input?: Pick<InputConfig, 'maxSizePx' | 'minSizePx'>,
): { dataset: DetectionDataset; dropped: number; fraction: number } {
  let dropped = 0;
  let total = 0;
  const images = ds.images.map((im) => {
    let boxes = im.boxes;
    if (input) {
      const r = resizedSize(im.widthPx, im.heightPx, input);
      const sx = r.widthPx / im.widthPx;
      const sy = r.heightPx / im.heightPx;
      boxes = im.boxes.map((v, j) => v * (j % 2 === 0 ? sx : sy));
    }
    const { mask } = selectDroppedBoxes(boxes, range);
    const ignore = Uint8Array.from(im.ignore);
    for (let k = 0; k < ignore.length; k++) {
      if (ignore[k]) continue;
      total++;
      if (mask[k]) {
        ignore[k] = GT_DROPPED; // matched, then its anchors ignored
        dropped++;
      }
    }
    return { ...im, ignore };
  });
  return { dataset: { ...ds, name: `${ds.name} (Table 4 drop)`, images }, dropped, fraction: total ? dropped / total : NaN };
}
