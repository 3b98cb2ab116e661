/**
 * The fixed parameters of COCO bbox evaluation (pycocotools `Params(iouType='bbox')`), reproduced to the
 * last bit: the thresholds are `np.linspace` outputs, which are not all the decimal values they look like.
 */

/**
 * `np.linspace(start, stop, num)` for num >= 2: `start + i*step` with `step = (stop-start)/(num-1)`
 * and the last element set to `stop`. This gives the exact doubles pycocotools compares against, e.g.
 * recThrs[35] = 0.35000000000000003 and iouThrs[8] = 0.8999999999999999.
 */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = start + i * step;
  out[num - 1] = stop;
  return out;
}

/** IoU thresholds .50:.05:.95 (T = 10). */
export const COCO_IOU_THRESHOLDS: Float64Array = linspace(0.5, 0.95, 10);
/** Recall thresholds 0:.01:1 (R = 101) at which precision is sampled. */
export const COCO_RECALL_THRESHOLDS: Float64Array = linspace(0, 1, 101);
/** Detections kept per image AND category, and the three budgets the summary reports. */
export const COCO_MAX_DETS: readonly number[] = [1, 10, 100];
/**
 * Area ranges in px^2 on the annotation's "area" field (not w*h); both ends inclusive, so a box of area
 * exactly 32^2 counts as small and medium.
 */
export const COCO_AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10],
  [0, 32 * 32],
  [32 * 32, 96 * 96],
  [96 * 96, 1e10],
];
export const COCO_AREA_LABELS: readonly string[] = ['all', 'small', 'medium', 'large'];

/** `np.spacing(1)`: added to the precision denominator by pycocotools' accumulate. */
export const FLOAT64_EPS = 2.220446049250313e-16;

/** pycocotools caps the IoU needed for a match below 1 so that a perfect box still matches at t = 1. */
export const MAX_MATCH_IOU = 1 - 1e-10;

export const COCO_STAT_NAMES: readonly string[] = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'];

/** One line of `COCOeval.summarize()`: precision or recall, IoU index (null = mean over all), area, maxDets. */
export interface CocoStatSpec {
  ap: boolean;
  iouIndex: number | null;
  areaIndex: number;
  maxDetIndex: number;
}

/** The 12 summary statistics in COCOeval.stats order. */
export const COCO_STAT_SPECS: readonly CocoStatSpec[] = [
  { ap: true, iouIndex: null, areaIndex: 0, maxDetIndex: 2 },
  { ap: true, iouIndex: 0, areaIndex: 0, maxDetIndex: 2 },
  { ap: true, iouIndex: 5, areaIndex: 0, maxDetIndex: 2 },
  { ap: true, iouIndex: null, areaIndex: 1, maxDetIndex: 2 },
  { ap: true, iouIndex: null, areaIndex: 2, maxDetIndex: 2 },
  { ap: true, iouIndex: null, areaIndex: 3, maxDetIndex: 2 },
  { ap: false, iouIndex: null, areaIndex: 0, maxDetIndex: 0 },
  { ap: false, iouIndex: null, areaIndex: 0, maxDetIndex: 1 },
  { ap: false, iouIndex: null, areaIndex: 0, maxDetIndex: 2 },
  { ap: false, iouIndex: null, areaIndex: 1, maxDetIndex: 2 },
  { ap: false, iouIndex: null, areaIndex: 2, maxDetIndex: 2 },
  { ap: false, iouIndex: null, areaIndex: 3, maxDetIndex: 2 },
];
