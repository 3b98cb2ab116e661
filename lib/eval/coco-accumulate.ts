/**
 * COCO evaluation after matching: pycocotools COCOeval.accumulate() (precision at 101 recall
 * thresholds, recall, for every IoU threshold, category, area range and maxDets) and summarize()
 * (the 12 stats), plus per-category and per-IoU breakdowns and the printed summary lines.
 */
import { COCO_AREA_LABELS, COCO_AREA_RANGES, COCO_IOU_THRESHOLDS, COCO_MAX_DETS, COCO_RECALL_THRESHOLDS, COCO_STAT_SPECS, FLOAT64_EPS } from './coco-params';
import { formatFixed, numpySumChunked } from './py-compat';

// Module-local copies: imported bindings compile to property getters, too slow for the hot loops.
const RECALL_THRESHOLDS = COCO_RECALL_THRESHOLDS;
const MAX_DETS = COCO_MAX_DETS;
const EPS = FLOAT64_EPS;
const T = COCO_IOU_THRESHOLDS.length; // 10
const R = COCO_RECALL_THRESHOLDS.length; // 101
const A = COCO_AREA_RANGES.length; // 4
const M = COCO_MAX_DETS.length; // 3

export interface CocoCategoryResult {
  categoryId: number;
  /** Mean of precision[:, :, k, all, 100] over entries > -1; -1 when the category has no non-crowd GT. */
  ap: number;
  ap50: number;
  ap75: number;
  /** Mean of recall[:, k, all, 100] over entries > -1. */
  ar100: number;
  /** Non-crowd GT boxes of the category in the evaluated images. */
  numGt: number;
  numGtCrowd: number;
  /** Detections of the category on the evaluated images (before the 100 per image limit). */
  numDt: number;
}

export interface CocoIouResult {
  iouThreshold: number;
  /** Mean of precision[t, :, :, all, 100] over entries > -1. */
  ap: number;
  /** Mean of recall[t, :, all, 100] over entries > -1. */
  ar100: number;
}

export interface CocoEvalCounts {
  images: number;
  categories: number;
  /** GT annotations on the evaluated images, crowd included. */
  gt: number;
  gtCrowd: number;
  /** Detections given. */
  dt: number;
  /** Detections whose image and category are evaluated, before the maxDets limit. */
  dtEvaluated: number;
}

export interface CocoEvalResult {
  /** COCOeval.stats: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (-1 = no GT in that setting). */
  stats: number[];
  /** precision[t][r][k][a][m] flattened row-major, shape [T=10][R=101][K][A=4][M=3]; -1 where undefined. */
  precision: Float64Array;
  /** recall[t][k][a][m] flattened row-major, shape [T=10][K][A=4][M=3]; -1 where undefined. */
  recall: Float64Array;
  shape: { T: number; R: number; K: number; A: number; M: number };
  iouThresholds: Float64Array;
  recallThresholds: Float64Array;
  maxDets: readonly number[];
  areaLabels: readonly string[];
  /** Category ids in ascending order (the K axis). */
  categoryIds: number[];
  /** Evaluated image ids, ascending. */
  imageIds: number[];
  perCategory: CocoCategoryResult[];
  perIou: CocoIouResult[];
  counts: CocoEvalCounts;
}

/**
 * Per-detection matching results of one evaluation (pycocotools evaluate() output, in bit masks), the
 * input of accumulate. Entries are in evaluation order: category-major, ascending image, descending
 * score within an image, at most 100 per image+category.
 */
export interface CocoMatchResults {
  numImages: number;
  numCategories: number;
  /** Entries of category k: [categoryStart[k], categoryStart[k+1]). */
  categoryStart: Int32Array;
  /** Index of the detection in the input. */
  detIndex: Int32Array;
  score: Float64Array;
  /** Rank within its image+category after the score sort (0 = best), for the maxDets cut. */
  rank: Uint8Array;
  /** Bit t of tpMask[a*n + e]: matched to a non-ignored GT at IoU threshold t in area range a. */
  tpMask: Uint16Array;
  /** Bit t of ignoreMask[a*n + e]: neither TP nor FP (matched to an ignored GT, or unmatched and outside the area range). */
  ignoreMask: Uint16Array;
  /** Non-ignored GT count per category and area range: npig[k*A + a]. */
  npig: Int32Array;
  numGt: Int32Array;
  numGtCrowd: Int32Array;
  numDt: Int32Array;
  imageIds: number[];
  /**
   * With `recordMatches`: matchedGt[t*n + e] = position in the ground-truth input (annotation order)
   * of the annotation entry e matched at IoU threshold t in area range 'all' (a crowd one when the
   * entry is ignored), -1 if unmatched. Stride n as the masks'.
   */
  matchedGt?: Int32Array;
  counts: CocoEvalCounts;
}

