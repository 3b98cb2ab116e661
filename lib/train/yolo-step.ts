/**
 * One YOLOv2 training step: its anchors and loss (lib/train/step.ts; RetinaNet's is retinanet-step.ts).
 *
 * Anchors: the baseline trains its predefined anchors (darknet's 5 COCO anchors for 'yolov2');
 * MetaAnchor draws the configuration's b_i jittered within +-jitter per step (Sec. 4), exactly
 * as the RetinaNet path does (same random stream), and builds the anchors those b_i denote in
 * grid cells, so the targets use the anchors the generator is fed.
 *
 * Loss: the region layer's targets are computed from the current predictions (darknet computes
 * its deltas from the forward output too: the no-object IoU test and the rescore target), so the
 * forward pass runs once, its output is read on the host, the targets become constants, and the
 * loss (lib/model/yolo/loss.ts) is built on the same output tensor.
 */
import * as tf from '@tensorflow/tfjs';
import { canReadSync } from '../backend/read';
import { AnchorConfig, configB, jitterB } from '../anchors';
import { derivedRng } from '../data/seeds';
import { Batch } from '../data/pipeline';
import {
  RegionGroundTruth,
  RegionTargets,
  YOLOV2_REGION,
  YoloDetector,
  anchorCellsFromB,
  anchorCellsOf,
  priorTermSteps,
  regionLoss,
  regionTargets,
} from '../model/yolo';
import { TrainConfig } from './config';
import { StepLoss, TrainingStep, readParts } from './step';

/** The YOLOv2 training step (lib/train/step.ts); the prior-matching term is on during warm-up. */
export function yoloStep(cfg: TrainConfig, detector: YoloDetector, anchors: AnchorConfig): TrainingStep {
  return {
    async prepare(batch: Batch, x: tf.Tensor4D, step: number): Promise<StepLoss> {
      const ya = yoloStepAnchors(cfg.method, anchors, cfg.seed, step, cfg.jitter);
      const bT = ya.b ? tf.tensor2d(ya.b, [ya.b.length / 2, 2], 'float32') : undefined;
      const priorTerm = step < priorTermSteps(cfg.lr.warmupSteps);
      // The region targets depend on the predictions; webgpu cannot read them inside the
      // gradient tape, so it runs the (deterministic) forward pass once more before it.
      const predicted = await yoloPredictionsForTargets(detector, x, bT);
      const kept: (tf.Scalar | number)[] = [];
      return {
        inputs: bT ? [bT] : [],
        loss: () => {
          const l = yoloBatchLoss(detector, x, bT, batch.items, ya.anchorsWH, priorTerm, predicted);
          kept.push(tf.keep(l.cls), tf.keep(l.box), l.assigned);
          return l.total;
        },
        parts: () => readParts(kept),
      };
    },
  };
}

export interface YoloStepAnchors {
  /** [w, h, ...] in grid cells. */
  anchorsWH: Float32Array;
  /** MetaAnchor: the Eq. 7 codes fed to the generator ([bh, bw] rows). */
  b?: Float32Array;
}

export function yoloStepAnchors(method: 'baseline' | 'metaanchor', anchors: AnchorConfig, seed: number, step: number, jitter: number): YoloStepAnchors {
  if (method === 'baseline') return { anchorsWH: anchorCellsOf(anchors) };
  const b = jitterB(configB(anchors), derivedRng(seed, 'jitter', step), jitter);
  return { b, anchorsWH: anchorCellsFromB(b, anchors.standardBoxP3) };
}

export interface YoloStepLoss {
  total: tf.Scalar;
  /** Objectness + class terms (the "classification" column of the step log). */
  cls: tf.Scalar;
  /** Coordinate term (incl. the prior-matching term while it is on). */
  box: tf.Scalar;
  /** Ground truths assigned to a prediction. */
  assigned: number;
  meanIou: number;
}

/**
 * The raw output `yoloBatchLoss` builds its targets from, read before the gradient tape: needed on
 * backends that cannot read synchronously (webgpu); undefined elsewhere (the loss reads it itself).
 */
export async function yoloPredictionsForTargets(
  detector: YoloDetector,
  images: tf.Tensor4D,
  anchorB: tf.Tensor2D | undefined,
): Promise<Float32Array | undefined> {
  if (canReadSync()) return undefined;
  const raw = tf.tidy(() => detector.forward(images, anchorB));
  try {
    return (await raw.data()) as Float32Array;
  } finally {
    raw.dispose();
  }
}

/** Forward + targets + loss; call inside tf.variableGrads (the returned scalars are tidied by it unless kept). */
export function yoloBatchLoss(
  detector: YoloDetector,
  images: tf.Tensor4D,
  anchorB: tf.Tensor2D | undefined,
  gts: readonly RegionGroundTruth[],
  anchorsWH: Float32Array,
  priorTerm: boolean,
  predicted?: Float32Array,
): YoloStepLoss {
  const raw = detector.forward(images, anchorB);
  const [n, gridH, gridW] = raw.shape;
  const A = anchorsWH.length / 2;
  const K = detector.numClasses;
  const data = predicted ?? (raw.dataSync() as Float32Array);
  if (data.length !== raw.size) throw new Error(`yoloBatchLoss: ${data.length} predicted values for a ${raw.shape.join('x')} output`);
  const per = data.length / n;
  const shape = { gridH, gridW, numAnchors: A, numClasses: K };
  const targets: RegionTargets[] = gts.map((gt, k) =>
    regionTargets(data.subarray(k * per, (k + 1) * per), shape, anchorsWH, gt, detector.stridePx, YOLOV2_REGION, priorTerm),
  );
  const l = regionLoss(raw, targets, A, K);
  const assigned = targets.reduce((s, t) => s + t.assigned, 0);
  const meanIou = assigned > 0 ? targets.reduce((s, t) => s + t.meanIou * t.assigned, 0) / assigned : 0;
  return { total: l.total, cls: tf.add(l.obj, l.cls) as tf.Scalar, box: l.coord, assigned, meanIou };
}
