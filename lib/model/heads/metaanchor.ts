/**
 * MetaAnchor's anchor function generators (paper Sec. 3.1-3.2, Fig. 1b).
 *
 * The anchor function of anchor box b is a 3x3 conv F(x; theta_b) with K outputs (classification,
 * "option B": one output per class) or 4 outputs (box regression). Its parameters are generated:
 *
 *   theta_b = theta* + W2 relu(W1 b + c1)                          Eq. 4-5 (data-independent)
 *   theta_b = theta* + W2 relu(W11 b + c1 + W12 r(x))              Eq. 6   (data-dependent)
 *
 * b = (log(ah / AH_l), log(aw / AW_l)) (Eq. 7) is the same vector at every level (the standard
 * box doubles per level), so one generator serves all levels, as RetinaNet shares its head.
 * Two generators: one for the classification function, one for the box function. No batch norm.
 *
 * Choices the paper leaves open, and why:
 * - theta = (conv kernel [3, 3, C, K], conv bias [K]). Both get a generated residual: W2 has
 *   9*C*K + K outputs. The baseline has a separate bias per anchor; generating the bias keeps that
 *   capacity (e.g. a different prior for rare aspect ratios). theta*'s bias starts at the focal-loss
 *   prior -log((1 - 0.01) / 0.01) for classification and 0 for regression, theta*'s kernel at
 *   normal(0, 0.01) — RetinaNet's init of the layer theta replaces.
 * - W2 starts at zero (`w2InitStd` = 0): at step 0 every anchor function equals theta*, i.e. the
 *   detector is a RetinaNet whose anchor functions are shared by all anchors, and the residual
 *   grows from there (the paper motivates the residual form by exactly this "theta* + small
 *   low-rank correction" view). W1 still gets gradients from step 1 on.
 * - W1 has a bias c1 (`hiddenBias`, init 0): without it relu(W1 b) is positively homogeneous in b,
 *   so the standard box b = 0 could never get its own residual. W1 (and W12) use Glorot-uniform
 *   init; with |b| ~ 1 this makes E|h|^2 ~ 1 for m = 128, so a step on W2 moves an anchor's
 *   weights about as much as a step on theta* does (PyTorch's default Linear init would make it
 *   ~20x larger).
 * - r(x) (Eq. 6) = global average pooling of the anchor function's own input, i.e. of the
 *   classification (resp. box) tower output, per image and per FPN level: r has C entries, and
 *   each level's anchor functions adapt to that level's features, as each level's anchor
 *   function only ever sees that level.
 *
 * Two exact evaluations (the conv is linear in theta), and 'auto', which picks per level the one
 * with fewer multiply-adds (`evaluationCost`):
 * - direct: generate the A filter sets and run one conv with A*K outputs — the baseline head's
 *   cost (data-independent: weights generated once per forward, shared by all levels;
 *   data-dependent: per image and level).
 * - basis: run m+1 "basis" convs once (theta* and the m columns of W2, as one conv with (m+1)*K
 *   outputs) and mix them per anchor with [1, h_b]: cost of the convs does not depend on A, and
 *   the basis responses can be cached while anchors change (greedy anchor search, Sec. 4.1.2).
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../util/errors';
import { GeneratedConvMode, GeneratorKind } from '../config';
import { ParamStore, glorotLimit } from '../params';
import { conv2dWith, tidy } from '../layers';
import { AnchorFunction, AnchorFunctionCallOptions, AnchorFunctionOutputs } from './anchor-function';
import { HeadFeatures } from './towers';
import { priorBias } from './predefined';

export interface GeneratorOptions {
  /** C: channels of the anchor function's input feature. */
  inChannels: number;
  /** K (classes) for classification, 4 for box regression. */
  outPerAnchor: number;
  hiddenM: number;
  kind: GeneratorKind;
  hiddenBias: boolean;
  /** std of theta*'s kernel init (RetinaNet: 0.01). */
  thetaStarStd: number;
  /** Initial value of theta*'s bias. */
  thetaStarBias: number;
  /** std of W2's normal init; 0 = zeros. */
  w2InitStd: number;
  kernelSize?: number;
}

