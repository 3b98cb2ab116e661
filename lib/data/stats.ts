/**
 * Box statistics a researcher looks at before choosing anchors: size sqrt(w*h) and shape log(w/h)
 * distributions (quantiles), objects per image, the share of boxes in Table 4's drop range
 * (box-drop.ts) and how well anchor configurations cover the boxes (anchor-coverage.ts). The text
 * report is stats-report.ts, the histograms stats-figures.ts.
 *
 * Boxes are measured in INPUT pixels (after the pipeline's resize), because that is where anchors
 * live: `collectInputBoxes` maps them. Ignore boxes (crowd, difficult) are left out of the
 * distributions and counted separately. log is the natural log throughout.
 */
import { AnchorConfig, AnchorCoverageReport, CoverageReportOptions, TABLE1_NAMES, anchorCoverageReport, tableOneConfig } from '../anchors';
import { InputConfig, resizedSize, roundUp } from './pipeline';
import { DetectionDataset, ImageEntry } from './types';
import { DropRange, selectDroppedBoxes, table4DropRange } from './box-drop';
import { CoverageRow, coverageTable } from './anchor-coverage';

// ------------------------------------------------------------------------------------------------
// Collecting boxes

export interface InputBoxes {
  /** 4N boxes (x1, y1, x2, y2) in input pixels; ignore boxes excluded. */
  boxes: Float32Array;
  /** N: index of the image in dataset.images. */
  imageIndex: Int32Array;
  classIdx: Int32Array;
  /** Per image: number of (non-ignore) boxes. */
  perImage: Int32Array;
  /** Per image: padded input size (anchors cover this). */
  inputHeightPx: Int32Array;
  inputWidthPx: Int32Array;
  ignoreBoxes: number;
}

/**
 * All non-ignore boxes of a dataset in input pixels. Without `input`, boxes stay in original
 * pixels and each image is its own input size.
 */
export function collectInputBoxes(ds: DetectionDataset, input?: Pick<InputConfig, 'maxSizePx' | 'minSizePx' | 'pad' | 'sizeDivisor'>): InputBoxes {
  const boxes: number[] = [];
  const imageIndex: number[] = [];
  const classIdx: number[] = [];
  const perImage = new Int32Array(ds.images.length);
  const inputHeightPx = new Int32Array(ds.images.length);
  const inputWidthPx = new Int32Array(ds.images.length);
  let ignoreBoxes = 0;
  ds.images.forEach((im: ImageEntry, i) => {
    let sx = 1;
    let sy = 1;
    if (input) {
      const r = resizedSize(im.widthPx, im.heightPx, input);
      sx = r.widthPx / im.widthPx;
      sy = r.heightPx / im.heightPx;
      if (input.pad === 'square') {
        inputHeightPx[i] = inputWidthPx[i] = roundUp(input.maxSizePx, input.sizeDivisor);
      } else {
        inputHeightPx[i] = roundUp(r.heightPx, input.sizeDivisor);
        inputWidthPx[i] = roundUp(r.widthPx, input.sizeDivisor);
      }
    } else {
      inputHeightPx[i] = Math.ceil(im.heightPx);
      inputWidthPx[i] = Math.ceil(im.widthPx);
    }
    for (let k = 0; k < im.classIdx.length; k++) {
      if (im.ignore[k]) {
        ignoreBoxes++;
        continue;
      }
      boxes.push(im.boxes[4 * k] * sx, im.boxes[4 * k + 1] * sy, im.boxes[4 * k + 2] * sx, im.boxes[4 * k + 3] * sy);
      imageIndex.push(i);
      classIdx.push(im.classIdx[k]);
      perImage[i]++;
    }
  });
  return {
    boxes: Float32Array.from(boxes),
    imageIndex: Int32Array.from(imageIndex),
    classIdx: Int32Array.from(classIdx),
    perImage,
    inputHeightPx,
    inputWidthPx,
    ignoreBoxes,
  };
}

