/**
 * TIDE's error breakdown (Bolya, Foley, Hays, Hoffman: "TIDE: A General Toolbox for Identifying
 * Object Detection Errors", ECCV 2020; https://github.com/dbolya/tide, tidecv/quantify.py and
 * tidecv/errors/main_errors.py), computed on this project's COCO evaluator so that the AP it starts
 * from is exactly `eval coco`'s AP at the foreground threshold.
 *
 * Every detection the evaluator scores at t_f (IoU foreground threshold, 0.5) in area 'all' is a
 * true positive, ignored (matched to a crowd region), or a false positive. A false positive gets the
 * first type whose test holds, in TIDE's order (IoU against the image's non-crowd ground truth):
 *   Bkg   the image has no ground truth;
 *   Loc   t_b <= max IoU with a box of its own class < t_f (TIDE paper, Sec. 2.2; the code uses <=
 *         t_f, which only differs for an IoU exactly at t_f with a box already taken: a Dupe here);
 *   Cls   max IoU with a box of another class >= t_f;
 *   Dupe  max IoU with a box of its class that a higher-scoring detection matched >= t_f;
 *   Bkg   max IoU with every box <= t_b;
 *   Both  anything else (wrong class and t_b < IoU < t_f);
 * and a ground-truth box no detection matched is
 *   Miss  unless a Cls or Loc error points at it (then fixing that error would detect it).
 *
 * dAP of a type = AP at t_f after fixing only the errors of that type, minus AP (negative values,
 * which TIDE attributes to binning, are clamped to 0 as TIDE does). Fixes, as TIDE applies them:
 *   Cls / Loc  the detection becomes a true positive of the box it points at (class and box of that
 *              ground truth) if the box is unmatched and this is the highest-scoring Cls/Loc error
 *              pointing at it (TIDE's BestGTMatch); otherwise the detection is removed;
 *   Dupe, Bkg, Both  the detection is removed;
 *   Miss       the missed boxes are removed from the ground truth (fewer positives to find).
 * Also TIDE's two summary errors: FalsePos (every false positive removed) and FalseNeg (every
 * unmatched box removed). Each fix is an evaluation of a modified detection list (or ground truth)
 * by the same evaluator, on the detections it scored (at most 100 per image and category).
 */
import { cocoBoxIou } from '../eval/coco';
import { AnalysisInputs, cocoThresholdIndex, pickDetections, withoutAnnotations } from './inputs';
import { UserError } from '../util/errors';
import { CocoDetections } from '../eval/coco-input';

export const TIDE_ERROR_TYPES = ['cls', 'loc', 'both', 'dupe', 'bkg', 'miss'] as const;
export type TideErrorType = (typeof TIDE_ERROR_TYPES)[number];
/** TIDE's own short names. */
export const TIDE_ERROR_NAMES: Record<TideErrorType, string> = { cls: 'Cls', loc: 'Loc', both: 'Both', dupe: 'Dupe', bkg: 'Bkg', miss: 'Miss' };

export const TIDE_CITATION = 'TIDE (Bolya et al., ECCV 2020; github.com/dbolya/tide)';

export interface TideOptions {
  /** Foreground IoU threshold t_f (one of COCO's ten thresholds), default 0.5. */
  tf?: number;
  /** Background IoU threshold t_b, default 0.1. */
  tb?: number;
}

export interface TideResult {
  tf: number;
  tb: number;
  /** The evaluator's AP at t_f (fraction). */
  ap: number;
  /** dAP per main error type (fractions, >= 0). */
  errors: Record<TideErrorType, number>;
  /** Errors of each type (detections; ground-truth boxes for Miss). */
  counts: Record<TideErrorType, number>;
  /** dAP of TIDE's FalsePos and FalseNeg summaries. */
  special: { fp: number; fn: number };
  /** True positives at t_f among the scored detections. */
  truePositives: number;
  /** Per input detection: its error type, 'tp', 'ignored', or null when the evaluator did not score it. */
  detectionType: (TideErrorType | 'tp' | 'ignored' | null)[];
}

const NONE = -1;

