/**
 * How well an anchor set fits a dataset's boxes, in the measures detectors use to pick anchors:
 *
 * - best IoU of each box with any anchor of the grid (lib/anchors/coverage.ts, exact), its CDF, and
 *   BPR at the matcher's positive threshold: the share of boxes some anchor reaches with IoU >= pos
 *   (the others become positive only through low-quality matching);
 * - YOLOv5's ratio metric (ultralytics/yolov5 utils/autoanchor.py): for a box (w, h) and an anchor
 *   (aw, ah), x = min(w/aw, aw/w, h/ah, ah/h); a box is covered when its best x > 1/anchor_t
 *   (anchor_t = 4: no side more than 4x off). BPR is that share; AAT ("anchors above threshold") the
 *   mean number of anchors per box with x > 1/anchor_t. Shapes only, positions ignored, as YOLOv5.
 *   Here an anchor is a shape at one FPN level (A shapes x L levels anchors);
 * - positives per box: grid anchors with IoU >= pos (what the matcher assigns before low-quality
 *   matches), and per FPN level the share of boxes whose best anchor lies there and the share of
 *   those positives;
 * - coverage by scale x ratio: boxes binned by sqrt(w·h) (at the FPN levels' geometric midpoints
 *   between base sizes 4·stride) and by w/h, with count, mean best IoU and BPR per bin.
 *
 * Boxes are in input pixels with their images' input sizes (lib/data/stats.ts collectInputBoxes).
 */
import { isDegenerate } from '../box/iou';
import { CoverageOptions, anchorCoverage } from './coverage';
import { AnchorConfig, anchorSizePx, baseSizePx } from './config';
import { DEFAULT_ANCHOR_OFFSET, FPN_LEVELS, featureLevels, strideOfLevel } from './grid';

/** Boxes on their images' input canvases (the shape of lib/data/stats.ts InputBoxes). */
export interface BoxesOnInputs {
  /** 4N: (x1, y1, x2, y2) in input pixels. */
  boxes: Float32Array;
  /** N: image of each box. */
  imageIndex: Int32Array;
  /** Per image: padded input size the anchor grid covers. */
  inputHeightPx: Int32Array;
  inputWidthPx: Int32Array;
}

/** Grid levels and anchor offset as in anchorCoverage (default P3-P7, cell centres). */
export interface CoverageReportOptions extends Pick<CoverageOptions, 'levels' | 'offset'> {
  /** The matcher's positive IoU threshold (Table 2: 0.5 or 0.6). Default 0.5. */
  posIou?: number;
  /** YOLOv5's anchor_t. Default 4. */
  anchorT?: number;
  /** sqrt(w·h) bin edges in px (default: 32·2^(k-0.5), the midpoints between the levels' base sizes). */
  sizeEdgesPx?: readonly number[];
  /** w/h bin edges (default 1/3, 2/3, 3/2, 3). */
  ratioEdgesWH?: readonly number[];
}

export interface LevelAssignment {
  level: number;
  /** Share of boxes whose best anchor is on this level. */
  bestShare: number;
  /** Share of all positives (IoU >= pos) that lie on this level. */
  positiveShare: number;
}

export interface CoverageGrid {
  sizeEdgesPx: number[];
  ratioEdgesWH: number[];
  sizeLabels: string[];
  ratioLabels: string[];
  /** [size bin][ratio bin]. */
  count: number[][];
  /** NaN for empty bins. */
  meanBestIou: number[][];
  bprIou: number[][];
}

export interface AnchorCoverageReport {
  anchors: string;
  anchorsPerPosition: number;
  numBoxes: number;
  posIou: number;
  anchorT: number;
  meanBestIou: number;
  /** Share of boxes with best IoU >= posIou. */
  bprIou: number;
  /** Share of boxes with best ratio metric > 1/anchorT (YOLOv5 BPR). */
  bprRatio: number;
  /** Mean anchors (shape x level) per box with ratio metric > 1/anchorT (YOLOv5 AAT). */
  aat: number;
  /** Mean grid anchors per box with IoU >= posIou. */
  positivesPerBox: number;
  /** Share of boxes with no anchor at IoU >= posIou (positive only by a low-quality match). */
  withoutPositive: number;
  /** CDF of the best IoU: fraction[i] = share of boxes with best IoU <= iou[i] (101 points). */
  bestIouCdf: { iou: number[]; fraction: number[] };
  levels: LevelAssignment[];
  grid: CoverageGrid;
}

/** YOLOv5's ratio metric of a (w, h) box against an (aw, ah) anchor. */
export function ratioMetric(w: number, h: number, aw: number, ah: number): number {
  return Math.min(w / aw, aw / w, h / ah, ah / h);
}