/** sqrt(w*h) per box. */
export function boxSizesPx(boxes: Float32Array): Float64Array {
  const out = new Float64Array(boxes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt((boxes[4 * i + 2] - boxes[4 * i]) * (boxes[4 * i + 3] - boxes[4 * i + 1]));
  return out;
}

/** ln(w/h) per box (positive = wider than tall). */
export function boxLogRatiosWH(boxes: Float32Array): Float64Array {
  const out = new Float64Array(boxes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = Math.log((boxes[4 * i + 2] - boxes[4 * i]) / (boxes[4 * i + 3] - boxes[4 * i + 1]));
  return out;
}

/** Quantiles with linear interpolation between order statistics (numpy's default). NaN if empty. */
export function quantiles(values: ArrayLike<number>, qs: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return qs.map((q) => {
    if (n === 0) return NaN;
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  });
}

export const REPORT_QUANTILES = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1];

// ------------------------------------------------------------------------------------------------
// Summary

export interface DatasetStats {
  name: string;
  images: number;
  boxes: number;
  ignoreBoxes: number;
  imagesWithoutBoxes: number;
  objectsPerImage: { mean: number; min: number; max: number; histogram: number[] };
  perClass: { name: string; count: number }[];
  quantileLevels: number[];
  sizePxQuantiles: number[];
  logRatioWHQuantiles: number[];
  /** Fractions of boxes with w/h < 1/3 and w/h > 3. */
  tallerThan3: number;
  widerThan3: number;
  /** Fractions of boxes whose size falls nearest to each level's base anchor 4*stride (P3..P7), and below P3's. */
  nearestLevel: { label: string; fraction: number }[];
  dropRange: DropRange;
  droppedFraction: number;
  coverage?: CoverageRow[];
  /** BPR (IoU and YOLOv5's ratio metric), AAT, positives per box and level, best-IoU CDF, scale x ratio grid per anchor set. */
  anchorCoverage?: AnchorCoverageReport[];
}

export interface StatsOptions {
  /** Pipeline input config (boxes measured in input pixels). */
  input?: Pick<InputConfig, 'maxSizePx' | 'minSizePx' | 'pad' | 'sizeDivisor'>;
  /** Anchor configurations for the coverage table (default Table 1's four); [] to skip. */
  anchorConfigs?: AnchorConfig[];
  /** Table 4 range in input pixels (default: the paper's, scaled to the input size). */
  dropRange?: DropRange;
  /** The coverage report's thresholds (the matcher's positive IoU, YOLOv5's anchor_t). */
  coverage?: Pick<CoverageReportOptions, 'posIou' | 'anchorT'>;
}

export function datasetStats(ds: DetectionDataset, options: StatsOptions = {}): DatasetStats {
  const ib = collectInputBoxes(ds, options.input);
  const sizes = boxSizesPx(ib.boxes);
  const ratios = boxLogRatiosWH(ib.boxes);
  const n = sizes.length;
  const perImage = Array.from(ib.perImage);
  const maxObj = perImage.reduce((m, v) => Math.max(m, v), 0);
  const histogram = new Array(maxObj + 1).fill(0);
  for (const c of perImage) histogram[c]++;
  const perClass = ds.categories.map((c) => ({ name: c.name, count: 0 }));
  for (const c of ib.classIdx) perClass[c].count++;
  const dropRange = options.dropRange ?? table4DropRange();
  const levels = [3, 4, 5, 6, 7];
  // Nearest level in log scale: a box of size s is nearest to level round(log2(s / 32)) + 3.
  const nearest = new Array(levels.length + 1).fill(0);
  for (const s of sizes) {
    const l = Math.round(Math.log2(s / 32)) + 3;
    if (l < 3) nearest[0]++;
    else nearest[Math.min(l, 7) - 2]++;
  }
  const stats: DatasetStats = {
    name: ds.name,
    images: ds.images.length,
    boxes: n,
    ignoreBoxes: ib.ignoreBoxes,
    imagesWithoutBoxes: perImage.filter((c) => c === 0).length,
    objectsPerImage: {
      mean: perImage.length ? n / perImage.length : NaN,
      min: perImage.length ? perImage.reduce((m, v) => Math.min(m, v), Infinity) : 0,
      max: maxObj,
      histogram,
    },
    perClass,
    quantileLevels: REPORT_QUANTILES,
    sizePxQuantiles: quantiles(sizes, REPORT_QUANTILES),
    logRatioWHQuantiles: quantiles(ratios, REPORT_QUANTILES),
    tallerThan3: n ? ratios.filter((r) => r < -Math.log(3)).length / n : NaN,
    widerThan3: n ? ratios.filter((r) => r > Math.log(3)).length / n : NaN,
    nearestLevel: [
      { label: '<P3 (< 23 px)', fraction: n ? nearest[0] / n : NaN },
      ...levels.map((l, k) => ({ label: `P${l} (${(32 * 2 ** (l - 3.5)).toFixed(0)}-${(32 * 2 ** (l - 2.5)).toFixed(0)} px)`, fraction: n ? nearest[k + 1] / n : NaN })),
    ],
    dropRange,
    droppedFraction: selectDroppedBoxes(ib.boxes, dropRange).fraction,
  };
  const configs = options.anchorConfigs ?? TABLE1_NAMES.map((c) => tableOneConfig(c));
  if (configs.length) {
    stats.coverage = coverageTable(ib, configs);
    stats.anchorCoverage = configs.map((c) => anchorCoverageReport(ib, c, options.coverage));
  }
  return stats;
}
