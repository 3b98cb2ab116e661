/**
 * The RetinaNet detector assembled from injected parts (detectron2 `meta_arch/retinanet.py`
 * style): backbone -> FPN P3..P7 -> towers shared across levels -> anchor function (predefined or
 * MetaAnchor). `Detector` takes the parts; `buildDetector(config)` maps a ModelConfig onto them.
 * Swapping the anchor function does not touch anything else.
 *
 * Output order (docs/CONTRACT.md): anchors are level-major, then y, then x, then anchor index a, i.e.
 * the head's [N, H, W, A*K] maps reshaped to [N, H*W*A, K] and concatenated over levels — the
 * order of lib/anchors/grid.ts `anchorGrid`.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors';
import { GeneratedConvMode, ModelConfig, modelConfig, resolvedBackboneNorm, resolvedFreezeAt, validateModelConfig } from './config';
import { ParamStore } from './params';
import { PixelNormalizer } from './pixels';
import { Backbone } from './backbones/backbone';
import { buildSmallBackbone } from './backbones/small';
import { buildResNet } from './backbones/resnet';
import { loadPretrainedBackbone } from './backbones/pretrained';
import { Fpn, buildFpn } from './fpn';
import { tidy } from './layers';
import { HeadFeatures, Towers, buildTowers } from './heads/towers';
import { AnchorFunction, AnchorFunctionOutputs } from './heads/anchor-function';
import { buildPredefinedAnchorFunction } from './heads/predefined';
import { buildMetaAnchorFunction } from './heads/metaanchor';
import { FPN_LEVELS, strideOfLevel } from '../anchors/grid';
import { logStatus } from '../util/log';

/** FPN levels and strides of RetinaNet. */

/** One FPN level's grid, the input lib/anchors/grid.ts `anchorGrid` expects. */
export interface LevelShape {
  level: number;
  stride: number;
  heightCells: number;
  widthCells: number;
}

export interface DetectorOutput {
  /** [N, totalAnchors, K] logits, anchor order as in the file comment. */
  clsLogits: tf.Tensor3D;
  /** [N, totalAnchors, 4] box deltas (dx, dy, log dw, log dh) w.r.t. each anchor. */
  boxDeltas: tf.Tensor3D;
  levels: LevelShape[];
  /** Anchors per location A. totalAnchors = A * sum over levels of heightCells * widthCells. */
  anchorsPerCell: number;
}

export interface ForwardOptions {
  /** MetaAnchor only: 'auto', 'direct' or 'basis' (default: the config's convMode). */
  convMode?: GeneratedConvMode;
}

/**
 * Level grids for an input of heightPx x widthPx: every stride-2 conv maps n to ceil(n / 2), so
 * level l has ceil(H / 2^l) x ceil(W / 2^l) cells. Same for every backbone here.
 */
export function levelShapes(heightPx: number, widthPx: number): LevelShape[] {
  return FPN_LEVELS.map((level) => {
    let h = heightPx;
    let w = widthPx;
    for (let s = 0; s < level; s++) {
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
    }
    return { level, stride: strideOfLevel(level), heightCells: h, widthCells: w };
  });
}

export interface DetectorParts {
  config: ModelConfig;
  store: ParamStore;
  backbone: Backbone;
  fpn: Fpn;
  towers: Towers;
  anchorFunction: AnchorFunction;
}

export class Detector {
  readonly config: ModelConfig;
  readonly store: ParamStore;
  readonly backbone: Backbone;
  readonly fpn: Fpn;
  readonly towers: Towers;
  readonly anchorFunction: AnchorFunction;
  private readonly pixels: PixelNormalizer;

  constructor(parts: DetectorParts) {
    this.config = parts.config;
    this.store = parts.store;
    this.backbone = parts.backbone;
    this.fpn = parts.fpn;
    this.towers = parts.towers;
    this.anchorFunction = parts.anchorFunction;
    this.pixels = new PixelNormalizer(this.config.pixelMeanRGB, this.config.pixelStdRGB);
  }

  get numClasses(): number {
    return this.config.numClasses;
  }

  /** Anchors per location for `anchorB` (MetaAnchor) or the fixed count (baseline). */
  anchorsPerCell(anchorB?: tf.Tensor2D): number {
    return this.anchorFunction.numAnchors(anchorB);
  }

  levelShapes(heightPx: number, widthPx: number): LevelShape[] {
    return levelShapes(heightPx, widthPx);
  }

  /** Tower outputs per level (x_cls, x_reg of Fig. 1b) for images [N, H, W, 3] RGB in 0..255. */
  headFeatures(images: tf.Tensor4D): { features: HeadFeatures; levels: LevelShape[] } {
    this.checkImages(images);
    return tidy(() => {
      const x = this.pixels.apply(images);
      const c = this.backbone.forward(x);
      const p = this.fpn.forward(c);
      const features = this.towers.forward(p);
      const levels = p.map((t, i) => ({ level: FPN_LEVELS[i], stride: strideOfLevel(FPN_LEVELS[i]), heightCells: t.shape[1], widthCells: t.shape[2] }));
      return { features, levels };
    });
  }

  /** The anchor functions on precomputed head features, flattened to the contract's order. */
  predict(features: HeadFeatures, levels: LevelShape[], anchorB?: tf.Tensor2D, opts: ForwardOptions = {}): DetectorOutput {
    const A = this.anchorFunction.numAnchors(anchorB);
    return tidy(() => this.flatten(this.anchorFunction.apply(features, anchorB, opts), levels, A));
  }

