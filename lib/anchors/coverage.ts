/**
 * How well an anchor configuration covers a set of GT boxes: for every box, the best IoU any anchor of
 * the full grid reaches — the quantity the matcher thresholds (0.5 / 0.6, Table 2). A box whose best
 * IoU is below posIou becomes positive only through a low-quality match.
 *
 * Exact without enumerating the grid: for one anchor size, IoU = I / (|g| + |a| - I) grows with the
 * intersection I, and I(cx, cy) = Ix(cx)·Iy(cy) factorises into two 1-D overlaps, each a trapezoid
 * symmetric about the box centre and non-increasing away from it. So the best anchor of that size is
 * the one whose grid centre is nearest to the box centre in x and in y (clamped to the grid). Cost
 * O(G · levels · A) instead of O(G · #anchors). Anchor coordinates are rounded to float32 as
 * `anchorGrid` stores them, so values equal those of `iouMatrix` on the grid.
 */
import { boxCount, isDegenerate } from '../box/iou';
import { AnchorConfig, configSizesPx } from './config';
import { DEFAULT_ANCHOR_OFFSET, FPN_LEVELS, featureLevels, levelStarts } from './grid';

export interface CoverageOptions {
  /** FPN levels, default P3..P7. */
  levels?: readonly number[];
  /** Anchor centre offset in cells, default 0.5 (lib/anchors/grid.ts). */
  offset?: number;
  /** IoU levels to report fractions for, default [0.5, 0.6]. */
  thresholds?: readonly number[];
  /** Bucket edges on sqrt(w·h) in px, e.g. [32, 96]; buckets [-inf, e0), [e0, e1), ..., [eN, inf). */
  sizeEdgesPx?: readonly number[];
  /** Bucket edges on ln(h / w), e.g. [-1, -0.35, 0.35, 1]. */
  logRatioEdges?: readonly number[];
}

export interface CoverageBucket {
  /** Inclusive lower edge (-Infinity for the first bucket). */
  lo: number;
  /** Exclusive upper edge (Infinity for the last bucket). */
  hi: number;
  count: number;
  /** NaN when the bucket is empty. */
  meanBestIou: number;
  /** Per threshold; NaN when the bucket is empty. */
  fractionAtLeast: number[];
}

export interface CoverageResult {
  /** Per GT box: best IoU over all anchors (0 for degenerate boxes). */
  bestIou: Float32Array;
  /** The same in float64, the precision thresholds are compared in (as the matcher does). */
  bestIou64: Float64Array;
  /** Per GT box: index of that anchor in `anchorGrid` ORDER, -1 for degenerate boxes. */
  bestAnchorIndex: Int32Array;
  /** Per GT box: FPN level of that anchor (-1 for degenerate boxes). */
  bestLevel: Int32Array;
  /** Per GT box: shape index within the configuration (-1 for degenerate boxes). */
  bestShape: Int32Array;
  numBoxes: number;
  /** Degenerate boxes (no area): left out of every mean and fraction. */
  numDegenerate: number;
  thresholds: number[];
  /** Fraction of non-degenerate boxes with best IoU >= thresholds[t]; NaN if there are none. */
  fractionAtLeast: number[];
  meanBestIou: number;
  bySize?: CoverageBucket[];
  byLogRatio?: CoverageBucket[];
}

function nearestCell(centre: number, stride: number, offset: number, cells: number): number {
  const i = Math.round(centre / stride - offset);
  return i < 0 ? 0 : i >= cells ? cells - 1 : i;
}

function overlap1d(a1: number, a2: number, b1: number, b2: number): number {
  const d = Math.min(a2, b2) - Math.max(a1, b1);
  return d > 0 ? d : 0;
}

function bucketize(values: Float64Array, valid: Uint8Array, best64: Float64Array, edges: readonly number[], thresholds: readonly number[]): CoverageBucket[] {
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i] > edges[i - 1])) throw new RangeError(`coverage: bucket edges must increase, got [${edges.join(', ')}]`);
  }
  const bounds = [-Infinity, ...edges, Infinity];
  const buckets: CoverageBucket[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const lo = bounds[k];
    const hi = bounds[k + 1];
    let count = 0;
    let sum = 0;
    const hits = thresholds.map(() => 0);
    for (let g = 0; g < values.length; g++) {
      if (!valid[g] || !(values[g] >= lo && values[g] < hi)) continue;
      count++;
      sum += best64[g];
      thresholds.forEach((t, j) => {
        if (best64[g] >= t) hits[j]++;
      });
    }
    buckets.push({
      lo,
      hi,
      count,
      meanBestIou: count ? sum / count : NaN,
      fractionAtLeast: hits.map((h) => (count ? h / count : NaN)),
    });
  }
  return buckets;
}

