/**
 * Where AP comes from, read off the COCO evaluator's own accumulation (lib/eval/coco.ts):
 *
 * - PR curves: COCO's interpolated precision at the 101 recall thresholds, per category and
 *   averaged over categories with ground truth, at IoU 0.5 and 0.75 (area 'all', 100 detections).
 *   Their means are exactly the evaluator's per-category AP50 / AP75 and AP50 / AP75.
 * - AP by size: COCO's area ranges small / medium / large (the annotation's "area" field, inclusive
 *   ends), as COCOeval reports APs / APm / APl, plus AP50 and AP75 per range.
 * - AP by aspect-ratio bin: the same rules with w/h of the box in place of the area: ground truth
 *   outside the bin is ignored (a detection matched to it counts neither way), unmatched detections
 *   whose own w/h lies outside the bin are ignored, and the matching prefers in-bin ground truth.
 *   Implemented by giving the evaluator per-box range values (GT "area" field and
 *   CocoDetections.areaForRanges) that put each bin in one of COCO's three area slots.
 */
import { CocoEvalResult, PreparedCocoGroundTruth } from '../eval/coco';
import { COCO_AREA_RANGES, COCO_IOU_THRESHOLDS, COCO_RECALL_THRESHOLDS } from '../eval/coco-params';
import { numpySumChunked } from '../eval/py-compat';
import { AnalysisInputs } from './inputs';
import { UserError } from '../util/errors';

export interface PrCurve {
  /** null for the mean over categories. */
  categoryId: number | null;
  name: string;
  iouThreshold: number;
  /** The 101 recall thresholds 0, 0.01, ..., 1. */
  recall: number[];
  /** Interpolated precision at each recall threshold (0 beyond the highest recall reached). */
  precision: number[];
  /** Mean of `precision`: the evaluator's AP at this IoU (per category: its ap50 / ap75). */
  ap: number;
  /** Non-crowd ground-truth boxes (per category; the total for the mean curve). */
  numGt: number;
}

const LAST_MAX_DETS = 2;

function precisionAt(r: CocoEvalResult, t: number, ri: number, k: number, a: number): number {
  const { R, K, A, M } = r.shape;
  return r.precision[(((t * R + ri) * K + k) * A + a) * M + LAST_MAX_DETS];
}

/**
 * Mean of precision[t, :, :, a, 100] over entries > -1 for the thresholds `ts` (COCOeval._summarize);
 * -1 when no category has ground truth there.
 */
export function meanPrecision(r: CocoEvalResult, ts: readonly number[], a: number): number {
  const values = new Float64Array(ts.length * r.shape.R * r.shape.K);
  let n = 0;
  for (const t of ts) {
    for (let ri = 0; ri < r.shape.R; ri++) {
      for (let k = 0; k < r.shape.K; k++) {
        const v = precisionAt(r, t, ri, k, a);
        if (v > -1) values[n++] = v;
      }
    }
  }
  // numpy's pairwise summation, as the evaluator's summary: the same doubles as COCOeval.
  return n === 0 ? -1 : numpySumChunked(values, n) / n;
}

const ALL_T = Array.from(COCO_IOU_THRESHOLDS, (_, t) => t);

/** PR curves per category with ground truth, and their mean, at each IoU threshold index in `ts`. */
export function prCurves(r: CocoEvalResult, inputs: Pick<AnalysisInputs, 'categories'>, ts: readonly number[] = [0, 5]): PrCurve[] {
  const out: PrCurve[] = [];
  const recall = Array.from(COCO_RECALL_THRESHOLDS);
  for (const t of ts) {
    const iouThreshold = COCO_IOU_THRESHOLDS[t];
    const perClass: PrCurve[] = [];
    r.perCategory.forEach((c, k) => {
      if (c.numGt === 0) return;
      const precision = recall.map((_, ri) => precisionAt(r, t, ri, k, 0));
      perClass.push({
        categoryId: c.categoryId,
        name: inputs.categories[k]?.name ?? String(c.categoryId),
        iouThreshold,
        recall,
        precision,
        ap: t === 0 ? c.ap50 : t === 5 ? c.ap75 : meanPrecision(r, [t], 0),
        numGt: c.numGt,
      });
    });
    const mean = recall.map((_, ri) => (perClass.length ? perClass.reduce((s, c) => s + c.precision[ri], 0) / perClass.length : 0));
    out.push({
      categoryId: null,
      name: 'all categories',
      iouThreshold,
      recall,
      precision: mean,
      ap: r.perIou[t].ap,
      numGt: perClass.reduce((s, c) => s + c.numGt, 0),
    });
    out.push(...perClass);
  }
  return out;
}

export interface RangeAp {
  label: string;
  /** Ground-truth boxes in the range (non-crowd, evaluated images). */
  numGt: number;
  /** AP over IoU 0.5:0.95, AP50 and AP75 in the range; -1 when the range has no ground truth. */
  ap: number;
  ap50: number;
  ap75: number;
}