/** TIDE's error breakdown of `inputs` (see the file header). */
export function tideErrors(inputs: AnalysisInputs, options: TideOptions = {}): TideResult {
  const tf = options.tf ?? 0.5;
  const tb = options.tb ?? 0.1;
  if (!(tb >= 0 && tb < tf)) throw new UserError(`TIDE thresholds need 0 <= t_b < t_f, got t_b ${tb}, t_f ${tf}`, 'TIDE uses t_f 0.5 and t_b 0.1');
  const t = cocoThresholdIndex(tf, 't_f');
  const { gt, dets, prepared } = inputs;
  const evalOptions = inputs.imageIds ? { imageIds: inputs.imageIds } : {};
  const match = prepared.matchDetections(dets, { ...evalOptions, recordMatches: true });
  const base = prepared.evaluate(dets, evalOptions).perIou[t].ap;
  const n = match.detIndex.length;
  const stride = match.tpMask.length / 4;
  const bit = 1 << t;
  const matchedGt = match.matchedGt as Int32Array;

  const used = new Uint8Array(gt.count);
  const kind = new Int8Array(n).fill(NONE); // index into TIDE_ERROR_TYPES for false positives
  const isTp = new Uint8Array(n);
  const isIgnored = new Uint8Array(n);
  for (let e = 0; e < n; e++) {
    if (match.tpMask[e] & bit) {
      isTp[e] = 1;
      used[matchedGt[t * stride + e]] = 1;
    } else if (match.ignoreMask[e] & bit) {
      isIgnored[e] = 1;
    }
  }

  const target = new Int32Array(n).fill(NONE); // the box a Cls / Loc error points at
  const usable = new Uint8Array(gt.count);
  const bestEntry = new Int32Array(gt.count).fill(NONE);
  const type = (name: TideErrorType) => TIDE_ERROR_TYPES.indexOf(name);
  for (let e = 0; e < n; e++) {
    if (isTp[e] || isIgnored[e]) continue;
    const j = match.detIndex[e];
    const boxes = inputs.gtByImage.get(dets.imageId[j]) ?? [];
    if (boxes.length === 0) {
      kind[e] = type('bkg');
      continue;
    }
    const dx = dets.boxXYWH[4 * j];
    const dy = dets.boxXYWH[4 * j + 1];
    const dw = dets.boxXYWH[4 * j + 2];
    const dh = dets.boxXYWH[4 * j + 3];
    const cat = dets.categoryId[j];
    let same = 0;
    let sameAt = NONE;
    let other = 0;
    let otherAt = NONE;
    let usedSame = 0;
    let any = 0;
    for (const g of boxes) {
      const v = cocoBoxIou(dx, dy, dw, dh, dw * dh, gt.boxXYWH[4 * g], gt.boxXYWH[4 * g + 1], gt.boxXYWH[4 * g + 2], gt.boxXYWH[4 * g + 3], false);
      if (v > any) any = v;
      // argmax as np.argmax: the first box with the highest IoU.
      if (gt.categoryId[g] === cat) {
        if (sameAt === NONE || v > same) {
          same = v;
          sameAt = g;
        }
        if (used[g] && v > usedSame) usedSame = v;
      } else if (otherAt === NONE || v > other) {
        other = v;
        otherAt = g;
      }
    }
    let k: TideErrorType;
    if (sameAt !== NONE && same >= tb && same < tf) {
      k = 'loc';
      target[e] = sameAt;
    } else if (otherAt !== NONE && other >= tf) {
      k = 'cls';
      target[e] = otherAt;
    } else if (usedSame >= tf) {
      k = 'dupe';
    } else if (any <= tb) {
      k = 'bkg';
    } else {
      k = 'both';
    }
    kind[e] = type(k);
    const g = target[e];
    if (g !== NONE && !used[g]) {
      // TIDE's BestGTMatch: of the Cls / Loc errors pointing at one unmatched box, the highest
      // scoring one is fixed (ties: the earlier detection) and the others are suppressed.
      usable[g] = 1;
      const b = bestEntry[g];
      if (b === NONE || dets.score[j] > dets.score[match.detIndex[b]] || (dets.score[j] === dets.score[match.detIndex[b]] && j < match.detIndex[b]))
        bestEntry[g] = e;
    }
  }

  const missed = new Uint8Array(gt.count);
  const unmatched = new Uint8Array(gt.count);
  let missCount = 0;
  for (const boxes of inputs.gtByImage.values()) {
    for (const g of boxes) {
      if (used[g]) continue;
      unmatched[g] = 1;
      if (!usable[g]) {
        missed[g] = 1;
        missCount++;
      }
    }
  }

  // Scored detections in input order (input position breaks score ties, as in results.json).
  const entries = Array.from({ length: n }, (_, e) => e).sort((a, b) => match.detIndex[a] - match.detIndex[b]);
  const apAt = (d: CocoDetections, on: AnalysisInputs = inputs) => on.prepared.evaluate(d, evalOptions).perIou[t].ap;
  const fixed = (name: TideErrorType): CocoDetections => {
    const k = type(name);
    const picks: { j: number; categoryId?: number; boxXYWH?: ArrayLike<number> }[] = [];
    for (const e of entries) {
      const j = match.detIndex[e];
      if (kind[e] !== k) {
        picks.push({ j });
        continue;
      }
      if (name !== 'cls' && name !== 'loc') continue;
      const g = target[e];
      if (used[g] || bestEntry[g] !== e) continue;
      picks.push({ j, categoryId: name === 'cls' ? gt.categoryId[g] : undefined, boxXYWH: gt.boxXYWH.subarray(4 * g, 4 * g + 4) });
    }
    return pickDetections(dets, picks);
  };
  const scored = pickDetections(
    dets,
    entries.map((e) => ({ j: match.detIndex[e] })),
  );
  const gain = (ap: number) => Math.max(ap - base, 0);
  const errors = {} as Record<TideErrorType, number>;
  const counts = {} as Record<TideErrorType, number>;
  for (const name of TIDE_ERROR_TYPES) {
    if (name === 'miss') {
      errors.miss = missCount ? gain(apAt(scored, withoutAnnotations(inputs, missed))) : 0;
      counts.miss = missCount;
      continue;
    }
    counts[name] = kind.reduce((c, v) => c + (v === type(name) ? 1 : 0), 0);
    errors[name] = counts[name] ? gain(apAt(fixed(name))) : 0;
  }
  const truePositivesOnly = pickDetections(
    dets,
    entries.filter((e) => kind[e] === NONE).map((e) => ({ j: match.detIndex[e] })),
  );
  const special = {
    fp: gain(apAt(truePositivesOnly)),
    fn: gain(apAt(scored, withoutAnnotations(inputs, unmatched))),
  };
  const detectionType: TideResult['detectionType'] = new Array(dets.count).fill(null);
  for (let e = 0; e < n; e++) {
    detectionType[match.detIndex[e]] = isTp[e] ? 'tp' : isIgnored[e] ? 'ignored' : TIDE_ERROR_TYPES[kind[e]];
  }
  return { tf, tb, ap: base, errors, counts, special, truePositives: isTp.reduce((c, v) => c + v, 0), detectionType };
}