/** Accumulated precision / recall (pycocotools accumulate()). */
export interface CocoAccumulation {
  precision: Float64Array;
  recall: Float64Array;
}

/**
 * pycocotools COCOeval.accumulate(). Per category, the evaluated detections of all images are sorted
 * once by descending score, ties broken by position in the concatenation (ascending image id, then rank
 * in the image): this is the order of accumulate's stable sort for every area range, and for maxDets M
 * it is the same sequence with ranks >= M left out.
 *
 * The precision curve is evaluated only at true positives, with the same doubles as pycocotools:
 * recall rc = tp/npig rises only at a TP, so np.searchsorted(rc, thr, 'left') always lands on a TP
 * (or on index 0 for thr = 0, where the envelope is the overall maximum); and precision
 * tp/(fp+tp+eps) only rises at a TP, so the envelope max(pr[x:]) at a TP is the maximum over the
 * TPs from there on. Detections that are FP at every threshold then cost O(1).
 */
export function accumulateCoco(match: CocoMatchResults): CocoAccumulation {
  const K = match.numCategories;
  const stride = match.tpMask.length / A;
  // Precision is computed in [K][A][M][T][R] order (sequential writes) and transposed to pycocotools'
  // [T][R][K][A][M] at the end: writing the final layout directly strides 8 KB per write and was
  // slower than all the rest of accumulate.
  const X = K * A * M;
  const Y = T * R;
  const precisionKAMTR = new Float64Array(X * Y);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  let cap = 1;
  for (let k = 0; k < K; k++) cap = Math.max(cap, match.categoryStart[k + 1] - match.categoryStart[k]);
  const order = new Int32Array(cap);
  /** envelope[t*cap + j]: precision at the (j+1)-th TP at threshold t, then its running max from the right. */
  const envelope = new Float64Array(T * cap);
  const tp = new Int32Array(T);
  const ignored = new Int32Array(T);
  const score = match.score;
  const rank = match.rank;
  const tpMask = match.tpMask;
  const ignoreMask = match.ignoreMask;
  const byScore = (x: number, y: number): number => score[y] - score[x] || x - y;

  for (let k = 0; k < K; k++) {
    const s = match.categoryStart[k];
    const len = match.categoryStart[k + 1] - s;
    for (let x = 0; x < len; x++) order[x] = s + x;
    const sorted = order.subarray(0, len);
    sorted.sort(byScore);
    for (let a = 0; a < A; a++) {
      const npig = match.npig[k * A + a];
      if (npig === 0) {
        // Undefined (-1): the category is left out of every mean for this area range.
        precisionKAMTR.fill(-1, (k * A + a) * M * Y, (k * A + a + 1) * M * Y);
        continue;
      }
      const maskBase = a * stride;
      for (let mi = 0; mi < M; mi++) {
        const maxDet = MAX_DETS[mi];
        tp.fill(0);
        ignored.fill(0);
        let nd = 0;
        for (let x = 0; x < len; x++) {
          const pos = sorted[x];
          if (rank[pos] >= maxDet) continue;
          nd++;
          let bits = ignoreMask[maskBase + pos];
          while (bits !== 0) {
            const t = 31 - Math.clz32(bits & -bits);
            ignored[t]++;
            bits &= bits - 1;
          }
          bits = tpMask[maskBase + pos];
          while (bits !== 0) {
            const t = 31 - Math.clz32(bits & -bits);
            const tpT = ++tp[t];
            const fpT = nd - tpT - ignored[t];
            envelope[t * cap + tpT - 1] = tpT / (fpT + tpT + EPS);
            bits &= bits - 1;
          }
        }
        for (let t = 0; t < T; t++) {
          const nTp = tp[t];
          const base = t * cap;
          recall[((t * K + k) * A + a) * M + mi] = nd > 0 ? nTp / npig : 0;
          for (let j = nTp - 1; j > 0; j--) {
            if (envelope[base + j] > envelope[base + j - 1]) envelope[base + j - 1] = envelope[base + j];
          }
          const rowBase = (((k * A + a) * M + mi) * T + t) * R;
          let j = 0;
          for (let r = 0; r < R; r++) {
            const thr = RECALL_THRESHOLDS[r];
            while (j < nTp && (j + 1) / npig < thr) j++;
            precisionKAMTR[rowBase + r] = j < nTp ? envelope[base + j] : 0;
          }
        }
      }
    }
  }
  return { precision: transpose(precisionKAMTR, X, Y), recall };
}

