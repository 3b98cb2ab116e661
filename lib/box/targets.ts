/**
 * Per-image training targets for a dense detector (RetinaNet; detectron2 `RetinaNet.label_anchors`).
 *
 * labels (Int32Array, one per anchor; the negative values are lib/box/labels.ts's):
 *   0..K-1  positive: class index of the matched GT box
 *   -1      background: focal loss pushes every class towards 0
 *   -2      ignored: no loss at all (IoU ignore band, Table 4 dropped boxes, crowd regions)
 * boxTargets (Float32Array, 4 per anchor): (dx, dy, log dw, log dh) of the matched GT relative to the
 *   anchor for positives (lib/box/coder.ts), 0 elsewhere.
 * The focal loss is normalised by `numPositive` (RetinaNet; detectron2 smooths it with an EMA).
 */
import { UserError } from '../util/errors';
import { BoxCoderWeights, RETINANET_BOX_WEIGHTS, encodeOneInto } from './coder';
import { boxCount } from './iou';
import { MatcherOptions, RETINANET_MATCHER, matchAnchors } from './matcher';

export interface GtInstances {
  /** 4G boxes (x1, y1, x2, y2) in input pixels. */
  boxes: Float32Array;
  /** G contiguous class indices 0..K-1 (not COCO category ids). */
  classIdx: Int32Array;
  /** G flags: 0 normal, 1 crowd (COCO iscrowd), 2 dropped (Table 4) (lib/box/matcher.ts GT_*). */
  ignore?: Uint8Array;
}

export interface TargetOptions extends MatcherOptions {
  /** Box coder weights; RetinaNet (1, 1, 1, 1). */
  weights?: BoxCoderWeights;
  /** If given, class indices must lie in 0..numClasses-1. */
  numClasses?: number;
}

export interface Targets {
  labels: Int32Array;
  boxTargets: Float32Array;
  /** The matcher's result per anchor: GT index, -1 or -2. */
  matches: Int32Array;
  numPositive: number;
  numIgnored: number;
}

export function buildTargets(anchors: Float32Array, gt: GtInstances, opts: TargetOptions = RETINANET_MATCHER): Targets {
  const numAnchors = boxCount(anchors, 'anchors');
  const numGt = boxCount(gt.boxes, 'gt boxes');
  if (gt.classIdx.length !== numGt) {
    throw new UserError(`got ${gt.classIdx.length} class indices for ${numGt} GT boxes`, 'pass one class per box');
  }
  for (let g = 0; g < numGt; g++) {
    const c = gt.classIdx[g];
    if (c < 0 || (opts.numClasses !== undefined && c >= opts.numClasses)) {
      throw new UserError(
        `GT box ${g} has class index ${c}` + (opts.numClasses !== undefined ? ` but there are ${opts.numClasses} classes` : ''),
        'class indices are contiguous 0..K-1; map dataset category ids first',
      );
    }
    for (let c4 = 0; c4 < 4; c4++) {
      if (!Number.isFinite(gt.boxes[4 * g + c4])) {
        throw new UserError(`GT box ${g} has a non-finite coordinate`, 'check the annotations of this image');
      }
    }
  }

  const { matches, numPositive, numIgnored } = matchAnchors(anchors, gt.boxes, opts, gt.ignore);
  const weights = opts.weights ?? RETINANET_BOX_WEIGHTS;
  const labels = new Int32Array(numAnchors);
  const boxTargets = new Float32Array(4 * numAnchors);
  for (let a = 0; a < numAnchors; a++) {
    const g = matches[a];
    if (g >= 0) {
      labels[a] = gt.classIdx[g];
      encodeOneInto(boxTargets, a, anchors, a, gt.boxes, g, weights);
    } else {
      labels[a] = g;
    }
  }
  return { labels, boxTargets, matches, numPositive, numIgnored };
}
