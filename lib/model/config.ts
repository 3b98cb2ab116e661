/**
 * The detector's configuration: every default in one place (detectron2 `config/defaults.py`
 * style), presets that only change sizes, and validation with messages that say what to change.
 *
 * `DEFAULT_MODEL_CONFIG` is the paper's detector (Sec. 4: RetinaNet, ResNet-50-FPN, 4x256 towers,
 * MetaAnchor generator with m = 128 hidden units). The presets `smoke`, `quick`, `full` shrink the
 * network for CPU runs; `paper` is the default itself. The number of classes and of anchors come
 * from the dataset and the anchor configuration, so experiments set them, not the presets.
 */
import type { StandardBox } from '../anchors/config';
import { UserError } from '../util/errors';
import { YOLO_NET_PRESETS, YoloNetConfig, validateYoloNetConfig } from './yolo/config';

export type BackboneKind = 'small' | 'resnet18' | 'resnet50';
/** 'auto': frozen BN for ResNets with ImageNet weights, GroupNorm otherwise (from-scratch training). */
export type BackboneNorm = 'auto' | 'gn' | 'frozen-bn' | 'none';
/** Which anchor function the head ends with: predefined convs (RetinaNet) or MetaAnchor generators. */
export type AnchorMethod = 'baseline' | 'metaanchor';
/** MetaAnchor generator: Eq. 4 (data-independent) or Eq. 6 (data-dependent). */
export type GeneratorKind = 'independent' | 'dependent';
/**
 * How a generated anchor function is evaluated (same numbers up to float rounding, different cost):
 * 'direct' generates the A anchor functions' weights and runs one conv with A*K outputs (cost of
 * the baseline head); 'basis' runs m+1 basis convs once and mixes them per anchor (cost
 * independent of A; for inference over many anchors); 'auto' (the default) picks, per FPN level,
 * whichever of the two needs fewer multiply-adds (heads/metaanchor.ts `evaluationCost`): direct
 * for the data-independent generator while A <= m + 1; for the data-dependent one, whose weights
 * are generated per image and level, basis on the small levels and, with many anchors, on all.
 */
export type GeneratedConvMode = 'direct' | 'basis' | 'auto';

export interface ModelConfig {
  // ---- input
  /** Images enter the model as RGB float32 in 0..255; the model normalises (x - mean) / std. */
  pixelMeanRGB: [number, number, number];
  pixelStdRGB: [number, number, number];

  // ---- backbone
  backbone: BackboneKind;
  /** Channels of the small CPU backbone's five stride-2 stages: [s2, s4, C3 (s8), C4 (s16), C5 (s32)]. */
  smallWidths: number[];
  backboneNorm: BackboneNorm;
  /** Groups of GroupNorm layers (capped at the channel count). */
  gnGroups: number;
  /** ImageNet weights for a ResNet (weights directory or its manifest.json), null = random init. */
  backboneWeights: string | null;
  /**
   * Stages whose weights are frozen (detectron2 FREEZE_AT): 0 none, 1 stem, 2 stem + res2, ...
   * 'auto' = 2 when ImageNet weights are loaded (detectron2's RetinaNet), 0 when training from scratch.
   */
  freezeAt: number | 'auto';

  // ---- FPN
  fpnChannels: number;
  /**
   * Input of P6: 'c5' as in the RetinaNet paper and detectron2 (LastLevelP6P7 on res5), or 'p5'
   * (torchvision's retinanet_resnet50_fpn_v2). P7 = conv(relu(P6)) either way.
   */
  p6From: 'c5' | 'p5';

  // ---- head (towers shared across levels, RetinaNet Sec. 4)
  towerDepth: number;
  towerWidth: number;
  /** GroupNorm after each tower conv ('gn', gnGroups groups) or none ('none', RetinaNet's head). */
  towerNorm: 'none' | 'gn';
  numClasses: number;
  /** std of the normal init of tower and anchor-function convs (RetinaNet: 0.01). */
  headInitStd: number;
  /** Classification bias init -log((1 - p) / p) (RetinaNet: p = 0.01). */
  priorProb: number;

  // ---- anchor functions
  method: AnchorMethod;
  /** Baseline only: anchors per location (the last convs have A*K and A*4 outputs). */
  numAnchors: number;
  generator: GeneratorKind;
  /** Hidden units m of the generator (paper Sec. 3.2: 128). */
  hiddenM: number;
  /** Bias in W1 (the paper's Eq. 5 writes none; see heads/metaanchor.ts for the choice). */
  hiddenBias: boolean;
  /** std of W2's normal init; 0 = zero init, so that at step 0 every anchor uses theta*. */
  w2InitStd: number;
  /** Evaluation of generated anchor functions; see GeneratedConvMode. */
  convMode: GeneratedConvMode;
  /**
   * MetaAnchor: the frame of Eq. 7, the training anchor configuration's standard box (AH, AW) at
   * P3. The generator learned b = (log(ah/AH), log(aw/AW)) in this frame, so every anchor it is
   * asked for at inference (Table 3's other configurations, a search result, Figure 2's single
   * anchors) is encoded in it too. Set by the trainer; absent for the baseline (see eq7Frame).
   */
  standardBoxP3?: StandardBox;