/** Anchor sizes (w, h) of a configuration at every level: the anchors of YOLOv5's metric. */
export function anchorSizesAllLevels(config: AnchorConfig, levels: readonly number[] = FPN_LEVELS): { widthPx: number; heightPx: number; level: number }[] {
  return levels.flatMap((level) => config.shapes.map((s) => ({ ...anchorSizePx(s, strideOfLevel(level)), level })));
}

/** Best IoU and its level for every box, grid by grid (one exact anchorCoverage call per input size). */
export function bestAnchorPerBox(
  ib: BoxesOnInputs,
  config: AnchorConfig,
  opts: Pick<CoverageReportOptions, 'levels' | 'offset'> = {},
): { bestIou: Float64Array; bestLevel: Int32Array } {
  const n = ib.imageIndex.length;
  const bestIou = new Float64Array(n);
  const bestLevel = new Int32Array(n).fill(-1);
  const groups = new Map<string, number[]>();
  for (let g = 0; g < n; g++) {
    const i = ib.imageIndex[g];
    const key = `${ib.inputHeightPx[i]}x${ib.inputWidthPx[i]}`;
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(g);
  }
  for (const [key, idx] of groups) {
    const [h, w] = key.split('x').map(Number);
    const sub = new Float32Array(idx.length * 4);
    idx.forEach((g, k) => sub.set(ib.boxes.subarray(4 * g, 4 * g + 4), 4 * k));
    const res = anchorCoverage(sub, { heightPx: h, widthPx: w }, config, { levels: opts.levels, offset: opts.offset });
    idx.forEach((g, k) => {
      bestIou[g] = res.bestIou64[k];
      bestLevel[g] = res.bestLevel[k];
    });
  }
  return { bestIou, bestLevel };
}

/**
 * Grid anchors of every level with IoU >= posIou with box g, counted per level: only cells whose
 * anchors can overlap the box are visited. Anchor corners are rounded to float32 as anchorGrid
 * stores them, so counts agree with the matcher's IoU on the grid.
 */
function positivesPerLevel(
  boxes: Float32Array,
  g: number,
  imageHeightPx: number,
  imageWidthPx: number,
  config: AnchorConfig,
  levels: readonly number[],
  offset: number,
  posIou: number,
): number[] {
  const f = Math.fround;
  const [x1, y1, x2, y2] = [boxes[4 * g], boxes[4 * g + 1], boxes[4 * g + 2], boxes[4 * g + 3]];
  const area = (x2 - x1) * (y2 - y1);
  return featureLevels(imageHeightPx, imageWidthPx, levels).map(({ stride, heightCells, widthCells }) => {
    let count = 0;
    for (const shape of config.shapes) {
      const { widthPx, heightPx } = anchorSizePx(shape, stride);
      // An anchor can reach IoU >= pos only if its area is within a factor pos of the box's.
      if (widthPx * heightPx < posIou * area || area < posIou * widthPx * heightPx) continue;
      const hw = 0.5 * widthPx;
      const hh = 0.5 * heightPx;
      const xLo = Math.max(0, Math.floor((x1 - hw) / stride - offset));
      const xHi = Math.min(widthCells - 1, Math.ceil((x2 + hw) / stride - offset));
      const yLo = Math.max(0, Math.floor((y1 - hh) / stride - offset));
      const yHi = Math.min(heightCells - 1, Math.ceil((y2 + hh) / stride - offset));
      for (let y = yLo; y <= yHi; y++) {
        const cy = (y + offset) * stride;
        const ay1 = f(cy - hh);
        const ay2 = f(cy + hh);
        const ih = Math.min(ay2, y2) - Math.max(ay1, y1);
        if (!(ih > 0)) continue;
        for (let x = xLo; x <= xHi; x++) {
          const cx = (x + offset) * stride;
          const ax1 = f(cx - hw);
          const ax2 = f(cx + hw);
          const iw = Math.min(ax2, x2) - Math.max(ax1, x1);
          if (!(iw > 0)) continue;
          const inter = iw * ih;
          if (inter / ((ax2 - ax1) * (ay2 - ay1) + area - inter) >= posIou) count++;
        }
      }
    }
    return count;
  });
}

/** Bin of v in [-inf, e0), [e0, e1), ..., [eN, inf). */
function binOf(v: number, edges: readonly number[]): number {
  let b = 0;
  while (b < edges.length && v >= edges[b]) b++;
  return b;
}

function rangeLabels(edges: readonly number[], unit: (v: number) => string, name: string): string[] {
  return Array.from({ length: edges.length + 1 }, (_, b) => {
    if (b === 0) return `${name} < ${unit(edges[0])}`;
    if (b === edges.length) return `${name} >= ${unit(edges[b - 1])}`;
    return `${unit(edges[b - 1])}-${unit(edges[b])}`;
  });
}

const ratioText = (v: number) => (v < 1 && Math.abs(1 / v - Math.round(1 / v)) < 1e-9 ? `1/${Math.round(1 / v)}` : String(Math.round(100 * v) / 100));

