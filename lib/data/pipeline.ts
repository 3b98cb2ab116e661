/**
 * Input pipeline: decode -> resize (aspect ratio kept) -> horizontal flip -> normalise -> pad ->
 * batch into NHWC float32, with boxes transformed alongside, and the map back from input pixels to
 * original-image pixels for inference.
 *
 * - Resize as detectron2's `ResizeShortestEdge` / RetinaNet: scale = min(minSizePx / short side,
 *   maxSizePx / long side) (the paper's "600 px" images: minSizePx 600, maxSizePx 1000); without
 *   minSizePx the long side becomes maxSizePx. Per-axis scales are kept exactly (sizes are rounded).
 * - Padding goes right and bottom (box coordinates need no shift) with 0 after normalisation, i.e.
 *   the mean colour, as detectron2's `ImageList.from_tensors`. 'square' pads every input to one
 *   fixed S x S with S = roundUp(maxSizePx, sizeDivisor) (tfjs compiles kernels per shape, so one
 *   shape per run is fastest); 'batch' pads to the batch's largest H and W, rounded up to
 *   sizeDivisor. sizeDivisor 128 = stride of P7 makes every FPN level's grid whole; MNIST-Det at
 *   160 px uses 32 (P6/P7 grids then have ceil(160/64) = 3 and ceil(160/128) = 2 cells).
 * - Normalisation: (v/255 - mean) / std per RGB channel (torchvision ImageNet statistics by
 *   default). Grey images are replicated to 3 channels.
 * - Order and flips are a function of (seed, epoch): the same seed gives the same batches
 *   regardless of decode timing. Decoding runs in sharp (libvips worker threads), `prefetchBatches`
 *   batches ahead of the consumer, so a training step does not wait on I/O.
 * - EXIF orientation is applied (as detectron2's `read_image`); the decoded size must then match
 *   the annotation's width/height.
 * - Decoded, resized images are cached in memory (before flipping and normalisation, as uint8)
 *   when the whole dataset fits `cacheMaxBytes`; MNIST-Det (2000 grey 160 px images, 51 MB) does.
 */
import sharp from 'sharp';
import { UserError } from '../util/errors';
import { shuffle } from '../util/seed';
import { derivedRng } from './seeds';
import { DetectionDataset, ImageEntry } from './types';

export interface InputConfig {
  /** Long side after resizing (and the cap when minSizePx is set). */
  maxSizePx: number;
  /** Short side target (detectron2 MIN_SIZE); the long side still stays <= maxSizePx. */
  minSizePx?: number;
  pad: 'square' | 'batch';
  /** Padded sides are rounded up to a multiple of this (128 = P7 stride). */
  sizeDivisor: number;
  /** RGB mean / std on the [0, 1] scale. */
  mean: [number, number, number];
  std: [number, number, number];
}

export interface LoaderConfig extends InputConfig {
  batchSize: number;
  /** Shuffle the order each epoch. */
  shuffle: boolean;
  /** Probability of a horizontal flip per image (0 for evaluation). */
  flipProb: number;
  /** Keep only full batches (training). */
  dropLast: boolean;
  seed: number;
  /** Batches decoded ahead of the consumer. */
  prefetchBatches: number;
  /** Cache decoded resized images: true, false, or 'auto' (when the dataset fits cacheMaxBytes). */
  cache: boolean | 'auto';
  cacheMaxBytes: number;
}

/** torchvision's ImageNet statistics. */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export const DEFAULT_LOADER: Omit<LoaderConfig, 'maxSizePx'> = {
  pad: 'square',
  sizeDivisor: 128,
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
  batchSize: 4,
  shuffle: true,
  flipProb: 0.5,
  dropLast: true,
  seed: 0,
  prefetchBatches: 3,
  cache: 'auto',
  cacheMaxBytes: 512 * 1024 * 1024,
};

/**
 * Inputs for MNIST-Det's 160 px canvases: fixed 160 x 160, no flips — digits are not mirror
 * symmetric (a mirrored 2 reads as a 5), so flipping would teach contradictory labels.
 */
export const MNIST_DET_INPUT: Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'> = { maxSizePx: 160, pad: 'square', sizeDivisor: 32, flipProb: 0 };
/** The paper's COCO setting (RetinaNet at scale 600): short side 600, long side <= 1000. */
export const PAPER_COCO_INPUT: Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'> = { minSizePx: 600, maxSizePx: 1000, pad: 'batch', sizeDivisor: 128 };

