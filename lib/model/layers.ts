/**
 * The few layer kinds the detector is made of, as plain functions over named parameters in a
 * `ParamStore`. All activations are NHWC. Only ops whose gradients work on every backend we use
 * (cpu, and wasm with the project's kernels) appear here: conv2d (plain or fused with bias/ReLU),
 * pad, maxPool, reshape/concat, means/sums (GroupNorm's gradient is written out) — no resize ops
 * (docs/DESIGN.md section 4: the cpu backend's nearest-neighbour resize gradient is wrong at batch > 1),
 * no comparisons on differentiated tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { Init, ParamStore } from './params';

/**
 * tf.tidy for functions returning plain objects of tensors (tidy walks any object at runtime; its
 * type only admits index-signature containers).
 */
export function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

export interface ConvLayer {
  name: string;
  /** [kh, kw, inChannels, outChannels] (tfjs HWIO layout). */
  kernel: tf.Variable;
  bias?: tf.Variable;
  stride: number;
  /**
   * 'same': TensorFlow padding (for stride 2 and an even input the extra row/column goes at the
   * bottom/right). A number p: symmetric zero padding of p pixels, as PyTorch's Conv2d(padding=p);
   * used by the ResNets so that torchvision ImageNet weights see the pixels they were trained on.
   */
  pad: 'same' | number;
}

export interface ConvOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  pad?: 'same' | number;
  bias?: boolean;
  kernelInit: Init;
  biasInit?: Init;
  trainable?: boolean;
}

/** Registers `<name>.weight` (HWIO) and, if `bias`, `<name>.bias`. */
export function createConv(store: ParamStore, name: string, o: ConvOptions): ConvLayer {
  const trainable = o.trainable ?? true;
  const kernel = store.add(`${name}.weight`, [o.kernelSize, o.kernelSize, o.inChannels, o.outChannels], o.kernelInit, {
    trainable,
  });
  const bias = o.bias ? store.add(`${name}.bias`, [o.outChannels], o.biasInit ?? { kind: 'zeros' }, { trainable }) : undefined;
  return { name, kernel, bias, stride: o.stride ?? 1, pad: o.pad ?? 'same' };
}

/** Convolution with explicit kernel/bias tensors (also used for generated anchor functions). */
export function conv2dWith(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  bias: tf.Tensor1D | undefined,
  stride: number,
  pad: 'same' | number,
  relu = false,
): tf.Tensor4D {
  const k = kernel.shape[0];
  // A number is tfjs' symmetric zero padding: p pixels on every side and floor((n + 2p - k) / s) + 1
  // outputs, exactly PyTorch's Conv2d(padding=p) — no tf.pad copy (XNNPACK pads implicitly and
  // the conv gradients take the same padding). Symmetric padding equal to TF 'same' (stride 1,
  // odd kernel) is passed as 'same', the form every backend handles fastest.
  const padding: 'same' | number = pad === 'same' || (stride === 1 && pad * 2 === k - 1) ? 'same' : pad;
  // The bias copy below is saved by the conv's gradient; the caller's tidy disposes it.
  // wasm's FusedConv2D checks the rank of the bias *buffer*, and a reshape shares the buffer of its
  // input (keeping the old shape there): a generated bias reshaped from [A, K] to [A*K] is
  // rejected as rank 2. One add gives it a buffer of its own (a vector; negligible cost).
  const b = bias && !(bias instanceof tf.Variable) ? tf.add(bias, 0) : bias;
  const y = tf.fused.conv2d({
    x,
    filter: kernel,
    strides: stride,
    pad: padding,
    bias: b,
    activation: relu ? 'relu' : 'linear',
  });
  return y;
}

export function conv(x: tf.Tensor4D, layer: ConvLayer, relu = false): tf.Tensor4D {
  return conv2dWith(x, layer.kernel as tf.Tensor4D, layer.bias as tf.Tensor1D | undefined, layer.stride, layer.pad, relu);
}

export interface NormLayer {
  kind: 'gn' | 'frozen-bn';
  name: string;
  apply(x: tf.Tensor4D): tf.Tensor4D;
}

/**
 * GroupNorm (Wu & He 2018): statistics per image over groups of channels, so it behaves the same
 * at batch 1 and batch 16 — the reason detectors trained from scratch use it (He et al.,
 * "Rethinking ImageNet Pre-training", 2019). Parameters `<name>.weight` (gamma, init 1) and
 * `<name>.bias` (beta, init 0).
 */
