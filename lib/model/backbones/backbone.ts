/**
 * What the FPN needs from a backbone: C3, C4, C5 (strides 8, 16, 32) and their channel counts.
 * Every stride-2 step maps a side of n pixels to ceil(n / 2), so C_l has ceil(H / 2^l) rows for
 * any input size (see `levelShapes` in ../detector.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { BackboneKind } from '../config';

export interface BackboneFeatures {
  c3: tf.Tensor4D;
  c4: tf.Tensor4D;
  c5: tf.Tensor4D;
}

export interface Backbone {
  readonly kind: BackboneKind;
  /** Channels of C3, C4, C5. */
  readonly outChannels: [number, number, number];
  /** Parameter-name prefixes of the frozen stages (detectron2 FREEZE_AT), for information. */
  readonly frozenPrefixes: string[];
  /** x: normalised images [N, H, W, 3]. */
  forward(x: tf.Tensor4D): BackboneFeatures;
}