export function loaderConfig(overrides: Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'>): LoaderConfig {
  const cfg: LoaderConfig = { ...DEFAULT_LOADER, ...overrides };
  const bad: string[] = [];
  const posInt = (k: keyof LoaderConfig): void => {
    const v = cfg[k] as number;
    if (!Number.isInteger(v) || v < 1) bad.push(`${k} must be a positive integer, got ${v}`);
  };
  posInt('maxSizePx');
  posInt('batchSize');
  posInt('sizeDivisor');
  posInt('prefetchBatches');
  if (cfg.minSizePx !== undefined && !(cfg.minSizePx > 0)) bad.push(`minSizePx must be > 0, got ${cfg.minSizePx}`);
  if (!(cfg.flipProb >= 0 && cfg.flipProb <= 1)) bad.push(`flipProb must be in [0, 1], got ${cfg.flipProb}`);
  if (cfg.pad !== 'square' && cfg.pad !== 'batch') bad.push(`pad must be 'square' or 'batch', got ${String(cfg.pad)}`);
  if (cfg.std.length !== 3 || cfg.std.some((s) => !(s > 0))) bad.push('std must be 3 positive numbers');
  if (cfg.mean.length !== 3) bad.push('mean must be 3 numbers');
  if (bad.length) throw new UserError(`invalid input pipeline config:\n  ${bad.join('\n  ')}`);
  return cfg;
}

// ------------------------------------------------------------------------------------------------
// Geometry

export function roundUp(v: number, multiple: number): number {
  return Math.ceil(v / multiple) * multiple;
}

/** Resized size of an image (aspect ratio kept up to rounding to whole pixels). */
export function resizedSize(widthPx: number, heightPx: number, cfg: Pick<InputConfig, 'maxSizePx' | 'minSizePx'>): { widthPx: number; heightPx: number } {
  let scale = cfg.maxSizePx / Math.max(widthPx, heightPx);
  if (cfg.minSizePx !== undefined) scale = Math.min(cfg.minSizePx / Math.min(widthPx, heightPx), scale);
  return { widthPx: Math.max(1, Math.round(widthPx * scale)), heightPx: Math.max(1, Math.round(heightPx * scale)) };
}

/** Where an image went: enough to map boxes between original and input pixels. */
export interface ImageTransform {
  origWidthPx: number;
  origHeightPx: number;
  resizedWidthPx: number;
  resizedHeightPx: number;
  /** resized / original, per axis. */
  scaleX: number;
  scaleY: number;
  flipped: boolean;
}

/** Original-image boxes -> input-image boxes (resize, then flip within the resized width). */
export function boxesToInput(boxes: Float32Array, t: ImageTransform): Float32Array {
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    let x1 = boxes[i] * t.scaleX;
    let x2 = boxes[i + 2] * t.scaleX;
    if (t.flipped) {
      const f1 = t.resizedWidthPx - x2;
      x2 = t.resizedWidthPx - x1;
      x1 = f1;
    }
    out[i] = x1;
    out[i + 1] = boxes[i + 1] * t.scaleY;
    out[i + 2] = x2;
    out[i + 3] = boxes[i + 3] * t.scaleY;
  }
  return out;
}

/**
 * Input-image boxes (e.g. detections) -> original-image pixels: undo the flip, undo the resize,
 * clip to the original image (parts over the padding are cut off).
 */