/** Basis responses of one level, reusable for any set of anchors. */
export interface BasisCache {
  /** [N, H, W, K*(m+1)], channel = k*(m+1) + j; j = 0 is theta*, j >= 1 the columns of W2. */
  responses: tf.Tensor4D;
  /** Data-dependent only: r(x) [N, C]. */
  r?: tf.Tensor2D;
}

/** Parameters: `<prefix>.thetaStarKernel`, `.thetaStarBias`, `.w1`, `.b1`, `.w12`, `.w2Kernel`, `.w2Bias`. */
export class AnchorFunctionGenerator {
  readonly kind: GeneratorKind;
  readonly inChannels: number;
  readonly outPerAnchor: number;
  readonly hiddenM: number;
  readonly kernelSize: number;
  /** theta* kernel [k, k, C, K]. */
  readonly thetaStarKernel: tf.Variable;
  /** theta* bias [K]. */
  readonly thetaStarBias: tf.Variable;
  /** W1 (W11 in Eq. 6) [2, m], applied as b W1. */
  readonly w1: tf.Variable;
  /** c1 [m] or undefined. */
  readonly b1?: tf.Variable;
  /** W12 [C, m] (data-dependent only). */
  readonly w12?: tf.Variable;
  /** W2, kernel part [m, k*k*C*K]; row j reshaped to [k, k, C, K] is the j-th basis filter. */
  readonly w2Kernel: tf.Variable;
  /** W2, bias part [m, K]. */
  readonly w2Bias: tf.Variable;

  constructor(store: ParamStore, prefix: string, o: GeneratorOptions) {
    this.kind = o.kind;
    this.inChannels = o.inChannels;
    this.outPerAnchor = o.outPerAnchor;
    this.hiddenM = o.hiddenM;
    this.kernelSize = o.kernelSize ?? 3;
    const k = this.kernelSize;
    const C = o.inChannels;
    const K = o.outPerAnchor;
    const m = o.hiddenM;
    this.thetaStarKernel = store.add(`${prefix}.thetaStarKernel`, [k, k, C, K], { kind: 'normal', std: o.thetaStarStd });
    this.thetaStarBias = store.add(`${prefix}.thetaStarBias`, [K], { kind: 'constant', value: o.thetaStarBias });
    this.w1 = store.add(`${prefix}.w1`, [2, m], { kind: 'uniform', limit: glorotLimit(2, m) });
    if (o.hiddenBias) this.b1 = store.add(`${prefix}.b1`, [m], { kind: 'zeros' });
    if (o.kind === 'dependent') this.w12 = store.add(`${prefix}.w12`, [C, m], { kind: 'uniform', limit: glorotLimit(C, m) });
    const w2Init = o.w2InitStd > 0 ? ({ kind: 'normal', std: o.w2InitStd } as const) : ({ kind: 'zeros' } as const);
    this.w2Kernel = store.add(`${prefix}.w2Kernel`, [m, k * k * C * K], w2Init);
    this.w2Bias = store.add(`${prefix}.w2Bias`, [m, K], w2Init);
  }

  /** r(x): global average pooling [N, H, W, C] -> [N, C]. */
  summarize(x: tf.Tensor4D): tf.Tensor2D {
    return tf.mean(x, [1, 2]) as tf.Tensor2D;
  }

  /** Hidden units: [A, m] (data-independent), or [N, A, m] given r [N, C] (data-dependent). */
  hidden(b: tf.Tensor2D, r?: tf.Tensor2D): tf.Tensor {
    this.checkB(b);
    return tf.tidy(() => {
      let pre: tf.Tensor = tf.matMul(b, this.w1);
      if (this.b1) pre = tf.add(pre, this.b1);
      if (this.kind === 'independent') return tf.relu(pre);
      if (!r) throw new Error('data-dependent generator: r(x) is required');
      const rr = tf.matMul(r, this.w12 as tf.Variable); // [N, m]
      return tf.relu(tf.add(tf.expandDims(pre, 0), tf.expandDims(rr, 1))); // [N, A, m]
    });
  }