  private flatten(out: AnchorFunctionOutputs, levels: LevelShape[], A: number): DetectorOutput {
    const n = out.cls[0].shape[0];
    const flat = (maps: tf.Tensor4D[], width: number): tf.Tensor3D =>
      tf.concat(
        maps.map((t) => tf.reshape(t, [n, t.shape[1] * t.shape[2] * A, width])),
        1,
      ) as tf.Tensor3D;
    return { clsLogits: flat(out.cls, this.config.numClasses), boxDeltas: flat(out.box, 4), levels, anchorsPerCell: A };
  }

  /**
   * images: [N, H, W, 3] float32 RGB in 0..255 (any H, W >= 1; odd sizes are fine).
   * anchorB: [A, 2] Eq. 7 encodings (MetaAnchor; required), or omitted (baseline).
   */
  forward(images: tf.Tensor4D, anchorB?: tf.Tensor2D, opts: ForwardOptions = {}): DetectorOutput {
    this.anchorFunction.numAnchors(anchorB); // fail before the backbone runs
    return tidy(() => {
      const { features, levels } = this.headFeatures(images);
      return this.predict(features, levels, anchorB, opts);
    });
  }

  trainableVariables(): tf.Variable[] {
    return this.store.trainableVariables();
  }

  /** Parameter counts: total, trainable, and per part (backbone, fpn, head). */
  parameterCounts(): { total: number; trainable: number; backbone: number; fpn: number; head: number } {
    return {
      total: this.store.count(),
      trainable: this.store.count({ trainableOnly: true }),
      backbone: this.store.count({ prefix: 'backbone.' }),
      fpn: this.store.count({ prefix: 'fpn.' }),
      head: this.store.count({ prefix: 'head.' }),
    };
  }

  /** True once `dispose()` was called: the weights are gone and the detector cannot run. */
  get isDisposed(): boolean {
    return this.pixels.isDisposed;
  }

  dispose(): void {
    this.store.dispose();
    this.pixels.dispose();
  }

  private checkImages(images: tf.Tensor4D): void {
    if (images.rank !== 4 || images.shape[3] !== 3) {
      throw new UserError(`images must be [N, H, W, 3] (NHWC, RGB), got [${images.shape}]`, 'decode images to 3-channel RGB, batch them on axis 0');
    }
    if (images.dtype !== 'float32') {
      throw new UserError(`images must be float32 in 0..255, got ${images.dtype}`, 'cast with tf.cast(images, "float32")');
    }
  }
}

export interface BuildOptions {
  /** Seed of every initial value (with the parameter's name). Default 0. */
  seed?: number;
  /** Where notes go (random-init backbone, pretrained weights loaded); default stderr unless METAANCHOR_QUIET=1. */
  log?: (line: string) => void;
}

function defaultLog(line: string): void {
  logStatus(line);
}

/** Build a detector from a config (validated here), loading ImageNet backbone weights if configured. */
export function buildDetector(config: ModelConfig = modelConfig('paper'), opts: BuildOptions = {}): Detector {
  validateModelConfig(config);
  const log = opts.log ?? defaultLog;
  const store = new ParamStore(opts.seed ?? 0);
  try {
    const norm = resolvedBackboneNorm(config);
    let backbone: Backbone;
    if (config.backbone === 'small') {
      backbone = buildSmallBackbone(store, 'backbone', { widths: config.smallWidths, norm: norm === 'none' ? 'none' : 'gn', gnGroups: config.gnGroups });
    } else {
      backbone = buildResNet(store, 'backbone', {
        depth: config.backbone === 'resnet18' ? 18 : 50,
        norm,
        gnGroups: config.gnGroups,
        freezeAt: resolvedFreezeAt(config),
      });
      if (config.backboneWeights) {
        const r = loadPretrainedBackbone(store, 'backbone', config.backboneWeights);
        log(`${config.backbone}: loaded ${r.loaded} ImageNet tensors from ${r.source} (frozen BN, stages frozen up to ${resolvedFreezeAt(config)})`);
      } else {
        log(
          `${config.backbone}: no ImageNet weights given (backboneWeights), random init with ${norm === 'gn' ? 'GroupNorm' : norm}; training from scratch needs a much longer schedule`,
        );
      }
    }
    const fpn = buildFpn(store, 'fpn', { inChannels: backbone.outChannels, channels: config.fpnChannels, p6From: config.p6From });
    const towers = buildTowers(store, 'head', {
      inChannels: config.fpnChannels,
      depth: config.towerDepth,
      width: config.towerWidth,
      initStd: config.headInitStd,
      gnGroups: config.towerNorm === 'gn' ? config.gnGroups : 0,
    });
    const anchorFunction =
      config.method === 'baseline'
        ? buildPredefinedAnchorFunction(store, 'head', {
            inChannels: towers.outChannels,
            numAnchors: config.numAnchors,
            numClasses: config.numClasses,
            initStd: config.headInitStd,
            priorProb: config.priorProb,
          })
        : buildMetaAnchorFunction(store, 'head', {
            inChannels: towers.outChannels,
            numClasses: config.numClasses,
            hiddenM: config.hiddenM,
            kind: config.generator,
            hiddenBias: config.hiddenBias,
            initStd: config.headInitStd,
            priorProb: config.priorProb,
            w2InitStd: config.w2InitStd,
            convMode: config.convMode,
          });
    return new Detector({ config: { ...config, smallWidths: [...config.smallWidths] }, store, backbone, fpn, towers, anchorFunction });
  } catch (err) {
    store.dispose();
    throw err;
  }
}
