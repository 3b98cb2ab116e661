/**
 * The "anchor function" part of the head (paper Eq. 1, Fig. 1b): the last layer that turns the
 * tower features of each FPN level into, per location and anchor, K class logits and 4 box deltas.
 * Two implementations sit behind this interface, and the detector does not know which it holds:
 * - predefined (./predefined.ts): RetinaNet's last convs with A*K and A*4 outputs, one learned
 *   filter set per enumerated anchor;
 * - MetaAnchor (./metaanchor.ts): the same convs, their weights generated from the anchor boxes
 *   b_i (Eq. 4 / Eq. 6).
 * The YOLOv2 port's region conv is an anchor function of the same kind with other inputs and
 * outputs (one feature map in, one A * (5 + K) map out; lib/model/yolo/detector.ts RegionFunction).
 */
import * as tf from '@tensorflow/tfjs';
import { AnchorMethod, GeneratedConvMode } from '../config';
import { HeadFeatures } from './towers';

/** Per level: cls [N, H, W, A*K] with channel = a*K + k, box [N, H, W, A*4] with channel = a*4 + j. */
export interface AnchorFunctionOutputs {
  cls: tf.Tensor4D[];
  box: tf.Tensor4D[];
}

export interface AnchorFunctionCallOptions {
  /** MetaAnchor only: override the configured evaluation mode. */
  convMode?: GeneratedConvMode;
}

/** `In`: the features it reads (RetinaNet: the towers' levels); `Out`: its raw predictions. */
export interface AnchorFunction<In = HeadFeatures, Out = AnchorFunctionOutputs> {
  readonly kind: AnchorMethod;
  readonly numClasses: number;
  /**
   * Anchors per location for this anchor input. `anchorB` [A, 2] holds the Eq. 7 encodings
   * (log(ah / AH_l), log(aw / AW_l)), the same for every level; MetaAnchor requires it, the
   * predefined function accepts it only when A equals its fixed anchor count (and ignores it).
   */
  numAnchors(anchorB?: tf.Tensor2D): number;
  apply(features: In, anchorB?: tf.Tensor2D, opts?: AnchorFunctionCallOptions): Out;
}