function rangeAp(r: CocoEvalResult, a: number, label: string, numGt: number): RangeAp {
  return { label, numGt, ap: meanPrecision(r, ALL_T, a), ap50: meanPrecision(r, [0], a), ap75: meanPrecision(r, [5], a) };
}

export const SIZE_LABELS = ['small (area <= 32²)', 'medium (32² .. 96²)', 'large (area >= 96²)'];

/** COCO's APs / APm / APl with AP50 and AP75 per range (`r` evaluated on `inputs`). */
export function apBySize(r: CocoEvalResult, inputs: AnalysisInputs): RangeAp[] {
  return [1, 2, 3].map((a) => {
    const [lo, hi] = COCO_AREA_RANGES[a];
    let numGt = 0;
    for (const list of inputs.gtByImage.values()) {
      for (const g of list) if (inputs.gt.area[g] >= lo && inputs.gt.area[g] <= hi) numGt++;
    }
    return rangeAp(r, a, SIZE_LABELS[a - 1], numGt);
  });
}

/** Bin edges on w/h: tall (< 1/3), 1/3 .. 2/3, near square (2/3 .. 3/2), 3/2 .. 3, wide (>= 3). */
export const DEFAULT_RATIO_EDGES_WH: readonly number[] = [1 / 3, 2 / 3, 3 / 2, 3];

function ratioLabel(lo: number, hi: number): string {
  const f = (v: number) => {
    if (v >= 1 || Math.abs(1 / v - Math.round(1 / v)) > 1e-9) return String(Math.round(v * 100) / 100);
    return `1/${Math.round(1 / v)}`;
  };
  if (lo === 0) return `w/h < ${f(hi)}`;
  if (hi === Infinity) return `w/h >= ${f(lo)}`;
  return `${f(lo)} .. ${f(hi)}`;
}

/** Bin of w/h in [0, e0), [e0, e1), ..., [eN, inf); -1 for boxes without area. */
function ratioBin(w: number, h: number, edges: readonly number[]): number {
  if (!(w > 0 && h > 0)) return -1;
  const v = w / h;
  let b = 0;
  while (b < edges.length && v >= edges[b]) b++;
  return b;
}

/**
 * AP per aspect-ratio bin of w/h (edges ascending), with COCO's range rules (see the header).
 */
export function apByRatio(inputs: AnalysisInputs, edges: readonly number[] = DEFAULT_RATIO_EDGES_WH): RangeAp[] {
  for (let i = 0; i < edges.length; i++) {
    if (!(edges[i] > 0) || (i > 0 && !(edges[i] > edges[i - 1]))) {
      throw new UserError(`aspect-ratio bin edges must be positive and increasing, got [${edges.join(', ')}]`, 'e.g. 1/3,2/3,3/2,3');
    }
  }
  const bounds = [0, ...edges, Infinity];
  const labels = Array.from({ length: edges.length + 1 }, (_, b) => ratioLabel(bounds[b], bounds[b + 1]));
  return apByBoxBins(inputs, labels, (w, h) => ratioBin(w, h, edges));
}

/**
 * AP per bin of any box attribute, with COCO's area-range rules in place of the area: `binOf` maps a
 * box (w, h in px, its image id) to a bin 0..labels.length-1 or -1 (in no bin). Each evaluation
 * serves three bins, one per area slot (small, medium, large).
 */
export function apByBoxBins(inputs: AnalysisInputs, labels: readonly string[], binOf: (w: number, h: number, imageId: number) => number): RangeAp[] {
  const { gt, dets } = inputs;
  const gtBin = Int32Array.from({ length: gt.count }, (_, g) => binOf(gt.boxXYWH[4 * g + 2], gt.boxXYWH[4 * g + 3], gt.imageId[g]));
  const dtBin = Int32Array.from({ length: dets.count }, (_, j) => binOf(dets.boxXYWH[4 * j + 2], dets.boxXYWH[4 * j + 3], dets.imageId[j]));
  // A value inside exactly one of COCO's small / medium / large ranges; -1 is outside all of them.
  const SLOT_VALUE = [0.5 * 32 * 32, 0.5 * (32 * 32 + 96 * 96), 4 * 96 * 96];
  const bins = labels.length;
  const out: RangeAp[] = [];
  for (let first = 0; first < bins; first += 3) {
    const slotOf = (b: number) => (b >= first && b < first + 3 ? b - first : -1);
    const area = Float64Array.from(gtBin, (b) => (slotOf(b) >= 0 ? SLOT_VALUE[slotOf(b)] : -1));
    const areaForRanges = Float64Array.from(dtBin, (b) => (slotOf(b) >= 0 ? SLOT_VALUE[slotOf(b)] : -1));
    const prepared = new PreparedCocoGroundTruth({ ...gt, area });
    const r = prepared.evaluate({ ...dets, areaForRanges }, inputs.imageIds ? { imageIds: inputs.imageIds } : {});
    for (let b = first; b < Math.min(first + 3, bins); b++) {
      let numGt = 0;
      for (const list of inputs.gtByImage.values()) for (const g of list) if (gtBin[g] === b) numGt++;
      out.push(rangeAp(r, slotOf(b) + 1, labels[b], numGt));
    }
  }
  return out;
}
