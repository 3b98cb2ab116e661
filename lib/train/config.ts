/**
 * One training run's configuration, every default in one place. A paper table is a list of these
 * (lib/experiments); a run directory stores the resolved config, so a run is reproducible from it.
 *
 * Presets set the sizes and schedule per profile:
 *   smoke  seconds; exercises every code path (tests, `npm test` notebooks)
 *   quick  a few minutes on 2 CPU cores on MNIST-Det: the unit of the CPU tables
 *   full   longer CPU training
 *   paper  ResNet-50-FPN, 600 px, RetinaNet's 1x schedule on COCO (a GPU machine)
 */
import { ModelConfig, ModelPresetName, isPresetName } from '../model';
import { LrScheduleConfig } from './schedule';
import { UserError } from '../util/errors';
import { DropRange } from '../data/box-drop';
import type { MnistDetPreset } from '../data/mnist-det';

export type DatasetSpec =
  | { kind: 'mnist-det'; preset?: MnistDetPreset }
  | { kind: 'coco'; annotations: string; images: string; skipInvalidBoxes?: boolean }
  | { kind: 'voc'; root: string; imageSet: string; skipInvalidBoxes?: boolean };

/**
 * Table 4: ground-truth boxes with sqrtMinPx < sqrt(wh) < sqrtMaxPx and logRatioMin < ln(w/h) <
 * logRatioMax, in input pixels, get no loss in training (lib/data/box-drop.ts DropRange).
 */
export type DropBoxesConfig = DropRange;

export interface TrainConfig {
  preset: ModelPresetName;
  method: 'baseline' | 'metaanchor';
  generator: 'independent' | 'dependent';
  /** Anchor configuration (lib/anchors parseAnchorSpec): "3x3" .. "9x9" or an explicit list. */
  anchors: string;
  /** Matcher thresholds (Table 2: 0.5/0.4 and 0.6/0.5). */
  posIou: number;
  negIou: number;
  /** detectron2's allow_low_quality_matches (each GT's best anchors become positive). */
  allowLowQuality: boolean;
  /** MetaAnchor training: every b_i jittered uniformly within +-jitter per iteration (Sec. 4). */
  jitter: number;
  dropBoxes: DropBoxesConfig | null;
  train: DatasetSpec;
  val: DatasetSpec;
  /** Input: long side resized to this, padded to a square multiple of 32. */
  imageSizePx: number;
  /** Horizontal flip probability. 0 for digits (a mirrored 2 is no 2); 0.5 for COCO (RetinaNet). */
  flipProb: number;
  /** Short side target (COCO style); null = resize by the long side only. */
  minSizePx: number | null;
  batchSize: number;
  steps: number;
  optimizer: 'sgd' | 'adam';
  lr: LrScheduleConfig;
  momentum: number;
  /**
   * Learning-rate multiplier of MetaAnchor's generator weights (W1, c1, W2, W12; not theta*). With
   * Adam each of W2's m rows moves by ~lr per step, so the generated residual W2·h moves ~||h||_1
   * times faster than theta*; 1/sqrt(m) ~ 0.1 (m = 128, ||h||_2 ~ 1 at init) evens that out. With
   * SGD the step already scales with ||h||^2 ~ 1, so the paper preset keeps 1.
   */
  generatorLrMult: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = off). */
  clipNorm: number;
  focalAlpha: number;
  focalGamma: number;
  boxLoss: 'smooth-l1' | 'l1';
  /** smooth-L1 beta (detectron2 RetinaNet: 0.1). */
  smoothL1Beta: number;
  /** Validate every this many steps (0 = only at the end). */
  evalEvery: number;
  /** Validation images (0 = all). */
  evalImages: number;
  /** Checkpoint every this many steps (and always at the end). */
  checkpointEvery: number;
  /**
   * Keep the model's weights every this many steps under <run>/snapshots/ (0 = none), for learning
   * curves measured afterwards (`metaanchor curve`, lib/experiments/curve.ts).
   */
  snapshotEvery: number;
  seed: number;
  /** Model fields on top of the preset (e.g. { hiddenM: 64 }). */
  model: Partial<ModelConfig>;
  /**
   * Start from another model's weights for the parameters under these name prefixes (e.g. a
   * pretrained backbone: { weights: 'data/pretrained/...', prefixes: ['backbone.'] }); absent = none.
   */
  initFrom?: { weights: string; prefixes: string[] };
  /**
   * Detector family: absent = RetinaNet (every configuration above); 'yolov2' = the Table 7 port
   * (lib/model/yolo; start from `yoloTrainConfig`). For YOLO, posIou/negIou/allowLowQuality and the
   * focal/box-loss fields do not apply: the region layer's rules and weights are yolov2.cfg's
   * (lib/model/yolo/config.ts YOLOV2_REGION).
   */
  detector?: 'yolov2';
}

