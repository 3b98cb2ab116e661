/**
 * One training step of a detector family, behind one interface: the loop (trainer.ts) hands it a
 * batch and the step number; the step builds that step's anchors and targets and returns the loss
 * to differentiate. The loop owns everything else (learning rate, gradients, weight decay,
 * clipping, optimizer groups, logging, checkpoints).
 *
 *   RetinaNet (baseline / MetaAnchor, both generators)  retinanet-step.ts
 *   YOLOv2 (Table 7)                                    yolo-step.ts
 */
import * as tf from '@tensorflow/tfjs';
import { Batch } from '../data/pipeline';

export interface StepLoss {
  /** Tensors built for this step; the loop disposes them after the update. */
  inputs: tf.Tensor[];
  /** The total loss; called inside tf.variableGrads. */
  loss: () => tf.Scalar;
  /** After `loss` ran: the step's [classification, box, positives], releasing what `loss` kept. */
  parts: () => [number, number, number];
}

export interface TrainingStep {
  /** `x` is the batch's images as a tensor (the loop's; it disposes it). */
  prepare(batch: Batch, x: tf.Tensor4D, step: number): StepLoss;
}

/** Reads kept loss parts once, then disposes them (shared by the steps). */
export function readParts(kept: (tf.Scalar | number)[]): [number, number, number] {
  const v = kept.map((t) => (typeof t === 'number' ? t : t.dataSync()[0]));
  tf.dispose(kept.filter((t): t is tf.Scalar => typeof t !== 'number'));
  return [v[0], v[1], v[2]];
}