  /**
   * The generated anchor functions for hidden units h [A, m]: one conv with A*K outputs,
   * kernel [k, k, C, A*K] and bias [A*K], output channel a*K + k.
   */
  weightsFromHidden(h: tf.Tensor2D): { kernel: tf.Tensor4D; bias: tf.Tensor1D } {
    return tidy(() => {
      const k = this.kernelSize;
      const C = this.inChannels;
      const K = this.outPerAnchor;
      const A = h.shape[0];
      const residual = tf.reshape(tf.matMul(h, this.w2Kernel), [A, k * k * C, K]);
      const perTap = tf.add(tf.transpose(residual, [1, 0, 2]), tf.reshape(this.thetaStarKernel, [k * k * C, 1, K]));
      const kernel = tf.reshape(perTap, [k, k, C, A * K]) as tf.Tensor4D;
      const bias = tf.reshape(tf.add(tf.matMul(h, this.w2Bias), this.thetaStarBias), [A * K]) as tf.Tensor1D;
      return { kernel, bias };
    });
  }

  /** Data-independent: the generated conv for anchors b [A, 2] (Eq. 4). */
  generate(b: tf.Tensor2D): { kernel: tf.Tensor4D; bias: tf.Tensor1D } {
    if (this.kind !== 'independent') throw new Error('generate(b) is for the data-independent generator; use applyDirect');
    return tidy(() => this.weightsFromHidden(this.hidden(b) as tf.Tensor2D));
  }

  /** Direct evaluation on one level: [N, H, W, C] -> [N, H, W, A*K]. */
  applyDirect(x: tf.Tensor4D, b: tf.Tensor2D): tf.Tensor4D {
    return this.applyDirectLevels([x], b)[0];
  }

  /** Direct evaluation on several levels; data-independent weights are generated once. */
  applyDirectLevels(xs: tf.Tensor4D[], b: tf.Tensor2D): tf.Tensor4D[] {
    return tf.tidy(() => {
      if (this.kind === 'independent') {
        const { kernel, bias } = this.generate(b);
        return xs.map((x) => conv2dWith(x, kernel, bias, 1, 'same'));
      }
      return xs.map((x) => {
        // Eq. 6: weights depend on the image, so each image gets its own generated conv.
        const h = this.hidden(b, this.summarize(x)) as tf.Tensor3D; // [N, A, m]
        const n = x.shape[0];
        const images = n === 1 ? [x] : tf.split(x, n, 0);
        const hs = tf.unstack(h, 0) as tf.Tensor2D[];
        const outs = images.map((xi, i) => {
          const { kernel, bias } = this.weightsFromHidden(hs[i]);
          return conv2dWith(xi as tf.Tensor4D, kernel, bias, 1, 'same');
        });
        return n === 1 ? outs[0] : (tf.concat(outs, 0) as tf.Tensor4D);
      });
    });
  }

  /** The m+1 basis filters as one conv: kernel [k, k, C, K*(m+1)], bias [K*(m+1)], channel k*(m+1) + j. */
  basisWeights(): { kernel: tf.Tensor4D; bias: tf.Tensor1D } {
    return tidy(() => {
      const k = this.kernelSize;
      const C = this.inChannels;
      const K = this.outPerAnchor;
      const m = this.hiddenM;
      const w2 = tf.reshape(tf.transpose(this.w2Kernel), [k * k * C, K, m]);
      const star = tf.reshape(this.thetaStarKernel, [k * k * C, K, 1]);
      const kernel = tf.reshape(tf.concat([star, w2], 2), [k, k, C, K * (m + 1)]) as tf.Tensor4D;
      const bias = tf.reshape(tf.concat([tf.reshape(this.thetaStarBias, [K, 1]), tf.transpose(this.w2Bias)], 1), [K * (m + 1)]) as tf.Tensor1D;
      return { kernel, bias };
    });
  }