const MNIST: DatasetSpec = { kind: 'mnist-det' };

/**
 * Steps of a quick run. The quick tables compare converged models: doubling these steps changes a
 * run's mmAP by less than a point (docs/quick-proxy.md has the learning curves; `metaanchor
 * converge` measures it for any table).
 */
export const QUICK_STEPS = 8000;

/** Where the quick runs start: the detection trunk pretrained on other digits (lib/train/pretrain-trunk.ts). */
export const QUICK_INIT: NonNullable<TrainConfig['initFrom']> = {
  weights: 'pretrained:mnist-det-trunk',
  prefixes: ['backbone.', 'fpn.', 'head.clsTower.', 'head.boxTower.'],
};

/**
 * The quick preset: one run of the quick tables, and the reference point every other preset is
 * written against. MNIST-Det's default proxy at its own 96 px, the small GroupNorm detector,
 * started from the pretrained detection trunk (the anchor functions start fresh), Adam.
 */
const QUICK: TrainConfig = {
  preset: 'quick',
  method: 'baseline',
  generator: 'independent',
  anchors: '3x3',
  posIou: 0.5,
  negIou: 0.4,
  allowLowQuality: true,
  jitter: 0.5,
  dropBoxes: null,
  train: MNIST,
  val: MNIST,
  imageSizePx: 96,
  flipProb: 0,
  minSizePx: null,
  batchSize: 8,
  steps: QUICK_STEPS,
  // Adam, not RetinaNet's SGD, for the short CPU schedules. Measured on the classic MNIST-Det
  // (600 steps, baseline 3x3, 200 val images): SGD 0.02 + momentum 0.9 4.2 mmAP (its classifier
  // had not yet separated the digits), Adam 1e-3 21.9, Adam 2e-3 27.2; on the proxy, 2e-3 and 4e-3
  // end equal (38.2, 38.3 after 1000 steps). The paper preset keeps RetinaNet's SGD schedule.
  optimizer: 'adam',
  lr: { baseLr: 0.002, warmupSteps: 50, warmupFactor: 0.01, decaySteps: [Math.round(0.75 * QUICK_STEPS), Math.round(0.917 * QUICK_STEPS)], gamma: 0.1 },
  momentum: 0.9,
  generatorLrMult: 0.1,
  weightDecay: 1e-4,
  clipNorm: 10,
  focalAlpha: 0.25,
  focalGamma: 2,
  boxLoss: 'smooth-l1',
  smoothL1Beta: 0.1,
  evalEvery: 0,
  evalImages: 500,
  checkpointEvery: 100,
  snapshotEvery: QUICK_STEPS / 4,
  seed: 0,
  model: {},
  initFrom: QUICK_INIT,
};

