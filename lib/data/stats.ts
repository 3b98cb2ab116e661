/**
 * Box statistics a researcher looks at before choosing anchors: size sqrt(w*h) and shape log(w/h)
 * distributions (quantiles, plotly histograms), objects per image, how well each Table 1 anchor
 * configuration covers the boxes (`anchorCoverage`), and Table 4's "dropped" box selector.
 *
 * Boxes are measured in INPUT pixels (after the pipeline's resize), because that is where anchors
 * live: `collectInputBoxes` maps them. Ignore boxes (crowd, difficult) are left out of the
 * distributions and counted separately. log is the natural log throughout.
 */
import { AnchorConfig, AnchorCoverageReport, CoverageReportOptions, TABLE1_NAMES, anchorCoverageReport, bestAnchorPerBox, tableOneConfig } from '../anchors';
import { InputConfig, resizedSize, roundUp } from './pipeline';
import { DetectionDataset, ImageEntry } from './types';

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
// Table 4: dropped boxes

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
        ignore[k] = 2; // GT_DROPPED (lib/box/matcher.ts): matched, then its anchors ignored
        dropped++;
      }
    }
    return { ...im, ignore };
  });
  return { dataset: { ...ds, name: `${ds.name} (Table 4 drop)`, images }, dropped, fraction: total ? dropped / total : NaN };
}

// ------------------------------------------------------------------------------------------------
// Anchor coverage per Table 1 configuration

export interface CoverageRow {
  config: string;
  anchorsPerPosition: number;
  meanBestIou: number;
  /** Fraction of boxes whose best anchor IoU >= 0.4, 0.5, 0.6 (the matcher's thresholds). */
  atLeast04: number;
  atLeast05: number;
  atLeast06: number;
}

/**
 * Best-anchor IoU statistics of each configuration over the boxes (input pixels), using the
 * exact grid search of lib/anchors/coverage.ts per input size.
 */
export function coverageTable(boxes: InputBoxes, configs: AnchorConfig[] = TABLE1_NAMES.map((n) => tableOneConfig(n))): CoverageRow[] {
  return configs.map((config) => {
    const best = Array.from(bestAnchorPerBox(boxes, config).bestIou);
    const n = best.length;
    const frac = (t: number): number => (n ? best.filter((v) => v >= t).length / n : NaN);
    return {
      config: config.name,
      anchorsPerPosition: config.shapes.length,
      meanBestIou: n ? best.reduce((s, v) => s + v, 0) / n : NaN,
      atLeast04: frac(0.4),
      atLeast05: frac(0.5),
      atLeast06: frac(0.6),
    };
  });
}

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

function fmt(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a';
}

/**
 * The coverage reports as text: BPR at the matcher's IoU and by YOLOv5's ratio metric, AAT,
 * positives per box, and where boxes find their best anchor (share per FPN level).
 */
export function formatCoverageReports(reports: readonly AnchorCoverageReport[]): string[] {
  if (reports.length === 0) return [];
  const r0 = reports[0];
  const levels = r0.levels.map((l) => `P${l.level}`.padStart(5)).join('');
  const name = Math.max(8, ...reports.map((r) => r.anchors.length + 1));
  return [
    `  BPR = share of boxes an anchor reaches: best IoU >= ${r0.posIou} (the matcher's positive threshold), and YOLOv5's ratio metric > 1/${r0.anchorT};`,
    `  AAT = anchors (shape x level) per box above that ratio; pos/box = grid anchors at IoU >= ${r0.posIou}; best level = share of boxes whose best anchor is there:`,
    `    ${'anchors'.padEnd(name)}${'A'.padStart(4)}${'BPR IoU'.padStart(9)}${'BPR ratio'.padStart(10)}${'AAT'.padStart(6)}${'pos/box'.padStart(9)}${'no pos'.padStart(8)}  best level${levels}`,
    ...reports.map((r) =>
      `    ${r.anchors.padEnd(name)}${String(r.anchorsPerPosition).padStart(4)}${pct(r.bprIou).padStart(9)}${pct(r.bprRatio).padStart(10)}${fmt(r.aat, 1).padStart(6)}` +
      `${fmt(r.positivesPerBox, 1).padStart(9)}${pct(r.withoutPositive).padStart(8)}            ${r.levels.map((l) => pct(l.bestShare).replace('%', '').padStart(5)).join('')}`),
  ];
}

