/**
 * The input normalisation both detector families apply, (RGB - mean) / std per channel, and the
 * two tensors it keeps until the detector is disposed.
 */
import * as tf from '@tensorflow/tfjs';

export class PixelNormalizer {
  private readonly mean: tf.Tensor1D;
  private readonly invStd: tf.Tensor1D;

  constructor(meanRGB: number[], stdRGB: number[]) {
    this.mean = tf.keep(tf.tensor1d(meanRGB));
    this.invStd = tf.keep(tf.tensor1d(stdRGB.map((s) => 1 / s)));
  }

  /** images [N, H, W, 3] RGB 0..255 -> normalised images. */
  apply(images: tf.Tensor4D): tf.Tensor4D {
    return tf.mul(tf.sub(images, this.mean), this.invStd) as tf.Tensor4D;
  }

  /** True once disposed. */
  get isDisposed(): boolean {
    return this.mean.isDisposed;
  }

  dispose(): void {
    this.mean.dispose();
    this.invStd.dispose();
  }
}
