/**
 * Boxes and labels drawn on an image (ground truth or detections), as a PNG: an SVG overlay
 * composited with sharp. Text needs a system font (Debian: fonts-dejavu-core).
 *
 * The image is turned upright by its EXIF orientation first, as the loader does (pipeline.ts
 * decodeResized), so boxes land where the annotations put them. Line width and font size grow
 * with the image, so labels stay readable on a 200 px thumbnail and on a 2000 px photo.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { UserError } from '../util/errors';
import { writeFileAtomicSync } from '../util/atomic';
import { DetectionDataset } from './types';
import { Batch } from './pipeline';

/** Ten well-separated colours (Tableau 10), cycled by class index. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export interface DrawOptions {
  /** Text per box (e.g. class name, or "dog 0.87"); omitted = no text. */
  labels?: string[];
  /** Class index per box, selects the colour (default: box index). */
  classIdx?: ArrayLike<number>;
  /** 1 = ignore region (crowd / difficult / dropped): drawn dashed. */
  ignore?: ArrayLike<number>;
  /** Enlarge the image (and boxes) by this factor first, e.g. 3 for 160 px MNIST-Det images. */
  scale?: number;
  /** Stroke width in output pixels (default: drawSizes of the output size). */
  lineWidthPx?: number;
  /** Font size in output pixels (default: drawSizes of the output size). */
  fontSizePx?: number;
}

/**
 * Default stroke width and font size for an output image: about 1/40 of the short side for text
 * (at least 11 px, at most 48 px) and 1/300 for lines (2 to 8 px).
 */
export function drawSizes(widthPx: number, heightPx: number): { lineWidthPx: number; fontSizePx: number } {
  const side = Math.min(widthPx, heightPx);
  return {
    lineWidthPx: Math.min(8, Math.max(2, Math.round(side / 300))),
    fontSizePx: Math.min(48, Math.max(11, Math.round(side / 40))),
  };
}