export function createGroupNorm(
  store: ParamStore,
  name: string,
  channels: number,
  groups: number,
  opts: { trainable?: boolean; eps?: number; gammaInit?: number } = {},
): NormLayer {
  const g = Math.min(groups, channels);
  if (channels % g !== 0) {
    throw new Error(`GroupNorm "${name}": ${channels} channels are not divisible into ${g} groups`);
  }
  const trainable = opts.trainable ?? true;
  const eps = opts.eps ?? 1e-5;
  const gamma = store.add(`${name}.weight`, [channels], { kind: 'constant', value: opts.gammaInit ?? 1 }, { trainable });
  const beta = store.add(`${name}.bias`, [channels], { kind: 'zeros' }, { trainable });
  return {
    kind: 'gn',
    name,
    apply: (x) => groupNorm(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, g, eps),
  };
}

/**
 * y = (x - mean_g) / sqrt(var_g + eps) * gamma + beta, with mean_g and var_g (biased) over the
 * pixels of one image and the C/G channels of group g — the same function as the textbook
 * `moments(reshape(x, [N, HW, G, C/G]), [1, 3])` form (the tests compare both), computed for wasm:
 *
 * - Every full-size tensor meets only [N, 1, 1, C] broadcasts (innermost axis = channels).
 *   Broadcasting against [N, 1, G, 1] (innermost C/G = 2..8) is slow in wasm's XNNPACK.
 * - Group moments come from per-channel ones by the law of total variance,
 *   var_g = mean_c(var_c) + mean_c(delta_c^2), delta_c = mean_c - mean_g: sums of non-negative
 *   terms, so nothing cancels when |mean| >> std (unlike E[x^2] - E[x]^2), and the output is
 *   d * scale + shift with d = x - mean_c already centred.
 * - The gradient is given in closed form (tf.customGrad), the batch-norm backward of Ioffe &
 *   Szegedy (2015) applied per (image, group):
 *   dx = r (gamma dy - mean_g(gamma dy) - xhat mean_g(gamma dy xhat)), r = 1 / sqrt(var_g + eps),
 *   xhat = r (d + offset), i.e. dx = dy P + d Q + R with per-(image, channel) P, Q, R from two
 *   per-channel sums (of dy and of dy d): a handful of full-size passes where autodiff through
 *   the forward ops runs many more. First derivatives only (nothing here needs second ones).
 * Forward + backward on wasm is ~2-2.5x faster than the moments form (BENCHMARKS.md).
 */
export function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, eps: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const cg = c / groups;
  const perGroup = h * w * cg;
  const channelMap = (t: tf.Tensor) => tf.reshape(t, [n, 1, 1, c]);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, gammaIn, betaIn] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    // Float32 means are rounded: by up to half an ulp of |x|, a visible fraction of the std when
    // |mean| >> std. The small corrections below make the centring exact to float32 precision of
    // the *deviations* (d and the deltas are exact differences of nearby numbers).
    const meanC = tf.mean(xIn, [1, 2], true); // rounded channel means
    const d = tf.sub(xIn, meanC);
    const resid = tf.reshape(tf.mean(d, [1, 2]), [n, groups, cg]); // true channel mean - meanC
    const varC = tf.sub(tf.reshape(tf.mean(tf.square(d), [1, 2]), [n, groups, cg]), tf.square(resid));
    const meanCg = tf.reshape(meanC, [n, groups, cg]);
    const deltaRaw = tf.sub(meanCg, tf.mean(meanCg, 2, true));
    // offset = meanC - (true group mean); delta = true channel mean - true group mean.
    const offset = tf.sub(deltaRaw, tf.mean(tf.add(deltaRaw, resid), 2, true));
    const delta = tf.add(offset, resid);
    const varG = tf.mean(tf.add(varC, tf.square(delta)), 2, true);
    const r = tf.rsqrt(tf.add(varG, eps));
    const scale = tf.mul(tf.reshape(gammaIn, [groups, cg]), r);
    const shift = tf.add(tf.reshape(betaIn, [groups, cg]), tf.mul(offset, scale));
    // x - (group mean) = d + offset.
    const value = tf.add(tf.mul(d, channelMap(scale)), channelMap(shift));
    save([d, offset, r]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [dS, offsetS, rS] = saved;
      const gammaG = tf.reshape(gammaIn, [1, groups, cg]);
      const s1 = tf.reshape(tf.sum(dy, [1, 2]), [n, groups, cg]);
      const sd = tf.reshape(tf.sum(tf.mul(dy, dS), [1, 2]), [n, groups, cg]);
      // t = sum over pixels of dy * xhat, per image and channel.
      const t = tf.mul(rS, tf.add(sd, tf.mul(offsetS, s1)));
      const a = tf.div(tf.sum(tf.mul(gammaG, s1), 2, true), perGroup);
      const b = tf.div(tf.sum(tf.mul(gammaG, t), 2, true), perGroup);
      const p = tf.mul(gammaG, rS);
      const q = tf.neg(tf.mul(tf.square(rS), b));
      const rest = tf.sub(tf.mul(q, offsetS), tf.mul(rS, a));
      const qc = tf.broadcastTo(q, [n, groups, cg]);
      const dx = tf.add(tf.add(tf.mul(dy, channelMap(p)), tf.mul(dS, channelMap(qc))), channelMap(rest));
      return [dx, tf.reshape(tf.sum(t, 0), [c]), tf.reshape(tf.sum(s1, 0), [c])];
    };
    return { value, gradFunc };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}

