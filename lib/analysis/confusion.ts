/**
 * A detection confusion matrix with a background row and column, rows = ground-truth class,
 * columns = detected class (mmdetection's tools/analysis_tools/confusion_matrix.py layout and
 * defaults: score >= 0.3, IoU >= 0.5).
 *
 * Every box and every detection is counted exactly once, which mmdetection's version does not do
 * (open-mmlab/mmdetection #10631: a detection overlapping two boxes is counted for both, and a box
 * found by several detections for each). Per image:
 *   1. the COCO evaluator's matching at the IoU threshold (same class, score order, best unmatched
 *      box) gives the diagonal: a true positive counts at (its class, its class);
 *   2. each remaining detection, in score order, takes the unmatched box of another class it
 *      overlaps most (IoU >= threshold): counted at (box class, detected class);
 *   3. detections still unmatched count in the background row, boxes still unmatched in the
 *      background column.
 * So the background row holds every false positive without a box of its own: detections on
 * nothing, duplicates, and wrong-class detections on a box that its own class already found (TIDE
 * counts the last as Cls errors; here the box is counted once, on the diagonal).
 * So row k sums to the number of class-k boxes and column k to the number of class-k detections
 * counted. Detections matched to a crowd region, and those past the evaluator's 100 per image and
 * class, are left out.
 */
import { cocoBoxIou } from '../eval/coco';
import { AnalysisInputs, cocoThresholdIndex, pickDetections } from './inputs';
import { UserError } from '../util/errors';

export interface ConfusionOptions {
  /** Detections below this score are left out (default 0.3). */
  scoreThreshold?: number;
  /** IoU for a detection to count for a box: one of COCO's thresholds (default 0.5). */
  iouThreshold?: number;
}

export interface ConfusionMatrix {
  /** Category names then "background". */
  labels: string[];
  categoryIds: number[];
  /** matrix[gt][detected], (K+1) x (K+1); the last row and column are background. */
  matrix: number[][];
  scoreThreshold: number;
  iouThreshold: number;
}

export function confusionMatrix(inputs: AnalysisInputs, options: ConfusionOptions = {}): ConfusionMatrix {
  const scoreThreshold = options.scoreThreshold ?? 0.3;
  const iouThreshold = options.iouThreshold ?? 0.5;
  if (!(scoreThreshold >= 0)) throw new UserError(`score threshold must be >= 0, got ${scoreThreshold}`, 'mmdetection uses 0.3');
  const t = cocoThresholdIndex(iouThreshold);
  const { gt, dets } = inputs;
  const K = inputs.categories.length;
  const kOf = new Map(inputs.categories.map((c, k) => [c.id, k]));
  const matrix = Array.from({ length: K + 1 }, () => new Array<number>(K + 1).fill(0));

  const kept: { j: number }[] = [];
  for (let j = 0; j < dets.count; j++) if (dets.score[j] >= scoreThreshold) kept.push({ j });
  const above = pickDetections(dets, kept);
  const match = inputs.prepared.matchDetections(above, { ...(inputs.imageIds ? { imageIds: inputs.imageIds } : {}), recordMatches: true });
  const stride = match.tpMask.length / 4;
  const bit = 1 << t;
  const matchedGt = match.matchedGt as Int32Array;
  const used = new Uint8Array(gt.count);
  const rest = new Map<number, number[]>(); // image id -> unmatched scored detections (positions in `above`)
  for (let e = 0; e < match.detIndex.length; e++) {
    const j = match.detIndex[e];
    const k = kOf.get(above.categoryId[j]) as number;
    if (match.tpMask[e] & bit) {
      used[matchedGt[t * stride + e]] = 1;
      matrix[k][k]++;
    } else if (!(match.ignoreMask[e] & bit)) {
      const list = rest.get(above.imageId[j]) ?? [];
      list.push(j);
      rest.set(above.imageId[j], list);
    }
  }
  for (const [imageId, list] of rest) {
    // Score order, ties by input position (the evaluator's order).
    list.sort((a, b) => above.score[b] - above.score[a] || a - b);
    const boxes = inputs.gtByImage.get(imageId) ?? [];
    for (const j of list) {
      const [dx, dy, dw, dh] = above.boxXYWH.subarray(4 * j, 4 * j + 4);
      let best = -1;
      let bestIou = iouThreshold;
      for (const g of boxes) {
        if (used[g] || gt.categoryId[g] === above.categoryId[j]) continue;
        const v = cocoBoxIou(dx, dy, dw, dh, dw * dh, gt.boxXYWH[4 * g], gt.boxXYWH[4 * g + 1], gt.boxXYWH[4 * g + 2], gt.boxXYWH[4 * g + 3], false);
        if (v >= bestIou && (best < 0 || v > bestIou)) {
          best = g;
          bestIou = v;
        }
      }
      const k = kOf.get(above.categoryId[j]) as number;
      if (best >= 0) {
        used[best] = 1;
        matrix[kOf.get(gt.categoryId[best]) as number][k]++;
      } else {
        matrix[K][k]++;
      }
    }
  }
  for (const boxes of inputs.gtByImage.values()) {
    for (const g of boxes) if (!used[g]) matrix[kOf.get(gt.categoryId[g]) as number][K]++;
  }
  return {
    labels: [...inputs.categories.map((c) => c.name), 'background'],
    categoryIds: inputs.categories.map((c) => c.id),
    matrix,
    scoreThreshold,
    iouThreshold,
  };
}

/** The largest off-diagonal entries between classes (background excluded), largest first. */
export function topConfusions(cm: ConfusionMatrix, count = 5): { gt: string; detected: string; n: number }[] {
  const K = cm.labels.length - 1;
  const out: { gt: string; detected: string; n: number }[] = [];
  for (let a = 0; a < K; a++)
    for (let b = 0; b < K; b++) if (a !== b && cm.matrix[a][b] > 0) out.push({ gt: cm.labels[a], detected: cm.labels[b], n: cm.matrix[a][b] });
  return out.sort((x, y) => y.n - x.n).slice(0, count);
}
