/**
 * Anchor-to-ground-truth assignment (RetinaNet, Lin et al. 2017, Sec. 4; detectron2 `Matcher` with
 * thresholds [negIou, posIou] and labels [0, -1, 1]).
 *
 * For every anchor, its best IoU over the matchable GT boxes decides:
 *   IoU >= posIou              -> positive, matched to the argmax GT (lowest GT index on ties)
 *   IoU <  negIou              -> background (-1)
 *   negIou <= IoU < posIou     -> ignored (-2): no classification or box loss
 * The paper trains with posIou/negIou = 0.5/0.4 and 0.6/0.5 (Table 2).
 *
 * Low-quality matches (`allowLowQuality`, detectron2's RetinaNet default, Faster R-CNN's RPN rule (i)):
 * for every GT, all anchors whose IoU with it equals that GT's best IoU over all anchors — ties
 * included, exactly as detectron2's `set_low_quality_matches_` — become positive. As in detectron2
 * (and torchvision), such an anchor is matched to its own argmax GT, which is usually but not
 * necessarily the GT that promoted it. One deliberate difference: a GT whose best IoU is 0 (it
 * overlaps no anchor at all) promotes nothing; detectron2 would turn every anchor into a positive.
 *
 * GT flags (Uint8Array, one per GT box), from COCO `iscrowd` or the Table 4 experiment:
 * - GT_CROWD = 1 (COCO `iscrowd: 1`): the box is never matched. An anchor that would be background
 *   but lies mostly inside a crowd region — IoA = |anchor ∩ crowd| / |anchor| > crowdIoa
 *   (Detectron's `CROWD_FILTER_THRESH` 0.7, strict '>' as there) — is ignored, so the crowd's
 *   unlabelled people are not taught as background. Positives and the ignore band stay as they are.
 * - GT_DROPPED = 2 (Table 4, "assign the corresponding loss to 0"): the box takes part in matching
 *   like any other, and every anchor that ends up matched to it (by threshold or as a low-quality
 *   match) is ignored instead of positive. So the anchors that would learn from it are neither
 *   positive nor negative, and the rest of the image is unaffected.
 * Degenerate GT boxes (no area, or a non-finite coordinate) are skipped entirely: they have IoU 0 with
 * every anchor and could not be encoded as regression targets anyway.
 *
 * Cost: O(A·G) time, O(A + G) memory; the A x G IoU matrix is never stored (a 600 px image with 9x9
 * anchors has ~6e5 anchors).
 */
import { UserError } from '../util/errors';
import { boxCount, boxHeight, boxWidth, intersectionArea, isDegenerate } from './iou';
import { LABEL_BACKGROUND, LABEL_IGNORE } from './labels';

/** Per-GT flag values (Uint8Array). */
export const GT_NORMAL = 0;
/** COCO crowd region (`iscrowd: 1`): never matched; background anchors inside it are ignored. */
export const GT_CROWD = 1;
/** Table 4 "dropped" box: anchors matched to it are ignored. */
export const GT_DROPPED = 2;

export interface MatcherOptions {
  /** IoU at or above which an anchor is positive. */
  posIou: number;
  /** IoU below which an anchor is background. */
  negIou: number;
  /** Promote each GT's best anchors (ties included) to positives. Default true (detectron2 RetinaNet). */
  allowLowQuality?: boolean;
  /** Background anchors with IoA above this inside a crowd box are ignored. Default 0.7. */
  crowdIoa?: number;
}

/** RetinaNet's 0.5 / 0.4 with low-quality matches (detectron2 defaults). */
export const RETINANET_MATCHER: Readonly<Required<MatcherOptions>> = {
  posIou: 0.5,
  negIou: 0.4,
  allowLowQuality: true,
  crowdIoa: 0.7,
};

export interface MatchResult {
  /** Per anchor: matched GT index >= 0 (positive), -1 background, -2 ignored. */
  matches: Int32Array;
  /** Per anchor: best IoU over matchable (non-crowd, non-degenerate) GT boxes, 0 if none. */
  maxIou: Float32Array;
  numPositive: number;
  numIgnored: number;
}

export function checkMatcherOptions(opts: MatcherOptions): void {
  const { posIou, negIou } = opts;
  if (!(negIou > 0 && negIou <= posIou && posIou <= 1)) {
    throw new UserError(`IoU thresholds pos=${posIou} / neg=${negIou} are invalid: need 0 < neg <= pos <= 1`, "use the paper's 0.5/0.4 or 0.6/0.5 (Table 2)");
  }
  const crowd = opts.crowdIoa ?? RETINANET_MATCHER.crowdIoa;
  if (!(crowd >= 0 && crowd <= 1)) {
    throw new UserError(`crowdIoa=${crowd} is invalid: need a value in [0, 1]`, 'Detectron uses 0.7');
  }
}

/**
 * Assign anchors (4A) to GT boxes (4G). `gtFlags` (G, optional) holds GT_NORMAL (0) / GT_CROWD (1) /
 * GT_DROPPED (2) per box.
 */