/**
 * Frozen batch norm (detectron2 `FrozenBatchNorm2d`): the affine map of a pretrained BN with its
 * running statistics, y = (x - mean) / sqrt(var + eps) * gamma + beta, nothing trained. With
 * batches of a few images per step, updating BN statistics would only add noise to the
 * ImageNet ones. Parameters keep torchvision's names (`weight`, `bias`, `running_mean`,
 * `running_var`) so ImageNet files load by name.
 */
export function createFrozenBatchNorm(store: ParamStore, name: string, channels: number, eps = 1e-5): NormLayer {
  const frozen = { trainable: false };
  const gamma = store.add(`${name}.weight`, [channels], { kind: 'constant', value: 1 }, frozen);
  const beta = store.add(`${name}.bias`, [channels], { kind: 'zeros' }, frozen);
  const mean = store.add(`${name}.running_mean`, [channels], { kind: 'zeros' }, frozen);
  const variance = store.add(`${name}.running_var`, [channels], { kind: 'constant', value: 1 }, frozen);
  return {
    kind: 'frozen-bn',
    name,
    apply: (x) =>
      tf.tidy(() => {
        const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)));
        const shift = tf.sub(beta, tf.mul(mean, scale));
        return tf.add(tf.mul(x, scale), shift) as tf.Tensor4D;
      }),
  };
}

/**
 * Nearest-neighbour 2x upsampling built from reshape + concat (each pixel copied to a 2x2 block),
 * then cropped to `(outH, outW)` when the finer map has odd size. No resize op: the cpu backend's
 * ResizeNearestNeighbor gradient is wrong for batch > 1 (docs/DESIGN.md section 4); concat's gradient
 * is a split, which is exact on every backend.
 */
export function upsampleNearest2x(x: tf.Tensor4D, outH?: number, outW?: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const cols = tf.reshape(x, [n * h * w, 1, c]);
    const wide = tf.reshape(tf.concat([cols, cols], 1), [n * h, 1, 2 * w * c]);
    let up = tf.reshape(tf.concat([wide, wide], 1), [n, 2 * h, 2 * w, c]) as tf.Tensor4D;
    const th = outH ?? 2 * h;
    const tw = outW ?? 2 * w;
    if (th > 2 * h || tw > 2 * w) throw new Error(`upsampleNearest2x: cannot crop ${2 * h}x${2 * w} to ${th}x${tw}`);
    if (th !== 2 * h || tw !== 2 * w) up = tf.slice(up, [0, 0, 0, 0], [n, th, tw, c]);
    return up;
  });
}

/** Max pooling with symmetric padding `pad` (PyTorch MaxPool2d(k, stride, pad)), input >= 0 (after ReLU). */
export function maxPoolPadded(x: tf.Tensor4D, k: number, stride: number, pad: number): tf.Tensor4D {
  return tf.tidy(() => {
    // Zero padding equals PyTorch's -inf padding because the input is non-negative (post-ReLU) and
    // every window holds at least one real pixel.
    const padded =
      pad > 0
        ? tf.pad(x, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ])
        : x;
    return tf.maxPool(padded, k, stride, 'valid') as tf.Tensor4D;
  });
}