  /** Basis responses of each level (anchor-independent). */
  basis(xs: tf.Tensor4D[]): BasisCache[] {
    return tidy(() => {
      const { kernel, bias } = this.basisWeights();
      return xs.map((x) => {
        const responses = conv2dWith(x, kernel, bias, 1, 'same');
        return this.kind === 'dependent' ? { responses, r: this.summarize(x) } : { responses };
      });
    });
  }

  /** Mix cached basis responses for anchors b [A, 2]: [N, H, W, A*K], equal to applyDirect. */
  mix(cache: BasisCache, b: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      const [n, hgt, wid, ch] = cache.responses.shape;
      const K = this.outPerAnchor;
      const m1 = this.hiddenM + 1;
      if (ch !== K * m1) throw new Error(`basis responses have ${ch} channels, expected ${K * m1}`);
      const A = b.shape[0];
      let mixed: tf.Tensor;
      if (this.kind === 'independent') {
        const h = this.hidden(b) as tf.Tensor2D;
        const hAug = tf.concat([tf.ones([A, 1]), h], 1); // [A, m+1]
        mixed = tf.matMul(tf.reshape(cache.responses, [n * hgt * wid * K, m1]), hAug, false, true); // [NHWK, A]
      } else {
        if (!cache.r) throw new Error('data-dependent basis cache lacks r(x)');
        const h = this.hidden(b, cache.r) as tf.Tensor3D; // [N, A, m]
        const hAug = tf.concat([tf.ones([n, A, 1]), h], 2); // [N, A, m+1]
        mixed = tf.matMul(tf.reshape(cache.responses, [n, hgt * wid * K, m1]), hAug, false, true); // [N, HWK, A]
      }
      const perAnchor = tf.transpose(tf.reshape(mixed, [n * hgt * wid, K, A]), [0, 2, 1]);
      return tf.reshape(perAnchor, [n, hgt, wid, A * K]) as tf.Tensor4D;
    });
  }

  /**
   * Multiply-adds of evaluating A anchors on a level of `cells` positions (H*W) for `images`
   * images, each way. direct: the generated conv (A*K outputs) plus weight generation (A*m rows
   * of W2, once per forward for the data-independent generator — pass `sharedWeights` to count it
   * — and per image for the data-dependent one); basis: the conv with (m+1)*K outputs plus the
   * per-anchor mixing.
   */
  evaluationCost(images: number, cells: number, A: number, sharedWeights = true): { direct: number; basis: number } {
    const k2C = this.kernelSize * this.kernelSize * this.inChannels;
    const K = this.outPerAnchor;
    const m1 = this.hiddenM + 1;
    const generation = A * this.hiddenM * (k2C * K + K);
    const direct = images * cells * k2C * A * K + (this.kind === 'dependent' ? images * generation : sharedWeights ? generation : 0);
    const basis = images * cells * (k2C * K * m1 + K * m1 * A);
    return { direct, basis };
  }

  /** 'auto': per level, true where the basis evaluation needs fewer multiply-adds. */
  basisLevels(xs: tf.Tensor4D[], A: number): boolean[] {
    if (this.kind === 'independent') {
      // Weights are generated once for all levels: compare the totals.
      let direct = 0;
      let basis = 0;
      xs.forEach((x, i) => {
        const c = this.evaluationCost(x.shape[0], x.shape[1] * x.shape[2], A, i === 0);
        direct += c.direct;
        basis += c.basis;
      });
      return xs.map(() => basis < direct);
    }
    return xs.map((x) => {
      const c = this.evaluationCost(x.shape[0], x.shape[1] * x.shape[2], A);
      return c.basis < c.direct;
    });
  }

  applyLevels(xs: tf.Tensor4D[], b: tf.Tensor2D, mode: GeneratedConvMode): tf.Tensor4D[] {
    if (mode === 'direct') return this.applyDirectLevels(xs, b);
    if (mode === 'basis') return tf.tidy(() => this.basis(xs).map((c) => this.mix(c, b)));
    this.checkB(b);
    const useBasis = this.basisLevels(xs, b.shape[0]);
    return tf.tidy(() => {
      const directIdx = xs.map((_, i) => i).filter((i) => !useBasis[i]);
      const basisIdx = xs.map((_, i) => i).filter((i) => useBasis[i]);
      const out = new Array<tf.Tensor4D>(xs.length);
      if (directIdx.length)
        this.applyDirectLevels(
          directIdx.map((i) => xs[i]),
          b,
        ).forEach((t, j) => (out[directIdx[j]] = t));
      if (basisIdx.length) this.basis(basisIdx.map((i) => xs[i])).forEach((c, j) => (out[basisIdx[j]] = this.mix(c, b)));
      return out;
    });
  }

  private checkB(b: tf.Tensor2D): void {
    if (b.rank !== 2 || b.shape[1] !== 2) {
      throw new UserError(`anchor boxes b must have shape [A, 2] (Eq. 7 encodings), got [${b.shape}]`, 'build them with lib/anchors/metaanchor.ts');
    }
  }
}

