/**
 * MNIST-Det's configuration: the presets (canvas side, digit classes, box size/shape distribution,
 * canvas style), split sizes and seed, and their validation.
 */
import { UserError } from '../../util/errors';

/** Bump when the generator's output changes for an unchanged config: cached datasets are then rebuilt. */
export const MNIST_DET_VERSION = 2;
/** A pasted pixel counts as ink (for the tight box) from this digit alpha on. */
export const INK_ALPHA_THRESHOLD = 0.2;

/** Box size/shape distribution. Sizes are fractions of the image side so they scale with --size. */
export interface BoxDistribution {
  /** Median of sqrt(w*h), as a fraction of the image side (log-normal). */
  sizeMedianFrac: number;
  /** Standard deviation of ln sqrt(w*h). */
  sizeLogSigma: number;
  /** Truncation of sqrt(w*h), fractions of the image side (resampled outside). */
  sizeMinFrac: number;
  sizeMaxFrac: number;
  /** Centre of ln(w/h) (positive = wider boxes). */
  logRatioMean: number;
  /** ln(w/h) ~ (1 - tailWeight) N(mean, coreSigma) + tailWeight N(mean, tailSigma). */
  logRatioCoreSigma: number;
  logRatioTailSigma: number;
  logRatioTailWeight: number;
  /** Truncation of |ln(w/h) - 0| (resampled outside); log(6) keeps 1:5 and 5:1 inside. */
  logRatioMaxAbs: number;
  /** Objects per image, uniform integer in [objectsMin, objectsMax] (fewer if placement fails). */
  objectsMin: number;
  objectsMax: number;
  /** Largest allowed intersection / area of the smaller box between two objects. */
  maxOverlapIoA: number;
}

/** Canvas and ink appearance (grey levels in [0, 1]). */
export interface CanvasStyle {
  /** Background base level ~ U[0, backgroundMax]. */
  backgroundMax: number;
  /** Std of the smooth background field (a coarse random grid, bilinearly upsampled). */
  smoothNoiseSigma: number;
  /** Cells of that coarse grid per image side. */
  smoothNoiseCells: number;
  /** Std of per-pixel Gaussian noise, added last. */
  pixelNoiseSigma: number;
  /** Ink level of a digit ~ U[inkMin, inkMax]. */
  inkMin: number;
  inkMax: number;
  /** 0..clutterLinesMax unannotated anti-aliased line strokes per image (background clutter). */
  clutterLinesMax: number;
}

export interface MnistDetConfig {
  /** Square canvas side in pixels. */
  imageSizePx: number;
  /** Digit classes pasted (ascending, each 0..9); the dataset's categories are these digits. */
  digits: number[];
  trainImages: number;
  valImages: number;
  seed: number;
  boxes: BoxDistribution;
  canvas: CanvasStyle;
}

export type MnistDetPreset = 'default' | 'shifted' | 'pretrain' | 'classic' | 'classic-shifted';
export const MNIST_DET_PRESETS: readonly MnistDetPreset[] = ['default', 'shifted', 'pretrain', 'classic', 'classic-shifted'];

/** What a preset fixes besides the split sizes and seed: canvas side, digit classes, box distribution. */
export interface MnistDetPresetSpec {
  imageSizePx: number;
  digits: number[];
  boxes: BoxDistribution;
  /** Default seed of the preset (DEFAULT_SEED when absent). */
  seed?: number;
  /** Default training images of the preset (DEFAULT_TRAIN_IMAGES when absent). */
  trainImages?: number;
}

/** The default dataset's box distribution: COCO-like shapes and sizes (docs/quick-proxy.md section 1); the pretrain preset shares it. */
const DEFAULT_BOXES: BoxDistribution = {
  sizeMedianFrac: 0.36,
  sizeLogSigma: 0.45,
  sizeMinFrac: 0.16,
  sizeMaxFrac: 0.9,
  logRatioMean: -0.05,
  logRatioCoreSigma: 0.35,
  logRatioTailSigma: 1.4,
  logRatioTailWeight: 0.4,
  logRatioMaxAbs: 2.5,
  objectsMin: 4,
  objectsMax: 10,
  maxOverlapIoA: 0.1,
};

