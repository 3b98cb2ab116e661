/**
 * RetinaNet's predefined anchor functions: one 3x3 conv with A*K outputs (classification) and
 * one with A*4 outputs (box deltas), shared across levels; each anchor has its own filters. Init
 * normal(0, 0.01); classification bias -log((1 - p) / p), p = 0.01 (Lin et al. 2017, Sec. 4.1).
 * Names: head.clsScore, head.boxDelta (detectron2's cls_score / bbox_pred).
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../util/errors';
import { ParamStore } from '../params';
import { conv, createConv } from '../layers';
import { AnchorFunction, AnchorFunctionOutputs } from './anchor-function';
import { HeadFeatures } from './towers';

export interface PredefinedOptions {
  inChannels: number;
  numAnchors: number;
  numClasses: number;
  initStd: number;
  priorProb: number;
}

export function priorBias(priorProb: number): number {
  return -Math.log((1 - priorProb) / priorProb);
}

export function buildPredefinedAnchorFunction(store: ParamStore, prefix: string, o: PredefinedOptions): AnchorFunction {
  const clsScore = createConv(store, `${prefix}.clsScore`, {
    inChannels: o.inChannels,
    outChannels: o.numAnchors * o.numClasses,
    kernelSize: 3,
    bias: true,
    kernelInit: { kind: 'normal', std: o.initStd },
    biasInit: { kind: 'constant', value: priorBias(o.priorProb) },
  });
  const boxDelta = createConv(store, `${prefix}.boxDelta`, {
    inChannels: o.inChannels,
    outChannels: o.numAnchors * 4,
    kernelSize: 3,
    bias: true,
    kernelInit: { kind: 'normal', std: o.initStd },
  });
  const numAnchors = (anchorB?: tf.Tensor2D): number => {
    if (anchorB && anchorB.shape[0] !== o.numAnchors) {
      throw new UserError(
        `the baseline head was built for ${o.numAnchors} anchors per location, got ${anchorB.shape[0]} anchor boxes`,
        'a predefined head can only run the anchor configuration it was trained with; use method "metaanchor" for other anchors',
      );
    }
    return o.numAnchors;
  };
  return {
    kind: 'baseline',
    numClasses: o.numClasses,
    numAnchors,
    apply(features: HeadFeatures, anchorB?: tf.Tensor2D): AnchorFunctionOutputs {
      numAnchors(anchorB);
      return { cls: features.cls.map((x) => conv(x, clsScore)), box: features.box.map((x) => conv(x, boxDelta)) };
    },
  };
}
