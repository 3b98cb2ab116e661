/**
 * ResNet-18 and ResNet-50 (He et al. 2016) as in torchvision (`torchvision/models/resnet.py`,
 * "v1.5": the stride of a bottleneck sits on its 3x3 conv), returning C3 = layer2, C4 = layer3,
 * C5 = layer4. Parameter names are torchvision's state_dict keys under `backbone.`, so ImageNet
 * weights load by name (./pretrained.ts). Convs use PyTorch's symmetric padding (see
 * ConvLayer.pad) so pretrained filters see the pixels they were trained on.
 *
 * Normalisation:
 * - 'frozen-bn' (with ImageNet weights): detectron2's FrozenBatchNorm2d, statistics and affine
 *   fixed. Stages up to `freezeAt` are frozen as in detectron2's RetinaNet (FREEZE_AT = 2).
 * - 'gn' (random init): trainable GroupNorm. A frozen BN with random init is the identity and a
 *   50-layer net without normalisation diverges; GN is how detectors are trained from scratch
 *   (He et al., "Rethinking ImageNet Pre-training", 2019).
 * - 'none': identity (ablations only).
 * The last norm of every residual branch starts at gamma = 0 with GN (Goyal et al. 2017), so each
 * block starts as the identity; pretrained files overwrite gamma anyway.
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore, heStd } from '../params';
import { ConvLayer, NormLayer, conv, createConv, createFrozenBatchNorm, createGroupNorm, maxPoolPadded } from '../layers';
import { Backbone, BackboneFeatures } from './backbone';

export interface ResNetOptions {
  depth: 18 | 50;
  norm: 'frozen-bn' | 'gn' | 'none';
  gnGroups: number;
  /** 0 none, 1 stem, 2 stem + layer1, 3 + layer2, ... (detectron2 FREEZE_AT). */
  freezeAt: number;
  inChannels?: number;
}

interface Block {
  convs: ConvLayer[];
  norms: (NormLayer | undefined)[];
  downsample?: { conv: ConvLayer; norm?: NormLayer };
}

const LAYOUT: Record<18 | 50, { blocks: number[]; bottleneck: boolean }> = {
  18: { blocks: [2, 2, 2, 2], bottleneck: false },
  50: { blocks: [3, 4, 6, 3], bottleneck: true },
};

export function buildResNet(store: ParamStore, prefix: string, o: ResNetOptions): Backbone {
  const { blocks, bottleneck } = LAYOUT[o.depth];
  const expansion = bottleneck ? 4 : 1;
  const makeNorm = (name: string, ch: number, zeroGamma = false): NormLayer | undefined => {
    if (o.norm === 'frozen-bn') return createFrozenBatchNorm(store, name, ch);
    if (o.norm === 'gn')
      return createGroupNorm(store, name.replace(/bn(\d)$/, 'gn$1').replace(/downsample\.1$/, 'downsample.gn'), ch, o.gnGroups, {
        gammaInit: zeroGamma ? 0 : 1,
      });
    return undefined;
  };
  // torchvision: kaiming_normal_(mode='fan_out', nonlinearity='relu'), no conv bias.
  const makeConv = (name: string, inCh: number, outCh: number, k: number, stride: number): ConvLayer =>
    createConv(store, name, {
      inChannels: inCh,
      outChannels: outCh,
      kernelSize: k,
      stride,
      pad: (k - 1) / 2,
      bias: o.norm === 'none',
      kernelInit: { kind: 'normal', std: heStd(k * k * outCh) },
    });

  const stemConv = makeConv(`${prefix}.conv1`, o.inChannels ?? 3, 64, 7, 2);
  const stemNorm = makeNorm(`${prefix}.bn1`, 64);
  const layers: Block[][] = [];
  let inCh = 64;
  for (let li = 0; li < 4; li++) {
    const width = 64 * 2 ** li;
    const outCh = width * expansion;
    const layer: Block[] = [];
    for (let bi = 0; bi < blocks[li]; bi++) {
      const stride = bi === 0 && li > 0 ? 2 : 1;
      const base = `${prefix}.layer${li + 1}.${bi}`;
      const convs: ConvLayer[] = [];
      const norms: (NormLayer | undefined)[] = [];
      if (bottleneck) {
        convs.push(makeConv(`${base}.conv1`, inCh, width, 1, 1));
        norms.push(makeNorm(`${base}.bn1`, width));
        convs.push(makeConv(`${base}.conv2`, width, width, 3, stride));
        norms.push(makeNorm(`${base}.bn2`, width));
        convs.push(makeConv(`${base}.conv3`, width, outCh, 1, 1));
        norms.push(makeNorm(`${base}.bn3`, outCh, true));
      } else {
        convs.push(makeConv(`${base}.conv1`, inCh, width, 3, stride));
        norms.push(makeNorm(`${base}.bn1`, width));
        convs.push(makeConv(`${base}.conv2`, width, outCh, 3, 1));
        norms.push(makeNorm(`${base}.bn2`, outCh, true));
      }
      let downsample: Block['downsample'];
      if (stride !== 1 || inCh !== outCh) {
        downsample = {
          conv: makeConv(`${base}.downsample.0`, inCh, outCh, 1, stride),
          norm: makeNorm(`${base}.downsample.1`, outCh),
        };
      }
      layer.push({ convs, norms, downsample });
      inCh = outCh;
    }
    layers.push(layer);
  }

  const frozenPrefixes: string[] = [];
  if (o.freezeAt >= 1) frozenPrefixes.push(`${prefix}.conv1.`, `${prefix}.bn1.`, `${prefix}.gn1.`);
  for (let li = 1; li < o.freezeAt && li <= 4; li++) frozenPrefixes.push(`${prefix}.layer${li}.`);
  store.setTrainable(frozenPrefixes, false);

  const normed = (x: tf.Tensor4D, norm: NormLayer | undefined): tf.Tensor4D => (norm ? norm.apply(x) : x);
  const runBlock = (x: tf.Tensor4D, b: Block): tf.Tensor4D => {
    let y = x;
    for (let i = 0; i < b.convs.length; i++) {
      y = normed(conv(y, b.convs[i]), b.norms[i]);
      if (i < b.convs.length - 1) y = tf.relu(y);
    }
    const shortcut = b.downsample ? normed(conv(x, b.downsample.conv), b.downsample.norm) : x;
    return tf.relu(tf.add(y, shortcut)) as tf.Tensor4D;
  };

  return {
    kind: o.depth === 18 ? 'resnet18' : 'resnet50',
    outChannels: [128 * expansion, 256 * expansion, 512 * expansion],
    frozenPrefixes,
    forward(x: tf.Tensor4D): BackboneFeatures {
      let y = tf.relu(normed(conv(x, stemConv), stemNorm));
      y = maxPoolPadded(y, 3, 2, 1);
      const outs: tf.Tensor4D[] = [];
      for (const layer of layers) {
        for (const b of layer) y = runBlock(y, b);
        outs.push(y);
      }
      return { c3: outs[1], c4: outs[2], c5: outs[3] };
    },
  };
}