/** The stats as the text `metaanchor data stats` prints. */
export function formatStats(s: DatasetStats, inputNote = ''): string {
  const q = s.quantileLevels.map((l) => (l === 0 ? 'min' : l === 1 ? 'max' : `p${Math.round(l * 100)}`));
  const row = (label: string, vals: number[], d: number): string => `  ${label.padEnd(14)}${vals.map((v, i) => `${q[i]} ${fmt(v, d)}`).join('  ')}`;
  const lines = [
    `${s.name}: ${s.images} images, ${s.boxes} boxes` + (s.ignoreBoxes ? ` (+${s.ignoreBoxes} ignore regions)` : '') + (inputNote ? `, measured in ${inputNote}` : ''),
    `  objects/image mean ${fmt(s.objectsPerImage.mean, 2)}, min ${s.objectsPerImage.min}, max ${s.objectsPerImage.max}; ` +
      `images with k objects: ${s.objectsPerImage.histogram.map((c, k) => `${k}:${c}`).join(' ')}`,
    row('sqrt(wh) px', s.sizePxQuantiles, 1),
    row('ln(w/h)', s.logRatioWHQuantiles, 2),
    `  w/h < 1/3: ${pct(s.tallerThan3)}   w/h > 3: ${pct(s.widerThan3)}`,
    `  nearest anchor level by size: ${s.nearestLevel.map((l) => `${l.label} ${pct(l.fraction)}`).join(', ')}`,
    s.perClass.length <= 20
      ? `  per class: ${s.perClass.map((c) => `${c.name}:${c.count}`).join(' ')}`
      : `  per class (${s.perClass.filter((c) => c.count > 0).length} of ${s.perClass.length} categories have boxes): ` +
        s.perClass.filter((c) => c.count > 0).map((c) => `${c.name}:${c.count}`).join(' '),
    `  Table 4 drop range ${fmt(s.dropRange.sqrtMinPx)} < sqrt(wh) < ${fmt(s.dropRange.sqrtMaxPx)} px, ` +
      `${fmt(s.dropRange.logRatioMin, 2)} < ln(w/h) < ${fmt(s.dropRange.logRatioMax, 2)}: ${pct(s.droppedFraction)} of boxes dropped (paper: ~1/6 on COCO)`,
  ];
  if (s.coverage) {
    lines.push('  anchor coverage (best IoU of any anchor, P3-P7, RetinaNet base size 4*stride):');
    lines.push(`    ${'config'.padEnd(8)}${'A'.padStart(4)}${'mean IoU'.padStart(10)}${'>=0.4'.padStart(8)}${'>=0.5'.padStart(8)}${'>=0.6'.padStart(8)}`);
    for (const r of s.coverage) {
      lines.push(`    ${r.config.padEnd(8)}${String(r.anchorsPerPosition).padStart(4)}${fmt(r.meanBestIou, 3).padStart(10)}${pct(r.atLeast04).padStart(8)}${pct(r.atLeast05).padStart(8)}${pct(r.atLeast06).padStart(8)}`);
    }
  }
  if (s.anchorCoverage?.length) lines.push(...formatCoverageReports(s.anchorCoverage));
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------------------
// Figures (plain plotly JSON)

export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

function histogramCounts(values: ArrayLike<number>, edges: number[]): number[] {
  const counts = new Array(edges.length - 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= edges[0] && v < edges[edges.length - 1])) continue;
    let lo = 0;
    let hi = edges.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (v >= edges[mid]) lo = mid;
      else hi = mid;
    }
    counts[lo]++;
  }
  return counts;
}

/**
 * Histogram of sqrt(w*h) on a log axis (bins 2^(1/4) wide), with the base anchor size 4*stride of
 * P3..P7 marked and the Table 4 drop range shaded.
 */