  // ---- detector family (absent = RetinaNet, the fields above)
  /**
   * 'yolov2': the Table 7 port (lib/model/yolo): backbone/FPN/tower fields are unused; `yolo`
   * holds the network sizes, and numClasses, method, numAnchors, generator, hiddenM, hiddenBias,
   * w2InitStd, headInitStd, convMode, pixel normalisation, backboneNorm and gnGroups apply.
   */
  detector?: 'yolov2';
  /** YOLOv2 network sizes (set from the preset by `modelConfig` when detector is 'yolov2'). */
  yolo?: YoloNetConfig;
}

/** The paper's detector (Sec. 3.2 and 4). */
export const DEFAULT_MODEL_CONFIG: Readonly<ModelConfig> = Object.freeze({
  // torchvision ImageNet normalisation, in 0..255 units.
  pixelMeanRGB: [123.675, 116.28, 103.53] as [number, number, number],
  pixelStdRGB: [58.395, 57.12, 57.375] as [number, number, number],

  backbone: 'resnet50' as BackboneKind,
  smallWidths: [16, 32, 64, 96, 128],
  backboneNorm: 'auto' as BackboneNorm,
  gnGroups: 8,
  backboneWeights: null,
  freezeAt: 'auto' as const,

  fpnChannels: 256,
  p6From: 'c5' as const,

  towerDepth: 4,
  towerWidth: 256,
  towerNorm: 'none' as const,
  numClasses: 80,
  headInitStd: 0.01,
  priorProb: 0.01,

  method: 'metaanchor' as AnchorMethod,
  numAnchors: 9,
  generator: 'independent' as GeneratorKind,
  hiddenM: 128,
  hiddenBias: true,
  w2InitStd: 0,
  convMode: 'auto' as GeneratedConvMode,
});

export type ModelPresetName = 'smoke' | 'quick' | 'full' | 'paper';

/** Sizes per run profile; everything else comes from DEFAULT_MODEL_CONFIG. */
export const MODEL_PRESETS: Readonly<Record<ModelPresetName, Partial<ModelConfig>>> = Object.freeze({
  // Seconds per step on the cpu backend: exercises every code path, learns little.
  smoke: { backbone: 'small', smallWidths: [8, 8, 16, 16, 24], fpnChannels: 16, towerDepth: 1, towerWidth: 16, hiddenM: 16 },
  // The quick tables' detector (docs/quick-proxy.md): ~0.25 M parameters in the baseline; GroupNorm
  // in the narrow towers, which otherwise learn far more slowly from scratch (17.5 -> 25.3 mmAP
  // after 500 steps with it).
  quick: { backbone: 'small', smallWidths: [8, 16, 32, 48, 64], fpnChannels: 32, towerDepth: 2, towerWidth: 32, towerNorm: 'gn' },
  // Longer CPU runs: ~0.9 M parameters in the baseline (cf. docs/DESIGN.md section 7's 0.84 M net).
  full: { backbone: 'small', smallWidths: [16, 32, 64, 96, 128], fpnChannels: 64, towerDepth: 3, towerWidth: 64, towerNorm: 'gn' },
  // The paper: ResNet-50-FPN, 4x256 towers, m = 128 (needs a GPU to train in reasonable time).
  paper: {},
});

export function isPresetName(name: string): name is ModelPresetName {
  return Object.prototype.hasOwnProperty.call(MODEL_PRESETS, name);
}

/** DEFAULT_MODEL_CONFIG, then the preset's sizes, then `overrides`; validated. */
export function modelConfig(preset: ModelPresetName | string = 'paper', overrides: Partial<ModelConfig> = {}): ModelConfig {
  if (!isPresetName(preset)) {
    throw new UserError(`unknown model preset "${preset}"`, `use one of: ${Object.keys(MODEL_PRESETS).join(', ')}`);
  }
  const cfg: ModelConfig = {
    ...DEFAULT_MODEL_CONFIG,
    smallWidths: [...DEFAULT_MODEL_CONFIG.smallWidths],
    ...MODEL_PRESETS[preset],
    ...overrides,
  };
  if (cfg.detector === 'yolov2') {
    const net = YOLO_NET_PRESETS[preset];
    cfg.yolo = { ...net, widths: [...net.widths], depths: [...net.depths], ...overrides.yolo };
  }
  validateModelConfig(cfg);
  return cfg;
}

function isPosInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Throws a UserError naming the first invalid field and the accepted values. */
/**
 * The Eq. 7 frame of a MetaAnchor model (ModelConfig.standardBoxP3); an error for a MetaAnchor
 * model without one, so that no caller encodes anchors in a frame the generator did not learn.
 */
export function eq7Frame(cfg: Pick<ModelConfig, 'method' | 'standardBoxP3'>): StandardBox {
  if (cfg.method !== 'metaanchor') throw new Error('eq7Frame: only MetaAnchor models encode anchors with Eq. 7');
  if (!cfg.standardBoxP3) {
    throw new UserError(
      'this MetaAnchor model has no Eq. 7 frame (standardBoxP3) in its config',
      'models trained by `metaanchor train` carry it; a model built in code needs modelConfig(preset, { method: "metaanchor", standardBoxP3 })',
    );
  }
  return cfg.standardBoxP3;
}

export function validateModelConfig(cfg: ModelConfig): void {
  const bad = (field: string, value: unknown, want: string): never => {
    throw new UserError(`model config: ${field} = ${JSON.stringify(value)} is invalid`, want);
  };
  const known = new Set([...Object.keys(DEFAULT_MODEL_CONFIG), 'detector', 'yolo', 'standardBoxP3']);
  for (const k of Object.keys(cfg)) {
    if (!known.has(k)) bad(k, (cfg as unknown as Record<string, unknown>)[k], `unknown field; known fields: ${[...known].join(', ')}`);
  }
  if (cfg.standardBoxP3 !== undefined) {
    const b = cfg.standardBoxP3;
    if (cfg.method !== 'metaanchor') bad('standardBoxP3', b, 'only MetaAnchor models have an Eq. 7 frame: leave it out for the baseline');
    if (!b || !(b.heightPx > 0) || !(b.widthPx > 0))
      bad('standardBoxP3', b, "give { heightPx, widthPx }, both positive (the training configuration's standard box at P3)");
  }
  if (cfg.detector !== undefined && cfg.detector !== 'yolov2') bad('detector', cfg.detector, "leave it out (RetinaNet) or use 'yolov2'");
  if (cfg.detector === 'yolov2') validateYoloNetConfig(cfg.yolo as YoloNetConfig);
  else if (cfg.yolo !== undefined) bad('yolo', cfg.yolo, "YOLO network sizes need detector: 'yolov2'");
  if (!['small', 'resnet18', 'resnet50'].includes(cfg.backbone)) bad('backbone', cfg.backbone, 'use small | resnet18 | resnet50');
  if (!Array.isArray(cfg.smallWidths) || cfg.smallWidths.length !== 5 || !cfg.smallWidths.every(isPosInt)) {
    bad('smallWidths', cfg.smallWidths, 'give 5 positive integers: channels at strides 2, 4, 8, 16, 32');
  }
  if (!['auto', 'gn', 'frozen-bn', 'none'].includes(cfg.backboneNorm)) bad('backboneNorm', cfg.backboneNorm, 'use auto | gn | frozen-bn | none');
  if (cfg.backbone === 'small' && cfg.backboneNorm === 'frozen-bn') {
    bad('backboneNorm', cfg.backboneNorm, 'the small backbone trains from scratch: use gn or none (or auto)');
  }
  if (!isPosInt(cfg.gnGroups)) bad('gnGroups', cfg.gnGroups, 'a positive integer, e.g. 8');
  if (cfg.backbone === 'small' && resolvedBackboneNorm(cfg) === 'gn') {
    const odd = cfg.smallWidths.find((w) => w % Math.min(cfg.gnGroups, w) !== 0);
    if (odd !== undefined) bad('smallWidths', cfg.smallWidths, `with GroupNorm every width must be divisible by gnGroups (${cfg.gnGroups}); ${odd} is not`);
  }
  if (cfg.backbone === 'small' && cfg.freezeAt !== 'auto' && cfg.freezeAt !== 0) {
    bad('freezeAt', cfg.freezeAt, "frozen stages apply to pretrained ResNets; use 0 or 'auto' with the small backbone");
  }
  if (cfg.backboneWeights !== null && typeof cfg.backboneWeights !== 'string') bad('backboneWeights', cfg.backboneWeights, 'a path or null');
  if (cfg.backboneWeights && cfg.backbone === 'small') {
    bad('backboneWeights', cfg.backboneWeights, 'ImageNet weights exist only for resnet18 / resnet50 backbones');
  }
  if (cfg.backboneWeights && (cfg.backboneNorm === 'gn' || cfg.backboneNorm === 'none')) {
    bad('backboneNorm', cfg.backboneNorm, 'ImageNet weights carry batch-norm statistics: use frozen-bn (or auto) with backboneWeights');
  }
  if (cfg.freezeAt !== 'auto' && !(Number.isInteger(cfg.freezeAt) && cfg.freezeAt >= 0 && cfg.freezeAt <= 5)) {
    bad('freezeAt', cfg.freezeAt, "'auto' or an integer 0..5 (0 none, 1 stem, 2 stem + res2, ...)");
  }
  if (!isPosInt(cfg.fpnChannels)) bad('fpnChannels', cfg.fpnChannels, 'a positive integer (paper: 256)');
  if (cfg.p6From !== 'c5' && cfg.p6From !== 'p5') bad('p6From', cfg.p6From, 'use c5 | p5');
  if (!(Number.isInteger(cfg.towerDepth) && cfg.towerDepth >= 0)) bad('towerDepth', cfg.towerDepth, 'an integer >= 0 (paper: 4)');
  if (!isPosInt(cfg.towerWidth)) bad('towerWidth', cfg.towerWidth, 'a positive integer (paper: 256)');
  if (cfg.towerNorm !== 'none' && cfg.towerNorm !== 'gn') bad('towerNorm', cfg.towerNorm, 'use none (RetinaNet) | gn');
  if (cfg.towerNorm === 'gn' && cfg.towerWidth % Math.min(cfg.gnGroups, cfg.towerWidth) !== 0)
    bad('towerWidth', cfg.towerWidth, `with towerNorm gn the width must be divisible by gnGroups (${cfg.gnGroups})`);
  if (cfg.towerDepth === 0 && cfg.towerWidth !== cfg.fpnChannels) {
    bad('towerWidth', cfg.towerWidth, `with towerDepth 0 the head sees FPN features directly: set towerWidth = fpnChannels (${cfg.fpnChannels})`);
  }
  if (!isPosInt(cfg.numClasses)) bad('numClasses', cfg.numClasses, 'a positive integer (COCO: 80)');
  if (!(cfg.headInitStd > 0)) bad('headInitStd', cfg.headInitStd, 'a positive number (RetinaNet: 0.01)');
  if (!(cfg.priorProb > 0 && cfg.priorProb < 1)) bad('priorProb', cfg.priorProb, 'a probability in (0, 1) (RetinaNet: 0.01)');
  if (cfg.method !== 'baseline' && cfg.method !== 'metaanchor') bad('method', cfg.method, 'use baseline | metaanchor');
  if (!isPosInt(cfg.numAnchors)) bad('numAnchors', cfg.numAnchors, 'a positive integer (3x3 config: 9)');
  if (cfg.generator !== 'independent' && cfg.generator !== 'dependent') bad('generator', cfg.generator, 'use independent (Eq. 4) | dependent (Eq. 6)');
  if (!isPosInt(cfg.hiddenM)) bad('hiddenM', cfg.hiddenM, 'a positive integer (paper: 128)');
  if (typeof cfg.hiddenBias !== 'boolean') bad('hiddenBias', cfg.hiddenBias, 'true or false');
  if (!(cfg.w2InitStd >= 0)) bad('w2InitStd', cfg.w2InitStd, 'a number >= 0 (0 = zero init)');
  if (!['direct', 'basis', 'auto'].includes(cfg.convMode)) bad('convMode', cfg.convMode, 'use auto | direct | basis');
  for (const [field, arr] of [
    ['pixelMeanRGB', cfg.pixelMeanRGB],
    ['pixelStdRGB', cfg.pixelStdRGB],
  ] as const) {
    if (!Array.isArray(arr) || arr.length !== 3 || !arr.every((v) => typeof v === 'number' && isFinite(v))) {
      bad(field, arr, 'three numbers (R, G, B) in 0..255 units');
    }
  }
  if (!cfg.pixelStdRGB.every((v) => v > 0)) bad('pixelStdRGB', cfg.pixelStdRGB, 'three positive numbers');
}

/** Normalisation actually used by the backbone. */
export function resolvedBackboneNorm(cfg: ModelConfig): 'gn' | 'frozen-bn' | 'none' {
  if (cfg.backboneNorm !== 'auto') return cfg.backboneNorm;
  if (cfg.backbone === 'small') return 'gn';
  return cfg.backboneWeights ? 'frozen-bn' : 'gn';
}

/** Frozen stages actually used. */
export function resolvedFreezeAt(cfg: ModelConfig): number {
  if (cfg.freezeAt !== 'auto') return cfg.freezeAt;
  return cfg.backboneWeights ? 2 : 0;
}