export function boxesToOriginal(boxes: Float32Array, t: ImageTransform): Float32Array {
  const out = new Float32Array(boxes.length);
  const clip = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  for (let i = 0; i < boxes.length; i += 4) {
    let x1 = boxes[i];
    let x2 = boxes[i + 2];
    if (t.flipped) {
      const f1 = t.resizedWidthPx - x2;
      x2 = t.resizedWidthPx - x1;
      x1 = f1;
    }
    out[i] = clip(x1 / t.scaleX, t.origWidthPx);
    out[i + 1] = clip(boxes[i + 1] / t.scaleY, t.origHeightPx);
    out[i + 2] = clip(x2 / t.scaleX, t.origWidthPx);
    out[i + 3] = clip(boxes[i + 3] / t.scaleY, t.origHeightPx);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Decoding

/** A decoded, resized image: uint8 HWC with 1 (grey) or 3 (RGB) channels. */
export interface DecodedImage {
  data: Uint8Array;
  widthPx: number;
  heightPx: number;
  channels: 1 | 3;
}

/** Decode `entry`'s file, apply EXIF orientation and resize to `widthPx` x `heightPx`. */
export async function decodeResized(entry: ImageEntry, widthPx: number, heightPx: number): Promise<DecodedImage> {
  const meta = await sharp(entry.filePath)
    .metadata()
    .catch((err: Error) => {
      throw new UserError(`cannot read image ${entry.filePath}: ${err.message}`, 'the file may be missing, truncated or not an image');
    });
  const w = meta.autoOrient?.width ?? meta.width;
  const h = meta.autoOrient?.height ?? meta.height;
  if (w !== entry.widthPx || h !== entry.heightPx) {
    throw new UserError(
      `image ${entry.fileName} (id ${entry.id}) is ${w}x${h} on disk but ${entry.widthPx}x${entry.heightPx} in the annotations`,
      'the annotation file and the image folder do not belong together, or the image was re-saved at another size',
    );
  }
  const grey = meta.channels !== undefined && meta.channels <= 2 && meta.space === 'b-w';
  try {
    const { data, info } = await sharp(entry.filePath)
      .autoOrient()
      .removeAlpha()
      .resize(widthPx, heightPx, { fit: 'fill', kernel: 'linear' })
      .toColourspace(grey ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 && info.channels !== 3) throw new Error(`unexpected ${info.channels} channels after conversion`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), widthPx: info.width, heightPx: info.height, channels: info.channels };
  } catch (err) {
    throw new UserError(`cannot decode image ${entry.filePath}: ${(err as Error).message}`, 'the file may be truncated or not an image');
  }
}

// ------------------------------------------------------------------------------------------------
// Batches

export interface BatchItem extends ImageTransform {
  /** Index into dataset.images. */
  index: number;
  imageId: number;
  /** 4N boxes in input pixels (after resize and flip). */
  boxes: Float32Array;
  classIdx: Int32Array;
  ignore: Uint8Array;
}

export interface Batch {
  /** NHWC float32, normalised, zero padding. */
  images: Float32Array;
  shape: [number, number, number, number];
  items: BatchItem[];
  epoch: number;
  /** Batch number within the epoch. */
  step: number;
}

/** Per-channel lookup tables v (0..255) -> (v/255 - mean) / std. */
function normalisationTables(mean: number[], std: number[]): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = (v / 255 - mean[c]) / std[c];
    return t;
  });
}

/** Write one decoded image into slot n of an NHWC batch, flipping horizontally if asked. */
function writeIntoBatch(out: Float32Array, n: number, batchH: number, batchW: number, img: DecodedImage, flipped: boolean, luts: Float32Array[]): void {
  const [l0, l1, l2] = luts;
  const base = n * batchH * batchW * 3;
  const { data, widthPx: w, heightPx: h, channels } = img;
  for (let y = 0; y < h; y++) {
    const row = base + y * batchW * 3;
    for (let x = 0; x < w; x++) {
      const sx = flipped ? w - 1 - x : x;
      const o = row + x * 3;
      if (channels === 1) {
        const v = data[y * w + sx];
        out[o] = l0[v];
        out[o + 1] = l1[v];
        out[o + 2] = l2[v];
      } else {
        const s = (y * w + sx) * 3;
        out[o] = l0[data[s]];
        out[o + 1] = l1[data[s + 1]];
        out[o + 2] = l2[data[s + 2]];
      }
    }
  }
}

/**
 * Batches of one dataset. `batches(epoch)` is an async iterator with prefetching:
 *
 *   const loader = new DetectionLoader(ds, { ...MNIST_DET_INPUT, batchSize: 4, seed: 1 });
 *   for await (const batch of loader.batches(epoch)) { ... toTensor(batch) ... }
 */
export class DetectionLoader {
  readonly config: LoaderConfig;
  readonly dataset: DetectionDataset;
  private readonly cache = new Map<number, DecodedImage>();
  private readonly useCache: boolean;
  private readonly luts: Float32Array[];
  private readonly sizes: { widthPx: number; heightPx: number }[];

  constructor(dataset: DetectionDataset, config: Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'>) {
    this.dataset = dataset;
    this.config = loaderConfig(config);
    if (dataset.images.length === 0) throw new UserError(`dataset ${dataset.name} has no images`);
    this.sizes = dataset.images.map((im) => resizedSize(im.widthPx, im.heightPx, this.config));
    const bytes = this.sizes.reduce((s, z) => s + z.widthPx * z.heightPx * 3, 0);
    this.useCache = this.config.cache === 'auto' ? bytes <= this.config.cacheMaxBytes : this.config.cache;
    this.luts = normalisationTables(this.config.mean, this.config.std);
  }

  /** Whether decoded images are kept in memory. */
  get caching(): boolean {
    return this.useCache;
  }

  /** Batches per epoch. */
  get numBatches(): number {
    const n = this.dataset.images.length;
    return this.config.dropLast ? Math.floor(n / this.config.batchSize) : Math.ceil(n / this.config.batchSize);
  }

  /** The fixed input side for pad 'square'. */
  get squareSidePx(): number {
    return roundUp(this.config.maxSizePx, this.config.sizeDivisor);
  }