export const TRAIN_PRESETS: Readonly<Record<ModelPresetName, TrainConfig>> = {
  smoke: {
    ...QUICK,
    preset: 'smoke',
    imageSizePx: 64,
    batchSize: 2,
    steps: 4,
    lr: { baseLr: 0.001, warmupSteps: 2, warmupFactor: 0.1, decaySteps: [3], gamma: 0.1 },
    evalImages: 4,
    checkpointEvery: 2,
    snapshotEvery: 2,
    initFrom: undefined,
  },
  quick: QUICK,
  full: {
    ...QUICK,
    preset: 'full',
    steps: 2 * QUICK_STEPS,
    lr: { baseLr: 0.002, warmupSteps: 100, warmupFactor: 0.01, decaySteps: [Math.round(1.5 * QUICK_STEPS), Math.round(1.833 * QUICK_STEPS)], gamma: 0.1 },
    evalImages: 0,
    checkpointEvery: 250,
    snapshotEvery: QUICK_STEPS / 2,
  },
  // RetinaNet 1x at batch 16 (Lin et al. 2017; detectron2 retinanet_R_50_FPN_1x), 600 px (paper Sec. 4).
  paper: {
    ...QUICK,
    preset: 'paper',
    imageSizePx: 1000,
    minSizePx: 600,
    flipProb: 0.5,
    batchSize: 16,
    steps: 90000,
    optimizer: 'sgd',
    generatorLrMult: 1,
    lr: { baseLr: 0.01, warmupSteps: 1000, warmupFactor: 0.001, decaySteps: [60000, 80000], gamma: 0.1 },
    clipNorm: 0,
    evalEvery: 10000,
    evalImages: 0,
    checkpointEvery: 1000,
    snapshotEvery: 10000,
    initFrom: undefined,
    train: { kind: 'coco', annotations: 'data/coco/annotations/instances_train2017.json', images: 'data/coco/train2017' },
    val: { kind: 'coco', annotations: 'data/coco/annotations/instances_val2017.json', images: 'data/coco/val2017' },
  },
};

/**
 * What a YOLOv2 run changes on top of a preset (`yoloTrainConfig`).
 * - Input 192 px for the CPU presets: the default MNIST-Det's 96 px canvases twice over, a 6x6
 *   region grid. Its digits (sqrt(wh) 17 / 32 / 68 px at p5 / median / p95 of 96 px) become 1.1 /
 *   2.0 / 4.3 cells of the stride-32 grid, inside darknet's COCO anchors (sqrt(wh) 0.62..9.5 cells,
 *   made for COCO at 416 px). (The classic 160 px dataset took 256 px: 0.80 / 2.07 / 4.78 cells.)
 * - No pretrained initialisation: the pretrained trunks are the RetinaNet detector's.
 * - paper: yolov2.cfg's training (416 px, batch 64, SGD lr 0.001 momentum 0.9, decay 0.0005,
 *   burn-in 1000 (here a linear warm-up; darknet's is (i/1000)^4), steps 400k/450k of 500200,
 *   flips). Multi-scale training (random=1) and darknet's colour/jitter augmentation are not
 *   implemented.
 */
export const YOLOV2_TRAIN_OVERRIDES: Readonly<Record<ModelPresetName, Partial<TrainConfig>>> = {
  smoke: { detector: 'yolov2', anchors: 'yolov2', imageSizePx: 64, initFrom: undefined },
  quick: { detector: 'yolov2', anchors: 'yolov2', imageSizePx: 192, initFrom: undefined },
  full: { detector: 'yolov2', anchors: 'yolov2', imageSizePx: 192, initFrom: undefined },
  paper: {
    initFrom: undefined,
    detector: 'yolov2',
    anchors: 'yolov2',
    imageSizePx: 416,
    minSizePx: null,
    flipProb: 0.5,
    batchSize: 64,
    steps: 500200,
    optimizer: 'sgd',
    momentum: 0.9,
    weightDecay: 0.0005,
    lr: { baseLr: 0.001, warmupSteps: 1000, warmupFactor: 0.001, decaySteps: [400000, 450000], gamma: 0.1 },
    generatorLrMult: 1,
    clipNorm: 0,
  },
};

/** A YOLOv2 run (Table 7): the preset, YOLOV2_TRAIN_OVERRIDES, then `overrides`; validated. */
export function yoloTrainConfig(preset: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  if (!isPresetName(preset)) {
    throw new UserError(`unknown preset "${preset}"`, `use one of: ${Object.keys(TRAIN_PRESETS).join(', ')}`);
  }
  return trainConfig(preset, { ...YOLOV2_TRAIN_OVERRIDES[preset], ...overrides, detector: 'yolov2' });
}

/** A preset with overrides, validated. */
export function trainConfig(preset: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  if (!isPresetName(preset)) {
    throw new UserError(`unknown preset "${preset}"`, `use one of: ${Object.keys(TRAIN_PRESETS).join(', ')}`);
  }
  const cfg: TrainConfig = { ...TRAIN_PRESETS[preset], ...overrides };
  validateTrainConfig(cfg);
  return cfg;
}