/**
 * 'default' (the quick tables' proxy, docs/quick-proxy.md): 96 px canvases with four digit classes
 * (0, 1, 2, 4) and box shapes spread like COCO's: ln(w/h) a mixture whose w/h has COCO's mean and
 * spread (1.21 ± 1.34 on train+val 2017; ours 1.19 ± 1.13, no box beyond about 12:1 fitting a 96 px
 * canvas) with about 12% of the boxes beyond 1:3 or 3:1, sizes log-normal around the smallest
 * anchors (about a fifth of the boxes below the size any anchor covers at IoU 0.5, as at the
 * paper's 600 px input), 4-10 objects tried per image of which about 3.8 fit, overlapping at most
 * 10% of the smaller box (more overlap made the models learn far more slowly: docs/quick-proxy.md).
 * Anchors matter here: 9x9 anchors cover (IoU >= 0.5) about 4 points more boxes than 3x3.
 * 'shifted': another box distribution with the same classes, for train-on-one, test-on-another
 * (Table 5): boxes ~1.25x larger, skewed wide (median w/h ~1.5), fewer objects per image.
 * 'pretrain': the default's canvases and boxes with the six other digits (3, 5, 6, 7, 8, 9), for the
 * detection pretraining the quick runs start from (lib/train/pretrain-trunk.ts); 4000 training
 * images, seed 1.
 * 'classic' / 'classic-shifted': the earlier 160 px, ten-digit datasets (most boxes near square:
 * 3.7% beyond 1:3, and 3x3 and 9x9 anchors cover nearly the same boxes).
 */
export const PRESETS: Record<MnistDetPreset, MnistDetPresetSpec> = {
  default: {
    imageSizePx: 96,
    digits: [0, 1, 2, 4],
    boxes: DEFAULT_BOXES,
  },
  shifted: {
    imageSizePx: 96,
    digits: [0, 1, 2, 4],
    boxes: {
      sizeMedianFrac: 0.45,
      sizeLogSigma: 0.4,
      sizeMinFrac: 0.2,
      sizeMaxFrac: 0.95,
      logRatioMean: 0.4,
      logRatioCoreSigma: 0.4,
      logRatioTailSigma: 1.4,
      logRatioTailWeight: 0.45,
      logRatioMaxAbs: 2.5,
      objectsMin: 1,
      objectsMax: 4,
      maxOverlapIoA: 0.1,
    },
  },
  pretrain: {
    imageSizePx: 96,
    digits: [3, 5, 6, 7, 8, 9],
    seed: 1,
    trainImages: 4000,
    boxes: DEFAULT_BOXES,
  },
  classic: {
    imageSizePx: 160,
    digits: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    boxes: {
      sizeMedianFrac: 0.28,
      sizeLogSigma: 0.6,
      sizeMinFrac: 0.05,
      sizeMaxFrac: 0.8,
      logRatioMean: 0,
      logRatioCoreSigma: 0.3,
      logRatioTailSigma: 0.85,
      logRatioTailWeight: 0.25,
      logRatioMaxAbs: Math.log(6),
      objectsMin: 1,
      objectsMax: 6,
      maxOverlapIoA: 0.3,
    },
  },
  'classic-shifted': {
    imageSizePx: 160,
    digits: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    boxes: {
      sizeMedianFrac: 0.4,
      sizeLogSigma: 0.45,
      sizeMinFrac: 0.1,
      sizeMaxFrac: 0.9,
      logRatioMean: 0.4,
      logRatioCoreSigma: 0.35,
      logRatioTailSigma: 0.9,
      logRatioTailWeight: 0.35,
      logRatioMaxAbs: Math.log(6),
      objectsMin: 1,
      objectsMax: 4,
      maxOverlapIoA: 0.3,
    },
  },
};

/** The box distribution of each preset (PRESETS[p].boxes). */
export const BOX_DISTRIBUTIONS: Record<MnistDetPreset, BoxDistribution> = Object.fromEntries(
  MNIST_DET_PRESETS.map((p) => [p, PRESETS[p].boxes]),
) as Record<MnistDetPreset, BoxDistribution>;

export const DEFAULT_CANVAS: CanvasStyle = {
  backgroundMax: 0.3,
  smoothNoiseSigma: 0.08,
  smoothNoiseCells: 5,
  pixelNoiseSigma: 0.03,
  inkMin: 0.6,
  inkMax: 1.0,
  clutterLinesMax: 3,
};

/** Default split sizes: generated in a few seconds on 2 cores, enough for the CPU presets. */
export const DEFAULT_TRAIN_IMAGES = 2000;
export const DEFAULT_VAL_IMAGES = 500;
export const DEFAULT_SEED = 0;

export interface MnistDetOptions {
  preset?: MnistDetPreset;
  imageSizePx?: number;
  digits?: number[];
  trainImages?: number;
  valImages?: number;
  seed?: number;
  /** Overrides of single distribution parameters on top of the preset. */
  boxes?: Partial<BoxDistribution>;
  canvas?: Partial<CanvasStyle>;
}