export function sizeHistogramFigure(boxes: Float32Array, options: { title?: string; dropRange?: DropRange } = {}): PlotlyFigure {
  const sizes = boxSizesPx(boxes);
  const lo = Math.floor(4 * Math.log2(Math.max(1, quantiles(sizes, [0])[0] || 1)));
  const hi = Math.ceil(4 * Math.log2(Math.max(2, quantiles(sizes, [1])[0] || 2))) + 1;
  const edges = Array.from({ length: hi - lo + 1 }, (_, k) => 2 ** ((lo + k) / 4));
  const counts = histogramCounts(sizes, edges);
  const centres = counts.map((_, k) => Math.sqrt(edges[k] * edges[k + 1]));
  const widths = counts.map((_, k) => edges[k + 1] - edges[k]);
  const shapes: Record<string, unknown>[] = [3, 4, 5, 6, 7].map((l) => ({
    type: 'line', x0: 4 * 2 ** l, x1: 4 * 2 ** l, y0: 0, y1: 1, yref: 'paper', line: { dash: 'dot', width: 1, color: '#888' },
  }));
  const annotations: Record<string, unknown>[] = [3, 4, 5, 6, 7].map((l) => ({
    x: Math.log10(4 * 2 ** l), y: 1, yref: 'paper', text: `P${l}`, showarrow: false, yanchor: 'bottom', font: { size: 10 },
  }));
  if (options.dropRange) {
    shapes.push({ type: 'rect', x0: options.dropRange.sqrtMinPx, x1: options.dropRange.sqrtMaxPx, y0: 0, y1: 1, yref: 'paper', fillcolor: '#e15759', opacity: 0.12, line: { width: 0 } });
  }
  return {
    data: [{ type: 'bar', x: centres, y: counts, width: widths, marker: { color: '#4e79a7' }, name: 'boxes', hovertemplate: 'sqrt(wh) %{x:.1f} px: %{y}<extra></extra>' }],
    layout: {
      title: { text: options.title ?? 'Box size sqrt(w·h) (input px)' },
      xaxis: { type: 'log', title: { text: 'sqrt(w·h), px (dotted: base anchor 4·stride of P3..P7)' } },
      yaxis: { title: { text: 'boxes' } },
      shapes,
      annotations,
      bargap: 0,
      showlegend: false,
    },
  };
}

/** Histogram of ln(w/h), bins 0.1 wide, with Table 1's extreme ratios (1:5 .. 5:1) marked. */
export function logRatioHistogramFigure(boxes: Float32Array, options: { title?: string; dropRange?: DropRange } = {}): PlotlyFigure {
  const ratios = boxLogRatiosWH(boxes);
  const maxAbs = ratios.reduce((m, r) => Math.max(m, Math.abs(r)), 0);
  const lim = Math.max(2, Math.ceil(10 * maxAbs) / 10);
  const edges: number[] = [];
  for (let v = -lim; v <= lim + 1e-9; v += 0.1) edges.push(Math.round(v * 10) / 10);
  const counts = histogramCounts(ratios, edges);
  const centres = counts.map((_, k) => (edges[k] + edges[k + 1]) / 2);
  const marks = [1 / 5, 1 / 3, 1, 3, 5];
  const shapes: Record<string, unknown>[] = marks.map((r) => ({
    type: 'line', x0: Math.log(r), x1: Math.log(r), y0: 0, y1: 1, yref: 'paper', line: { dash: 'dot', width: 1, color: '#888' },
  }));
  if (options.dropRange) {
    shapes.push({ type: 'rect', x0: options.dropRange.logRatioMin, x1: options.dropRange.logRatioMax, y0: 0, y1: 1, yref: 'paper', fillcolor: '#e15759', opacity: 0.12, line: { width: 0 } });
  }
  return {
    data: [{ type: 'bar', x: centres, y: counts, width: 0.1, marker: { color: '#f28e2b' }, name: 'boxes', hovertemplate: 'ln(w/h) %{x:.2f}: %{y}<extra></extra>' }],
    layout: {
      title: { text: options.title ?? 'Box shape ln(w/h)' },
      xaxis: { title: { text: 'ln(w/h) (dotted: w/h = 1/5, 1/3, 1, 3, 5)' } },
      yaxis: { title: { text: 'boxes' } },
      annotations: marks.map((r) => ({ x: Math.log(r), y: 1, yref: 'paper', text: r < 1 ? `1:${Math.round(1 / r)}` : `${r}:1`, showarrow: false, yanchor: 'bottom', font: { size: 10 } })),
      shapes,
      bargap: 0,
      showlegend: false,
    },
  };
}

/** Both histograms of a dataset's non-ignore boxes in input pixels, with the Table 4 range shaded. */
export function boxFigures(
  ds: DetectionDataset,
  input?: Pick<InputConfig, 'maxSizePx' | 'minSizePx' | 'pad' | 'sizeDivisor'>,
): { size: PlotlyFigure; ratio: PlotlyFigure } {
  const ib = collectInputBoxes(ds, input);
  const dropRange = table4DropRange();
  return {
    size: sizeHistogramFigure(ib.boxes, { title: `${ds.name}: box size sqrt(w·h) (input px)`, dropRange }),
    ratio: logRatioHistogramFigure(ib.boxes, { title: `${ds.name}: box shape ln(w/h)`, dropRange }),
  };
}