export const DEFAULT_SIZE_EDGES_PX: readonly number[] = FPN_LEVELS.map((l) => baseSizePx(strideOfLevel(l)) / Math.SQRT2);
export const DEFAULT_COVERAGE_RATIO_EDGES_WH: readonly number[] = [1 / 3, 2 / 3, 3 / 2, 3];

/** The coverage report of `config` on the boxes (see the file header). */
export function anchorCoverageReport(ib: BoxesOnInputs, config: AnchorConfig, opts: CoverageReportOptions = {}): AnchorCoverageReport {
  const posIou = opts.posIou ?? 0.5;
  const anchorT = opts.anchorT ?? 4;
  const levels = opts.levels ?? FPN_LEVELS;
  const offset = opts.offset ?? DEFAULT_ANCHOR_OFFSET;
  const sizeEdges = [...(opts.sizeEdgesPx ?? DEFAULT_SIZE_EDGES_PX)];
  const ratioEdges = [...(opts.ratioEdgesWH ?? DEFAULT_COVERAGE_RATIO_EDGES_WH)];
  const { bestIou, bestLevel } = bestAnchorPerBox(ib, config, { levels, offset });
  const sizes = anchorSizesAllLevels(config, levels);
  const thr = 1 / anchorT;
  const S = sizeEdges.length + 1;
  const Rb = ratioEdges.length + 1;
  const count = Array.from({ length: S }, () => new Array<number>(Rb).fill(0));
  const iouSum = Array.from({ length: S }, () => new Array<number>(Rb).fill(0));
  const hitSum = Array.from({ length: S }, () => new Array<number>(Rb).fill(0));
  const bestAt = new Array<number>(levels.length).fill(0);
  const posAt = new Array<number>(levels.length).fill(0);
  const cdfCounts = new Array<number>(101).fill(0);
  let n = 0;
  let sumIou = 0;
  let hitsIou = 0;
  let hitsRatio = 0;
  let aat = 0;
  let positives = 0;
  let withoutPositive = 0;
  for (let g = 0; g < ib.imageIndex.length; g++) {
    if (isDegenerate(ib.boxes, g)) continue;
    n++;
    const w = ib.boxes[4 * g + 2] - ib.boxes[4 * g];
    const h = ib.boxes[4 * g + 3] - ib.boxes[4 * g + 1];
    const iou = bestIou[g];
    sumIou += iou;
    const hit = iou >= posIou ? 1 : 0;
    hitsIou += hit;
    cdfCounts[Math.ceil(Math.min(1, iou) * 100 - 1e-9)]++;
    let best = 0;
    for (const a of sizes) {
      const x = ratioMetric(w, h, a.widthPx, a.heightPx);
      if (x > best) best = x;
      if (x > thr) aat++;
    }
    if (best > thr) hitsRatio++;
    const l = levels.indexOf(bestLevel[g]);
    if (l >= 0) bestAt[l]++;
    const i = ib.imageIndex[g];
    const perLevel = positivesPerLevel(ib.boxes, g, ib.inputHeightPx[i], ib.inputWidthPx[i], config, levels, offset, posIou);
    let p = 0;
    perLevel.forEach((c, k) => {
      posAt[k] += c;
      p += c;
    });
    positives += p;
    if (p === 0) withoutPositive++;
    const sb = binOf(Math.sqrt(w * h), sizeEdges);
    const rb = binOf(w / h, ratioEdges);
    count[sb][rb]++;
    iouSum[sb][rb] += iou;
    hitSum[sb][rb] += hit;
  }
  const share = (v: number, total: number) => (total ? v / total : NaN);
  let cum = 0;
  const fraction = cdfCounts.map((c) => share((cum += c), n));
  return {
    anchors: config.name,
    anchorsPerPosition: config.shapes.length,
    numBoxes: n,
    posIou,
    anchorT,
    meanBestIou: share(sumIou, n),
    bprIou: share(hitsIou, n),
    bprRatio: share(hitsRatio, n),
    aat: share(aat, n),
    positivesPerBox: share(positives, n),
    withoutPositive: share(withoutPositive, n),
    bestIouCdf: { iou: cdfCounts.map((_, k) => k / 100), fraction },
    levels: levels.map((level, k) => ({ level, bestShare: share(bestAt[k], n), positiveShare: share(posAt[k], positives) })),
    grid: {
      sizeEdgesPx: sizeEdges,
      ratioEdgesWH: ratioEdges,
      sizeLabels: rangeLabels(sizeEdges, (v) => `${Math.round(v)}`, 'sqrt(wh)'),
      ratioLabels: rangeLabels(ratioEdges, ratioText, 'w/h'),
      count,
      meanBestIou: count.map((row, s) => row.map((c, r) => share(iouSum[s][r], c))),
      bprIou: count.map((row, s) => row.map((c, r) => share(hitSum[s][r], c))),
    },
  };
}