/** "0.5/0.4" -> { posIou: 0.5, negIou: 0.4 }. */
export function parseIouPair(text: string): { posIou: number; negIou: number } {
  const m = /^\s*([0-9.]+)\s*\/\s*([0-9.]+)\s*$/.exec(text);
  const pos = m ? Number(m[1]) : NaN;
  const neg = m ? Number(m[2]) : NaN;
  if (!(pos > 0 && pos <= 1 && neg > 0 && neg <= pos)) {
    throw new UserError(`invalid IoU thresholds "${text}"`, 'write positive/negative, e.g. 0.5/0.4 or 0.6/0.5 (negative <= positive)');
  }
  return { posIou: pos, negIou: neg };
}

export function validateTrainConfig(cfg: TrainConfig): void {
  const bad = (field: string, want: string): never => {
    throw new UserError(`train config: ${field} = ${JSON.stringify((cfg as unknown as Record<string, unknown>)[field])} is invalid`, want);
  };
  if (cfg.method !== 'baseline' && cfg.method !== 'metaanchor') bad('method', 'baseline | metaanchor');
  if (cfg.generator !== 'independent' && cfg.generator !== 'dependent') bad('generator', 'independent | dependent');
  if (!(cfg.posIou > 0 && cfg.posIou <= 1 && cfg.negIou > 0 && cfg.negIou <= cfg.posIou)) bad('posIou', 'thresholds in (0, 1] with negIou <= posIou');
  if (!(cfg.jitter >= 0)) bad('jitter', 'a number >= 0 (paper: 0.5)');
  if (!(Number.isInteger(cfg.imageSizePx) && cfg.imageSizePx >= 32)) bad('imageSizePx', 'an integer >= 32');
  if (!(Number.isInteger(cfg.batchSize) && cfg.batchSize >= 1)) bad('batchSize', 'a positive integer');
  if (!(Number.isInteger(cfg.steps) && cfg.steps >= 1)) bad('steps', 'a positive integer');
  if (cfg.optimizer !== 'sgd' && cfg.optimizer !== 'adam') bad('optimizer', 'sgd | adam');
  if (!(cfg.lr.baseLr > 0)) bad('lr', 'baseLr > 0');
  if (!(cfg.flipProb >= 0 && cfg.flipProb <= 1)) bad('flipProb', 'a probability in [0, 1]');
  if (!(cfg.generatorLrMult > 0)) bad('generatorLrMult', 'a number > 0 (1 = same learning rate as the rest)');
  if (!(cfg.weightDecay >= 0)) bad('weightDecay', 'a number >= 0');
  if (!(cfg.clipNorm >= 0)) bad('clipNorm', 'a number >= 0 (0 = off)');
  if (cfg.boxLoss !== 'smooth-l1' && cfg.boxLoss !== 'l1') bad('boxLoss', 'smooth-l1 | l1');
  if (!(Number.isInteger(cfg.checkpointEvery) && cfg.checkpointEvery >= 1)) bad('checkpointEvery', 'a positive integer');
  if (!(Number.isInteger(cfg.evalEvery) && cfg.evalEvery >= 0)) bad('evalEvery', 'an integer >= 0');
  if (!(Number.isInteger(cfg.snapshotEvery) && cfg.snapshotEvery >= 0)) bad('snapshotEvery', 'an integer >= 0 (0 = no snapshots)');
  if (cfg.detector !== undefined && cfg.detector !== 'yolov2') bad('detector', "leave it out (RetinaNet) or 'yolov2'");
  if (cfg.detector === 'yolov2' && cfg.imageSizePx % 32 !== 0) bad('imageSizePx', 'YOLOv2: a multiple of 32 (the region grid has stride 32), e.g. 256 or 416');
}

/**
 * How a run's images are resized for training, validation and detection: long side to
 * `imageSizePx` (COCO-style short side when `minSizePx` is set), padded to a square multiple of 32.
 */
export function inputGeometry(cfg: Pick<TrainConfig, 'imageSizePx' | 'minSizePx'>): {
  maxSizePx: number;
  minSizePx?: number;
  pad: 'square';
  sizeDivisor: number;
} {
  return { maxSizePx: cfg.imageSizePx, minSizePx: cfg.minSizePx ?? undefined, pad: 'square', sizeDivisor: 32 };
}
