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
import { scalars } from '../backend/read';
import { Batch } from '../data/pipeline';

export interface StepLoss {
  /** Tensors built for this step; the loop disposes them after the update. */
  inputs: tf.Tensor[];
  /** The total loss; called inside tf.variableGrads. */
  loss: () => tf.Scalar;
  /**
   * After `loss` ran: the step's [classification, box, positives], releasing what `loss` kept. Read
   * asynchronously: webgpu cannot read synchronously in Node (lib/backend/read.ts).
   */
  parts: () => Promise<[number, number, number]>;
}

export interface TrainingStep {
  /** `x` is the batch's images as a tensor (the loop's; it disposes it). */
  prepare(batch: Batch, x: tf.Tensor4D, step: number): Promise<StepLoss>;
}

/** Reads kept loss parts once, then disposes them (shared by the steps). */
export async function readParts(kept: (tf.Scalar | number)[]): Promise<[number, number, number]> {
  const tensors = kept.filter((t): t is tf.Scalar => typeof t !== 'number');
  const read = await scalars(tensors);
  tf.dispose(tensors);
  const v = kept.map((t) => (typeof t === 'number' ? t : read.shift()!));
  return [v[0], v[1], v[2]];
}