  /** Image indices of an epoch, in order (seeded shuffle when `shuffle`). */
  epochOrder(epoch: number): Int32Array {
    const idx = Array.from({ length: this.dataset.images.length }, (_, i) => i);
    if (this.config.shuffle) shuffle(idx, derivedRng(this.config.seed, 'order', epoch));
    return Int32Array.from(idx);
  }

  /** Flip decision per position of an epoch's order. */
  epochFlips(epoch: number): Uint8Array {
    const rng = derivedRng(this.config.seed, 'flip', epoch);
    const flips = new Uint8Array(this.dataset.images.length);
    for (let i = 0; i < flips.length; i++) flips[i] = rng() < this.config.flipProb ? 1 : 0;
    return flips;
  }

  /** Decoded, resized image `index` (cached when caching is on). */
  async decode(index: number): Promise<DecodedImage> {
    const hit = this.cache.get(index);
    if (hit) return hit;
    const size = this.sizes[index];
    const img = await decodeResized(this.dataset.images[index], size.widthPx, size.heightPx);
    if (this.useCache) this.cache.set(index, img);
    return img;
  }

  /** Build the batch of the given dataset indices and flips. */
  async makeBatch(indices: ArrayLike<number>, flips: ArrayLike<number>, epoch = 0, step = 0): Promise<Batch> {
    const n = indices.length;
    const decoded = await Promise.all(Array.from(indices, (i) => this.decode(i)));
    let batchH: number;
    let batchW: number;
    if (this.config.pad === 'square') {
      batchH = batchW = this.squareSidePx;
    } else {
      batchH = roundUp(Math.max(...decoded.map((d) => d.heightPx)), this.config.sizeDivisor);
      batchW = roundUp(Math.max(...decoded.map((d) => d.widthPx)), this.config.sizeDivisor);
    }
    const images = new Float32Array(n * batchH * batchW * 3);
    const items: BatchItem[] = [];
    for (let k = 0; k < n; k++) {
      const index = indices[k];
      const entry = this.dataset.images[index];
      const img = decoded[k];
      const flipped = flips[k] === 1;
      writeIntoBatch(images, k, batchH, batchW, img, flipped, this.luts);
      const t: ImageTransform = {
        origWidthPx: entry.widthPx,
        origHeightPx: entry.heightPx,
        resizedWidthPx: img.widthPx,
        resizedHeightPx: img.heightPx,
        scaleX: img.widthPx / entry.widthPx,
        scaleY: img.heightPx / entry.heightPx,
        flipped,
      };
      items.push({ ...t, index, imageId: entry.id, boxes: boxesToInput(entry.boxes, t), classIdx: entry.classIdx, ignore: entry.ignore });
    }
    return { images, shape: [n, batchH, batchW, 3], items, epoch, step };
  }

  /**
   * The batches of `epoch`, decoded up to `prefetchBatches` ahead. Breaking out of the loop early
   * is safe (outstanding decodes finish in the background and are discarded).
   */
  async *batches(epoch = 0): AsyncGenerator<Batch> {
    const order = this.epochOrder(epoch);
    const flips = this.epochFlips(epoch);
    const bs = this.config.batchSize;
    const total = this.numBatches;
    const start = (step: number): Promise<Batch> => {
      const lo = step * bs;
      const hi = Math.min(lo + bs, order.length);
      const p = this.makeBatch(order.subarray(lo, hi), flips.subarray(lo, hi), epoch, step);
      // Avoid an unhandled rejection if the consumer stops before awaiting this batch; the
      // error still surfaces when (if) it is awaited.
      p.catch(() => undefined);
      return p;
    };
    const pending: Promise<Batch>[] = [];
    let next = 0;
    while (next < total && pending.length < this.config.prefetchBatches) pending.push(start(next++));
    while (pending.length) {
      const batch = await pending.shift()!;
      if (next < total) pending.push(start(next++));
      yield batch;
    }
  }

  /** Decode every image once (fills the cache); returns the number of images decoded. */
  async warmCache(): Promise<number> {
    if (!this.useCache) return 0;
    const n = this.dataset.images.length;
    const chunk = 16;
    for (let i = 0; i < n; i += chunk) {
      await Promise.all(Array.from({ length: Math.min(chunk, n - i) }, (_, k) => this.decode(i + k)));
    }
    return n;
  }
}

/** A loader for evaluation/inference: dataset order, no flips, the last partial batch kept. */
export function inferenceLoader(dataset: DetectionDataset, config: Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'>): DetectionLoader {
  return new DetectionLoader(dataset, { ...config, shuffle: false, flipProb: 0, dropLast: false });
}
