/**
 * Feature Pyramid Network (Lin et al. 2017) as RetinaNet uses it: P3..P5 from C3..C5 by 1x1
 * lateral convs, a top-down path of 2x nearest upsampling + sum, and a 3x3 output conv per level;
 * P6 = 3x3/2 conv on C5 (RetinaNet paper, detectron2 `LastLevelP6P7`; `p6From: 'p5'` takes P5 as
 * torchvision's v2 model does), P7 = 3x3/2 conv on ReLU(P6). Convs have biases and detectron2's
 * `c2_xavier_fill` init. Names: fpn.lateral{3,4,5}, fpn.output{3,4,5}, fpn.p6, fpn.p7.
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore, caffe2XavierLimit } from './params';
import { ConvLayer, conv, createConv, upsampleNearest2x } from './layers';
import { BackboneFeatures } from './backbones/backbone';

export interface Fpn {
  readonly channels: number;
  /** [P3, P4, P5, P6, P7], strides 8..128. */
  forward(c: BackboneFeatures): tf.Tensor4D[];
}

export interface FpnOptions {
  inChannels: [number, number, number];
  channels: number;
  p6From: 'c5' | 'p5';
}

export function buildFpn(store: ParamStore, prefix: string, o: FpnOptions): Fpn {
  const mk = (name: string, inCh: number, k: number, stride: number): ConvLayer =>
    createConv(store, `${prefix}.${name}`, {
      inChannels: inCh,
      outChannels: o.channels,
      kernelSize: k,
      stride,
      pad: 'same',
      bias: true,
      kernelInit: { kind: 'uniform', limit: caffe2XavierLimit(k * k * inCh) },
    });
  const lateral = [3, 4, 5].map((l, i) => mk(`lateral${l}`, o.inChannels[i], 1, 1));
  const output = [3, 4, 5].map((l) => mk(`output${l}`, o.channels, 3, 1));
  const p6 = mk('p6', o.p6From === 'c5' ? o.inChannels[2] : o.channels, 3, 2);
  const p7 = mk('p7', o.channels, 3, 2);
  return {
    channels: o.channels,
    forward(c: BackboneFeatures): tf.Tensor4D[] {
      const cs = [c.c3, c.c4, c.c5];
      const inner: tf.Tensor4D[] = new Array(3);
      inner[2] = conv(cs[2], lateral[2]);
      for (let i = 1; i >= 0; i--) {
        const lat = conv(cs[i], lateral[i]);
        const [, h, w] = lat.shape;
        inner[i] = tf.add(lat, upsampleNearest2x(inner[i + 1], h, w));
      }
      const outs = inner.map((t, i) => conv(t, output[i]));
      const p6Out = conv(o.p6From === 'c5' ? c.c5 : outs[2], p6);
      const p7Out = conv(tf.relu(p6Out), p7);
      return [...outs, p6Out, p7Out];
    },
  };
}