/**
 * Best-anchor IoU of every GT box (4G, px) under `config`'s anchors on an image of `imageSize`,
 * with summary fractions, optionally by size and log-ratio bucket.
 */
export function anchorCoverage(
  gtBoxes: Float32Array,
  imageSize: { heightPx: number; widthPx: number },
  config: AnchorConfig,
  opts: CoverageOptions = {},
): CoverageResult {
  const numBoxes = boxCount(gtBoxes, 'gt boxes');
  const offset = opts.offset ?? DEFAULT_ANCHOR_OFFSET;
  const thresholds = [...(opts.thresholds ?? [0.5, 0.6])];
  const levels = featureLevels(imageSize.heightPx, imageSize.widthPx, opts.levels ?? FPN_LEVELS);
  const numShapes = config.shapes.length;
  const starts = levelStarts(levels, numShapes);
  const sizes = levels.map((lv) => configSizesPx(config, lv.stride));

  const bestIou = new Float32Array(numBoxes);
  const bestAnchorIndex = new Int32Array(numBoxes).fill(-1);
  const bestLevel = new Int32Array(numBoxes).fill(-1);
  const bestShape = new Int32Array(numBoxes).fill(-1);
  const best64 = new Float64Array(numBoxes); // thresholds compare in float64, as the matcher does
  const valid = new Uint8Array(numBoxes);
  const sizePx = new Float64Array(numBoxes);
  const logRatio = new Float64Array(numBoxes);
  const f = Math.fround;

  for (let g = 0; g < numBoxes; g++) {
    if (isDegenerate(gtBoxes, g)) continue;
    valid[g] = 1;
    const gx1 = gtBoxes[4 * g];
    const gy1 = gtBoxes[4 * g + 1];
    const gx2 = gtBoxes[4 * g + 2];
    const gy2 = gtBoxes[4 * g + 3];
    const gArea = (gx2 - gx1) * (gy2 - gy1);
    sizePx[g] = Math.sqrt(gArea);
    logRatio[g] = Math.log((gy2 - gy1) / (gx2 - gx1));
    const gcx = 0.5 * (gx1 + gx2);
    const gcy = 0.5 * (gy1 + gy2);
    let best = -1;
    for (let l = 0; l < levels.length; l++) {
      const { stride, heightCells, widthCells } = levels[l];
      const x = nearestCell(gcx, stride, offset, widthCells);
      const y = nearestCell(gcy, stride, offset, heightCells);
      const cx = (x + offset) * stride;
      const cy = (y + offset) * stride;
      for (let a = 0; a < numShapes; a++) {
        const halfW = 0.5 * sizes[l][a].widthPx;
        const halfH = 0.5 * sizes[l][a].heightPx;
        const ax1 = f(cx - halfW);
        const ay1 = f(cy - halfH);
        const ax2 = f(cx + halfW);
        const ay2 = f(cy + halfH);
        const inter = overlap1d(ax1, ax2, gx1, gx2) * overlap1d(ay1, ay2, gy1, gy2);
        const iou = inter > 0 ? inter / ((ax2 - ax1) * (ay2 - ay1) + gArea - inter) : 0;
        if (iou > best) {
          best = iou;
          best64[g] = iou;
          bestIou[g] = iou;
          bestLevel[g] = levels[l].level ?? l;
          bestShape[g] = a;
          bestAnchorIndex[g] = starts[l] + (y * widthCells + x) * numShapes + a;
        }
      }
    }
  }

  let numValid = 0;
  let sum = 0;
  const hits = thresholds.map(() => 0);
  for (let g = 0; g < numBoxes; g++) {
    if (!valid[g]) continue;
    numValid++;
    sum += best64[g];
    thresholds.forEach((t, j) => {
      if (best64[g] >= t) hits[j]++;
    });
  }
  const result: CoverageResult = {
    bestIou,
    bestIou64: best64,
    bestAnchorIndex,
    bestLevel,
    bestShape,
    numBoxes,
    numDegenerate: numBoxes - numValid,
    thresholds,
    fractionAtLeast: hits.map((h) => (numValid ? h / numValid : NaN)),
    meanBestIou: numValid ? sum / numValid : NaN,
  };
  if (opts.sizeEdgesPx) result.bySize = bucketize(sizePx, valid, best64, opts.sizeEdgesPx, thresholds);
  if (opts.logRatioEdges) result.byLogRatio = bucketize(logRatio, valid, best64, opts.logRatioEdges, thresholds);
  return result;
}