export function matchAnchors(anchors: Float32Array, gtBoxes: Float32Array, opts: MatcherOptions = RETINANET_MATCHER, gtFlags?: Uint8Array): MatchResult {
  checkMatcherOptions(opts);
  const numAnchors = boxCount(anchors, 'anchors');
  const numGt = boxCount(gtBoxes, 'gt boxes');
  if (gtFlags && gtFlags.length !== numGt) {
    throw new UserError(`got ${gtFlags.length} GT flags for ${numGt} GT boxes`, 'pass one flag per GT box');
  }
  const allowLowQuality = opts.allowLowQuality ?? RETINANET_MATCHER.allowLowQuality;
  const crowdIoa = opts.crowdIoa ?? RETINANET_MATCHER.crowdIoa;

  // Split GT boxes into matchable ones and crowd regions; degenerate boxes go nowhere.
  const matchable: number[] = [];
  const crowd: number[] = [];
  for (let g = 0; g < numGt; g++) {
    const flag = gtFlags ? gtFlags[g] : GT_NORMAL;
    if (flag !== GT_NORMAL && flag !== GT_DROPPED && flag !== GT_CROWD) {
      throw new UserError(`GT box ${g} has flag ${flag}`, `flags are ${GT_NORMAL} (normal), ${GT_CROWD} (crowd) or ${GT_DROPPED} (dropped, Table 4)`);
    }
    if (isDegenerate(gtBoxes, g)) continue;
    (flag === GT_CROWD ? crowd : matchable).push(g);
  }

  // Matchable GT boxes copied to a compact float64 array with their areas: the inner loop runs A·G times.
  const m = matchable.length;
  const gt = new Float64Array(4 * m);
  const gtArea = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const g = matchable[k];
    for (let c = 0; c < 4; c++) gt[4 * k + c] = gtBoxes[4 * g + c];
    gtArea[k] = boxWidth(gtBoxes, g) * boxHeight(gtBoxes, g);
  }

  const matches = new Int32Array(numAnchors);
  const maxIou = new Float32Array(numAnchors);
  const argmax = new Int32Array(numAnchors).fill(-1); // compact GT index k
  const bestPerGt = new Float64Array(m); // best IoU of each GT over all anchors
  const bestAnchorsPerGt: number[][] = allowLowQuality ? matchable.map(() => []) : [];

  for (let a = 0; a < numAnchors; a++) {
    const ax1 = anchors[4 * a];
    const ay1 = anchors[4 * a + 1];
    const ax2 = anchors[4 * a + 2];
    const ay2 = anchors[4 * a + 3];
    const aArea = (ax2 > ax1 ? ax2 - ax1 : 0) * (ay2 > ay1 ? ay2 - ay1 : 0);
    let best = 0;
    let bestK = -1;
    for (let k = 0; k < m; k++) {
      const iw = Math.min(ax2, gt[4 * k + 2]) - Math.max(ax1, gt[4 * k]);
      if (!(iw > 0)) continue;
      const ih = Math.min(ay2, gt[4 * k + 3]) - Math.max(ay1, gt[4 * k + 1]);
      if (!(ih > 0)) continue;
      const inter = iw * ih;
      const iou = inter / (aArea + gtArea[k] - inter);
      if (iou > best) {
        best = iou;
        bestK = k;
      }
      if (allowLowQuality && iou >= bestPerGt[k]) {
        if (iou > bestPerGt[k]) {
          bestPerGt[k] = iou;
          bestAnchorsPerGt[k].length = 0;
        }
        bestAnchorsPerGt[k].push(a);
      }
    }
    argmax[a] = bestK;
    maxIou[a] = best;
    if (bestK >= 0 && best >= opts.posIou) matches[a] = matchable[bestK];
    else if (best < opts.negIou) matches[a] = LABEL_BACKGROUND;
    else matches[a] = LABEL_IGNORE;
  }

  if (allowLowQuality) {
    for (let k = 0; k < m; k++) {
      if (!(bestPerGt[k] > 0)) continue; // touches no anchor: promotes nothing (see header)
      for (const a of bestAnchorsPerGt[k]) matches[a] = matchable[argmax[a]];
    }
  }

  if (gtFlags) {
    for (let a = 0; a < numAnchors; a++) {
      const g = matches[a];
      if (g >= 0 && gtFlags[g] === GT_DROPPED) matches[a] = LABEL_IGNORE;
    }
    if (crowd.length > 0) {
      for (let a = 0; a < numAnchors; a++) {
        if (matches[a] !== LABEL_BACKGROUND) continue;
        const aArea = boxWidth(anchors, a) * boxHeight(anchors, a);
        if (aArea === 0) continue;
        for (const g of crowd) {
          if (intersectionArea(anchors, a, gtBoxes, g) / aArea > crowdIoa) {
            matches[a] = LABEL_IGNORE;
            break;
          }
        }
      }
    }
  }

  let numPositive = 0;
  let numIgnored = 0;
  for (let a = 0; a < numAnchors; a++) {
    if (matches[a] >= 0) numPositive++;
    else if (matches[a] === LABEL_IGNORE) numIgnored++;
  }
  return { matches, maxIou, numPositive, numIgnored };
}