/** A complete config from a preset plus overrides; validated (UserError on nonsense). */
export function mnistDetConfig(options: MnistDetOptions = {}): MnistDetConfig {
  const preset = options.preset ?? 'default';
  if (!MNIST_DET_PRESETS.includes(preset)) {
    throw new UserError(`unknown MNIST-Det preset "${preset}"`, `use one of: ${MNIST_DET_PRESETS.join(', ')}`);
  }
  const spec = PRESETS[preset];
  const cfg: MnistDetConfig = {
    imageSizePx: options.imageSizePx ?? spec.imageSizePx,
    digits: [...(options.digits ?? spec.digits)].sort((a, b) => a - b),
    trainImages: options.trainImages ?? spec.trainImages ?? DEFAULT_TRAIN_IMAGES,
    valImages: options.valImages ?? DEFAULT_VAL_IMAGES,
    seed: options.seed ?? spec.seed ?? DEFAULT_SEED,
    boxes: { ...spec.boxes, ...(options.boxes ?? {}) },
    canvas: { ...DEFAULT_CANVAS, ...(options.canvas ?? {}) },
  };
  validateConfig(cfg);
  return cfg;
}

/** Throws a UserError listing everything wrong with `cfg`. */
export function validateConfig(cfg: MnistDetConfig): void {
  const bad: string[] = [];
  const intIn = (name: string, v: number, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) bad.push(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  intIn('imageSizePx', cfg.imageSizePx, 32, 4096);
  intIn('trainImages', cfg.trainImages, 0, 1_000_000);
  intIn('valImages', cfg.valImages, 0, 1_000_000);
  intIn('seed', cfg.seed, 0, 2 ** 31 - 1);
  if (!Array.isArray(cfg.digits) || cfg.digits.length === 0 || !cfg.digits.every((d) => Number.isInteger(d) && d >= 0 && d <= 9) || new Set(cfg.digits).size !== cfg.digits.length) {
    bad.push(`digits must be distinct integers 0..9 (at least one), got ${JSON.stringify(cfg.digits)}`);
  }
  const b = cfg.boxes;
  intIn('boxes.objectsMin', b.objectsMin, 0, 50);
  intIn('boxes.objectsMax', b.objectsMax, b.objectsMin, 50);
  if (!(b.sizeMinFrac > 0 && b.sizeMinFrac < b.sizeMaxFrac && b.sizeMaxFrac <= 1)) bad.push(`need 0 < boxes.sizeMinFrac < boxes.sizeMaxFrac <= 1, got ${b.sizeMinFrac}, ${b.sizeMaxFrac}`);
  if (!(b.sizeMedianFrac > 0)) bad.push(`boxes.sizeMedianFrac must be > 0, got ${b.sizeMedianFrac}`);
  if (b.sizeMinFrac * cfg.imageSizePx < 3) bad.push(`smallest box ${(b.sizeMinFrac * cfg.imageSizePx).toFixed(1)} px is below 3 px: raise boxes.sizeMinFrac or the image size`);
  for (const k of ['sizeLogSigma', 'logRatioCoreSigma', 'logRatioTailSigma'] as const) if (!(b[k] >= 0)) bad.push(`boxes.${k} must be >= 0, got ${b[k]}`);
  if (!(b.logRatioTailWeight >= 0 && b.logRatioTailWeight <= 1)) bad.push(`boxes.logRatioTailWeight must be in [0, 1], got ${b.logRatioTailWeight}`);
  if (!(b.logRatioMaxAbs > 0)) bad.push(`boxes.logRatioMaxAbs must be > 0, got ${b.logRatioMaxAbs}`);
  if (!(Math.abs(b.logRatioMean) < b.logRatioMaxAbs)) bad.push(`|boxes.logRatioMean| must be below boxes.logRatioMaxAbs`);
  if (!(b.maxOverlapIoA >= 0 && b.maxOverlapIoA <= 1)) bad.push(`boxes.maxOverlapIoA must be in [0, 1], got ${b.maxOverlapIoA}`);
  const c = cfg.canvas;
  if (!(c.inkMin >= 0 && c.inkMin <= c.inkMax && c.inkMax <= 1)) bad.push('need 0 <= canvas.inkMin <= canvas.inkMax <= 1');
  if (!(c.backgroundMax >= 0 && c.backgroundMax < c.inkMin)) bad.push('need 0 <= canvas.backgroundMax < canvas.inkMin (ink must stand out)');
  intIn('canvas.smoothNoiseCells', c.smoothNoiseCells, 1, 64);
  intIn('canvas.clutterLinesMax', c.clutterLinesMax, 0, 50);
  if (bad.length) throw new UserError(`invalid MNIST-Det config:\n  ${bad.join('\n  ')}`);
}