export interface MetaAnchorOptions {
  inChannels: number;
  numClasses: number;
  hiddenM: number;
  kind: GeneratorKind;
  hiddenBias: boolean;
  initStd: number;
  priorProb: number;
  w2InitStd: number;
  convMode: GeneratedConvMode;
}

/**
 * The anchor count A of the anchor boxes b [A, 2] a MetaAnchor function generates its `what` for
 * (RetinaNet's anchor functions, YOLOv2's region conv); a UserError when b is missing or malformed.
 */
export function generatedAnchorCount(anchorB: tf.Tensor2D | undefined, what: string): number {
  if (!anchorB) {
    throw new UserError(
      `MetaAnchor needs the anchor boxes b [A, 2] to generate its ${what}`,
      'pass anchorB (Eq. 7 encodings from lib/anchors/metaanchor.ts) to forward',
    );
  }
  if (anchorB.rank !== 2 || anchorB.shape[1] !== 2 || anchorB.shape[0] < 1) {
    throw new UserError(`anchor boxes b must have shape [A, 2] with A >= 1, got [${anchorB.shape}]`, 'build them with lib/anchors/metaanchor.ts');
  }
  return anchorB.shape[0];
}

export interface MetaAnchorFunction extends AnchorFunction {
  readonly clsGenerator: AnchorFunctionGenerator;
  readonly boxGenerator: AnchorFunctionGenerator;
}

/** G(.; w_cls) and G(.; w_reg) of Fig. 1b. Names: head.clsGenerator.*, head.boxGenerator.*. */
export function buildMetaAnchorFunction(store: ParamStore, prefix: string, o: MetaAnchorOptions): MetaAnchorFunction {
  const common = { inChannels: o.inChannels, hiddenM: o.hiddenM, kind: o.kind, hiddenBias: o.hiddenBias, thetaStarStd: o.initStd, w2InitStd: o.w2InitStd };
  const clsGenerator = new AnchorFunctionGenerator(store, `${prefix}.clsGenerator`, {
    ...common,
    outPerAnchor: o.numClasses,
    thetaStarBias: priorBias(o.priorProb),
  });
  const boxGenerator = new AnchorFunctionGenerator(store, `${prefix}.boxGenerator`, { ...common, outPerAnchor: 4, thetaStarBias: 0 });
  const numAnchors = (anchorB?: tf.Tensor2D): number => generatedAnchorCount(anchorB, 'anchor functions');
  return {
    kind: 'metaanchor',
    numClasses: o.numClasses,
    clsGenerator,
    boxGenerator,
    numAnchors,
    apply(features: HeadFeatures, anchorB?: tf.Tensor2D, opts: AnchorFunctionCallOptions = {}): AnchorFunctionOutputs {
      numAnchors(anchorB);
      const b = anchorB as tf.Tensor2D;
      const mode = opts.convMode ?? o.convMode;
      return { cls: clsGenerator.applyLevels(features.cls, b, mode), box: boxGenerator.applyLevels(features.box, b, mode) };
    },
  };
}