/** dst[y*rows + x] = src[x*cols + y] for a rows x cols matrix, in cache-sized tiles. */
function transpose(src: Float64Array, rows: number, cols: number): Float64Array {
  const dst = new Float64Array(rows * cols);
  const TILE = 32;
  for (let x0 = 0; x0 < rows; x0 += TILE) {
    const x1 = Math.min(x0 + TILE, rows);
    for (let y0 = 0; y0 < cols; y0 += TILE) {
      const y1 = Math.min(y0 + TILE, cols);
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) dst[y * rows + x] = src[x * cols + y];
      }
    }
  }
  return dst;
}

/** COCOeval.summarize() stats plus per-category and per-IoU breakdowns. */
export function summarizeCoco(match: CocoMatchResults, acc: CocoAccumulation, categoryIds: readonly number[]): CocoEvalResult {
  const K = match.numCategories;
  const { precision, recall } = acc;
  const buf = new Float64Array(Math.max(precision.length, 1));

  // Mean over entries > -1 of a slice chosen by index ranges; -1 if none (COCOeval._summarize).
  const meanPrecision = (t0: number, t1: number, k0: number, k1: number, a: number, mi: number): number => {
    let n = 0;
    for (let t = t0; t < t1; t++) {
      for (let r = 0; r < R; r++) {
        for (let k = k0; k < k1; k++) {
          const v = precision[(((t * R + r) * K + k) * A + a) * M + mi];
          if (v > -1) buf[n++] = v;
        }
      }
    }
    return n === 0 ? -1 : numpySumChunked(buf, n) / n;
  };
  const meanRecall = (t0: number, t1: number, k0: number, k1: number, a: number, mi: number): number => {
    let n = 0;
    for (let t = t0; t < t1; t++) {
      for (let k = k0; k < k1; k++) {
        const v = recall[((t * K + k) * A + a) * M + mi];
        if (v > -1) buf[n++] = v;
      }
    }
    return n === 0 ? -1 : numpySumChunked(buf, n) / n;
  };

  const stats = COCO_STAT_SPECS.map((spec) => {
    const t0 = spec.iouIndex === null ? 0 : spec.iouIndex;
    const t1 = spec.iouIndex === null ? T : spec.iouIndex + 1;
    return spec.ap ? meanPrecision(t0, t1, 0, K, spec.areaIndex, spec.maxDetIndex) : meanRecall(t0, t1, 0, K, spec.areaIndex, spec.maxDetIndex);
  });
  const last = M - 1;
  const perCategory: CocoCategoryResult[] = categoryIds.map((categoryId, k) => ({
    categoryId,
    ap: meanPrecision(0, T, k, k + 1, 0, last),
    ap50: meanPrecision(0, 1, k, k + 1, 0, last),
    ap75: meanPrecision(5, 6, k, k + 1, 0, last),
    ar100: meanRecall(0, T, k, k + 1, 0, last),
    numGt: match.numGt[k],
    numGtCrowd: match.numGtCrowd[k],
    numDt: match.numDt[k],
  }));
  const perIou: CocoIouResult[] = Array.from(COCO_IOU_THRESHOLDS, (iouThreshold, t) => ({
    iouThreshold,
    ap: meanPrecision(t, t + 1, 0, K, 0, last),
    ar100: meanRecall(t, t + 1, 0, K, 0, last),
  }));
  return {
    stats,
    precision,
    recall,
    shape: { T, R, K, A, M },
    iouThresholds: COCO_IOU_THRESHOLDS,
    recallThresholds: COCO_RECALL_THRESHOLDS,
    maxDets: COCO_MAX_DETS,
    areaLabels: COCO_AREA_LABELS,
    categoryIds: categoryIds.slice(),
    imageIds: match.imageIds,
    perCategory,
    perIou,
    counts: match.counts,
  };
}

/**
 * The 12 lines COCOeval.summarize() prints, character for character:
 * ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'.
 */
export function formatCocoSummary(stats: readonly number[]): string[] {
  const iouAll = `${formatFixed(COCO_IOU_THRESHOLDS[0], 2)}:${formatFixed(COCO_IOU_THRESHOLDS[T - 1], 2)}`;
  return COCO_STAT_SPECS.map((spec, i) => {
    const title = (spec.ap ? 'Average Precision' : 'Average Recall').padEnd(18);
    const type = spec.ap ? '(AP)' : '(AR)';
    const iou = (spec.iouIndex === null ? iouAll : formatFixed(COCO_IOU_THRESHOLDS[spec.iouIndex], 2)).padEnd(9);
    const area = COCO_AREA_LABELS[spec.areaIndex].padStart(6);
    const maxDets = String(COCO_MAX_DETS[spec.maxDetIndex]).padStart(3);
    return ` ${title} ${type} @[ IoU=${iou} | area=${area} | maxDets=${maxDets} ] = ${formatFixed(stats[i], 3)}`;
  });
}
