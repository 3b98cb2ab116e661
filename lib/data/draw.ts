/**
 * Boxes and labels drawn on an image (ground truth or detections), as a PNG: an SVG overlay
 * composited with sharp. Text needs a system font (Debian: fonts-dejavu-core).
 */
import sharp from 'sharp';
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
  /** Stroke width in output pixels (default 2). */
  lineWidthPx?: number;
  /** Font size in output pixels (default 12). */
  fontSizePx?: number;
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
  const meta = await sharp(image).metadata();
  if (!meta.width || !meta.height) throw new Error('drawBoxes: cannot read the image size');
  const width = Math.round(meta.width * scale);
  const height = Math.round(meta.height * scale);
  let base = sharp(image).removeAlpha().toColourspace('srgb');
  // Nearest neighbour keeps small synthetic images crisp when enlarged.
  if (scale !== 1) base = base.resize(width, height, { fit: 'fill', kernel: scale > 1 ? 'nearest' : 'lanczos3' });
  const lw = options.lineWidthPx ?? 2;
  const fs = options.fontSizePx ?? 12;
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
  const resized = await base.png().toBuffer();
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