function unreadable(image: string | Buffer, err: unknown): UserError {
  const what = typeof image === 'string' ? image : 'the image';
  return new UserError(`cannot draw ${what}: ${(err as Error).message.trim()}`, 'the file may be truncated, corrupt or not an image');
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

/**
 * Draw `boxes` (4N, x1 y1 x2 y2 in the image's own pixels) on the image file or encoded buffer.
 * Returns PNG bytes.
 */
export async function drawBoxes(image: string | Buffer, boxes: Float32Array | number[], options: DrawOptions = {}): Promise<Buffer> {
  const scale = options.scale ?? 1;
  const meta = await sharp(image).metadata().catch((err: unknown) => {
    throw unreadable(image, err);
  });
  // Upright size: EXIF orientations 5-8 swap width and height.
  const w0 = meta.autoOrient?.width ?? meta.width;
  const h0 = meta.autoOrient?.height ?? meta.height;
  if (!w0 || !h0) throw unreadable(image, new Error('no image size'));
  const width = Math.round(w0 * scale);
  const height = Math.round(h0 * scale);
  let base = sharp(image).autoOrient().removeAlpha().toColourspace('srgb');
  // Nearest neighbour keeps small synthetic images crisp when enlarged.
  if (scale !== 1) base = base.resize(width, height, { fit: 'fill', kernel: scale > 1 ? 'nearest' : 'lanczos3' });
  const sizes = drawSizes(width, height);
  const lw = options.lineWidthPx ?? sizes.lineWidthPx;
  const fs = options.fontSizePx ?? sizes.fontSizePx;
  const n = boxes.length / 4;
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const x1 = boxes[4 * i] * scale;
    const y1 = boxes[4 * i + 1] * scale;
    const x2 = boxes[4 * i + 2] * scale;
    const y2 = boxes[4 * i + 3] * scale;
    const colour = PALETTE[(options.classIdx ? options.classIdx[i] : i) % PALETTE.length];
    const dash = options.ignore && options.ignore[i] ? ` stroke-dasharray="${3 * lw},${2 * lw}"` : '';
    parts.push(
      `<rect x="${x1.toFixed(2)}" y="${y1.toFixed(2)}" width="${Math.max(0, x2 - x1).toFixed(2)}" height="${Math.max(0, y2 - y1).toFixed(2)}" ` +
        `fill="none" stroke="${colour}" stroke-width="${lw}"${dash}/>`,
    );
    const text = options.labels?.[i];
    if (text) {
      const tw = Math.ceil(text.length * fs * 0.62) + 4;
      const th = fs + 4;
      // Label above the box, or inside its top edge when the box touches the image top.
      const ty = y1 - th >= 0 ? y1 - th : y1;
      const tx = Math.min(Math.max(0, x1), Math.max(0, width - tw));
      parts.push(
        `<rect x="${tx.toFixed(2)}" y="${ty.toFixed(2)}" width="${tw}" height="${th}" fill="${colour}"/>` +
          `<text x="${(tx + 2).toFixed(2)}" y="${(ty + fs).toFixed(2)}" font-family="DejaVu Sans, sans-serif" font-size="${fs}" fill="#ffffff">${escapeXml(text)}</text>`,
      );
    }
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
  const resized = await base.png().toBuffer().catch((err: unknown) => {
    throw unreadable(image, err);
  });
  return sharp(resized)
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer();
}

/** Image `imageIndex` of a dataset with its ground-truth boxes and class names. */
export async function drawDatasetImage(ds: DetectionDataset, imageIndex: number, options: Omit<DrawOptions, 'labels' | 'classIdx' | 'ignore'> = {}): Promise<Buffer> {
  const im = ds.images[imageIndex];
  if (!im) throw new RangeError(`image index ${imageIndex} out of range (dataset has ${ds.images.length})`);
  return drawBoxes(im.filePath, im.boxes, {
    ...options,
    classIdx: im.classIdx,
    ignore: im.ignore,
    labels: Array.from(im.classIdx, (c) => ds.categories[c].name),
  });
}

/** A detection in COCO results form (lib/detect/postprocess.ts CocoResult). */
export interface DrawnDetection {
  image_id: number;
  category_id: number;
  bbox: readonly number[];
  score: number;
}

/**
 * Each of the first `maxImages` images of `ds` with its detections scoring >= `minScore`
 * ("<class> 0.87" labels, coloured by class), written as `<outDir>/<image file name>.png`.
 * Returns the files written.
 */
export async function drawDetections(
  ds: DetectionDataset,
  results: readonly DrawnDetection[],
  outDir: string,
  opts: { minScore?: number; maxImages?: number } = {},
): Promise<string[]> {
  const minScore = opts.minScore ?? 0.3;
  const byImage = new Map<number, DrawnDetection[]>();
  for (const r of results) {
    if (r.score < minScore) continue;
    let list = byImage.get(r.image_id);
    if (!list) byImage.set(r.image_id, (list = []));
    list.push(r);
  }
  const indexOf = new Map(ds.categories.map((c) => [c.id, c.index]));
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const im of ds.images.slice(0, opts.maxImages ?? ds.images.length)) {
    const dets = (byImage.get(im.id) ?? []).sort((a, b) => a.score - b.score); // best drawn last, on top
    const boxes = new Float32Array(4 * dets.length);
    dets.forEach((d, k) => boxes.set([d.bbox[0], d.bbox[1], d.bbox[0] + d.bbox[2], d.bbox[1] + d.bbox[3]], 4 * k));
    const classIdx = dets.map((d) => indexOf.get(d.category_id) ?? 0);
    const png = await drawBoxes(im.filePath, boxes, {
      classIdx,
      labels: dets.map((d, k) => `${ds.categories[classIdx[k]]?.name ?? d.category_id} ${d.score.toFixed(2)}`),
    });
    const file = path.join(outDir, `${path.basename(im.fileName).replace(/\.[^.]+$/, '')}.png`);
    writeFileAtomicSync(file, png);
    written.push(file);
  }
  return written;
}

/**
 * Item `k` of a batch as the network sees it (normalisation undone, padding shown, flip applied),
 * with its input-pixel boxes: a check that pixels and boxes went through the pipeline together.
 */
export async function drawBatchItem(
  batch: Batch,
  k: number,
  norm: { mean: readonly number[]; std: readonly number[] },
  options: Omit<DrawOptions, 'classIdx' | 'ignore'> & { classNames?: string[] } = {},
): Promise<Buffer> {
  const [n, h, w, c] = batch.shape;
  if (k < 0 || k >= n) throw new RangeError(`batch item ${k} out of range (batch of ${n})`);
  const rgb = Buffer.alloc(h * w * 3);
  const base = k * h * w * c;
  for (let i = 0; i < h * w; i++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = (batch.images[base + i * c + ch] * norm.std[ch] + norm.mean[ch]) * 255;
      rgb[i * 3 + ch] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  const png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  const item = batch.items[k];
  const labels = options.labels ?? (options.classNames ? Array.from(item.classIdx, (ci) => options.classNames![ci]) : undefined);
  return drawBoxes(png, item.boxes, { ...options, labels, classIdx: item.classIdx, ignore: item.ignore });
}
