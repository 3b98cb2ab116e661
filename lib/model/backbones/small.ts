/**
 * A small plain-conv backbone for CPU presets, trained from scratch: five stride-2 stages
 * (3x3 conv + norm + ReLU, stages 3-5 followed by a second 3x3 conv), giving C3, C4, C5 at strides
 * 8, 16, 32. Eight convs; with widths [16, 32, 64, 96, 128] it has ~0.45 M parameters.
 *
 * Normalisation: GroupNorm by default. There is no ImageNet initialisation to inherit BN
 * statistics from, batches are small (2-8 images on a CPU), and batch statistics at that size
 * are noisy and differ between training and inference; GroupNorm's per-image statistics do not
 * (Wu & He 2018; He et al. 2019 train detectors from scratch with GN). 'none' (conv + bias, He
 * init) is kept for ablations: it is a little faster per step, but with 8 plain layers and no
 * normalisation the usable learning rate is lower.
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore, heStd } from '../params';
import { ConvLayer, NormLayer, conv, createConv, createGroupNorm } from '../layers';
import { Backbone, BackboneFeatures } from './backbone';

export interface SmallBackboneOptions {
  /** Channels at strides 2, 4, 8 (C3), 16 (C4), 32 (C5). */
  widths: number[];
  norm: 'gn' | 'none';
  gnGroups: number;
  inChannels?: number;
}

interface Unit {
  conv: ConvLayer;
  norm?: NormLayer;
}

export function buildSmallBackbone(store: ParamStore, prefix: string, o: SmallBackboneOptions): Backbone {
  if (o.widths.length !== 5) throw new Error('small backbone: widths must list 5 stages');
  const stages: Unit[][] = [];
  let inCh = o.inChannels ?? 3;
  for (let s = 0; s < 5; s++) {
    const outCh = o.widths[s];
    const units: Unit[] = [];
    // Stages at strides 2 and 4 have one conv; C3..C5 add a stride-1 conv for more depth where
    // the detector reads features.
    const nConvs = s < 2 ? 1 : 2;
    for (let j = 0; j < nConvs; j++) {
      const name = `${prefix}.stage${s + 1}.conv${j + 1}`;
      const c = createConv(store, name, {
        inChannels: inCh,
        outChannels: outCh,
        kernelSize: 3,
        stride: j === 0 ? 2 : 1,
        pad: 'same',
        bias: o.norm === 'none',
        // He init by fan-in keeps the forward activation scale through the plain stack.
        kernelInit: { kind: 'normal', std: heStd(9 * inCh) },
      });
      const norm = o.norm === 'gn' ? createGroupNorm(store, `${prefix}.stage${s + 1}.norm${j + 1}`, outCh, o.gnGroups) : undefined;
      units.push({ conv: c, norm });
      inCh = outCh;
    }
    stages.push(units);
  }
  const runStage = (x: tf.Tensor4D, units: Unit[]): tf.Tensor4D => {
    let y = x;
    for (const u of units) {
      if (u.norm) {
        const z = conv(y, u.conv);
        y = tf.relu(u.norm.apply(z));
      } else {
        y = conv(y, u.conv, true);
      }
    }
    return y;
  };
  return {
    kind: 'small',
    outChannels: [o.widths[2], o.widths[3], o.widths[4]],
    frozenPrefixes: [],
    forward(x: tf.Tensor4D): BackboneFeatures {
      let y = runStage(x, stages[0]);
      y = runStage(y, stages[1]);
      const c3 = runStage(y, stages[2]);
      const c4 = runStage(c3, stages[3]);
      const c5 = runStage(c4, stages[4]);
      return { c3, c4, c5 };
    },
  };
}
