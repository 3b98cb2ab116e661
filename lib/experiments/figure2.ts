/**
 * Figure 2 of the paper: detections of a MetaAnchor model at single customized anchors. For each
 * anchor (scale, ratioHW) the generator builds that anchor's functions (predictions of all five
 * levels aggregated, as in the figure), and the image's detections are drawn; the same images
 * across anchors, side by side. Wide anchors should find wide objects, tall ones tall objects.
 */
import { AnchorConfig, AnchorShape, FIGURE2_SHAPES, anchorSizePx } from '../anchors';
import { initBackend } from '../backend';
import { boxesToOriginal } from '../data/pipeline';
import { drawBoxes } from '../data/draw';
import { DetectionDataset } from '../data/types';
import { forEachImageDetections } from '../detect/detect';
import { InferenceConfig } from '../detect/postprocess';
import { inputGeometry } from '../train/config';
import { loadDatasetSpec } from '../train/datasets';
import { LoadedRun, loadRun } from '../train/run-dir';
import sharp from 'sharp';
import { UserError } from '../util/errors';

export interface AnchorPanel {
  anchor: AnchorShape;
  /** "anchor scale 1, ratio h/w 1/3" */
  caption: string;
  /** One PNG per image. */
  pngs: Buffer[];
  /** Detections drawn per image. */
  counts: number[];
}

export interface AnchorPanelOptions {
  /** Images: indices into the validation set (default the first 3). */
  imageIndices?: number[];
  /** Detections below this score are not drawn (default 0.3). */
  minScore?: number;
  /** Enlarge images (default 2); ignored when `widthPx` is given. */
  scale?: number;
  /**
   * Draw each image exactly this wide, the width it is shown at, so that box labels keep their
   * font size on screen (default: `scale`).
   */
  widthPx?: number;
}

/** Stride of the level whose anchor outline is drawn (P3, the finest; each level up doubles it). */
export const OUTLINE_STRIDE = 8;

export function ratioText(r: number): string {
  if (r >= 1) return Number.isInteger(r) ? String(r) : r.toFixed(2);
  const inv = 1 / r;
  return Math.abs(inv - Math.round(inv)) < 1e-6 ? `1/${Math.round(inv)}` : r.toFixed(2);
}

/** A MetaAnchor run folder loaded for drawing, with its validation set. The caller disposes run.detector. */
export async function openRunForFigures(runDir: string): Promise<{ run: LoadedRun; val: DetectionDataset }> {
  await initBackend();
  const run = loadRun(runDir);
  if (run.detector.config.method !== 'metaanchor') {
    run.detector.dispose();
    throw new UserError('customized anchors need a MetaAnchor model', 'pick a run trained with method "metaanchor"');
  }
  if (!run.config) throw new UserError(`${runDir} has no config.json`, 'use a run folder written by `metaanchor train`');
  return { run, val: await loadDatasetSpec(run.config.val, 'val') };
}

/** Validation images by index, checked. */
export function pickImages(val: DetectionDataset, indices: readonly number[]): DetectionDataset {
  for (const i of indices) {
    if (!(Number.isInteger(i) && i >= 0 && i < val.images.length)) throw new UserError(`image index ${i} is out of range`, `use 0..${val.images.length - 1}`);
  }
  return { ...val, images: indices.map((i) => val.images[i]) };
}

export interface DrawDetectionsOptions {
  anchors: AnchorConfig;
  /** Post-processing (default: the run's detector family's). */
  inference?: InferenceConfig;
  /** Detections below this score are not drawn (default 0.3). */
  minScore?: number;
  /** Enlarge images (default 2); ignored when `widthPx` is given. */
  scale?: number;
  /** Draw each image exactly this wide (labels keep their size on screen). */
  widthPx?: number;
  /** Also draw this anchor's outline at P3 (dashed, centred, labelled "anchor"). */
  outline?: AnchorShape;
}

/** `run`'s detections on every image of `images` (original coordinates), drawn with "class score" labels. */
export async function drawRunDetections(
  run: LoadedRun,
  images: DetectionDataset,
  options: DrawDetectionsOptions,
): Promise<{ pngs: Buffer[]; counts: number[] }> {
  const cfg = run.config;
  if (!cfg) throw new UserError('the run has no config.json', 'use a run folder written by `metaanchor train`');
  const minScore = options.minScore ?? 0.3;
  const n = images.images.length;
  const pngs: Buffer[] = new Array(n);
  const counts: number[] = new Array(n).fill(0);
  const jobs: Promise<void>[] = [];
  await forEachImageDetections(
    run.detector,
    images,
    {
      anchors: options.anchors,
      input: inputGeometry(cfg),
      inference: options.inference,
      batchSize: n,
    },
    (img, dets) => {
      const keep: number[] = [];
      for (let j = 0; j < dets.scores.length; j++) if (dets.scores[j] >= minScore) keep.push(j);
      const all = boxesToOriginal(dets.boxes, img.transform);
      const image = images.images[img.index];
      const outline = options.outline ? [outlineBox(options.outline, img.transform.scaleX, img.transform.scaleY, image.widthPx, image.heightPx)] : [];
      const boxes = new Float32Array((keep.length + outline.length) * 4);
      keep.forEach((j, k) => boxes.set(all.subarray(4 * j, 4 * j + 4), 4 * k));
      outline.forEach((b, k) => boxes.set(b, 4 * (keep.length + k)));
      counts[img.index] = keep.length;
      const scale = options.widthPx ? options.widthPx / image.widthPx : (options.scale ?? 2);
      jobs.push(
        drawBoxes(image.filePath, boxes, {
          scale,
          // The outline takes the last palette colour and a dashed stroke.
          classIdx: [...keep.map((j) => dets.classes[j]), ...outline.map(() => 9)],
          ignore: [...keep.map(() => 0), ...outline.map(() => 1)],
          labels: [...keep.map((j) => `${images.categories[dets.classes[j]].name} ${dets.scores[j].toFixed(2)}`), ...outline.map(() => 'anchor')],
          fontSizePx: 11,
          lineWidthPx: 2,
        }).then((png) => {
          pngs[img.index] = png;
        }),
      );
    },
  );
  await Promise.all(jobs);
  return { pngs, counts };
}

/**
 * The anchor's outline at P3 in original-image pixels, centred on the image: `scaleX`/`scaleY` map
 * original to input pixels (the pipeline's transform).
 */
export function outlineBox(anchor: AnchorShape, scaleX: number, scaleY: number, widthPx: number, heightPx: number): [number, number, number, number] {
  const size = anchorSizePx(anchor, OUTLINE_STRIDE);
  const w = size.widthPx / scaleX;
  const h = size.heightPx / scaleY;
  return [widthPx / 2 - w / 2, heightPx / 2 - h / 2, widthPx / 2 + w / 2, heightPx / 2 + h / 2];
}

/** "anchor scale 1, ratio h/w 1/3" */
export function anchorCaption(anchor: AnchorShape): string {
  return `anchor scale ${Number(anchor.scale.toFixed(3))}, ratio h/w ${ratioText(anchor.ratioHW)}`;
}

/** "2 detections", "1 detection", "no detection" */
export function detectionsText(n: number): string {
  return n === 0 ? 'no detection' : `${n} detection${n === 1 ? '' : 's'}`;
}

/** Detections of `run` at each single anchor on the same images, drawn. */
export async function customAnchorPanels(
  run: LoadedRun,
  val: DetectionDataset,
  anchors: readonly AnchorShape[] = FIGURE2_SHAPES,
  options: AnchorPanelOptions = {},
): Promise<AnchorPanel[]> {
  const sub = pickImages(val, options.imageIndices ?? [0, 1, 2]);
  if (run.detector.isDisposed) {
    throw new UserError("this run's model was disposed", 'rerun the cell that opened the run (openRunForFigures), or do not dispose it while drawing');
  }
  const panels: AnchorPanel[] = [];
  for (const anchor of anchors) {
    if (!(anchor.scale > 0 && anchor.ratioHW > 0))
      throw new UserError(`anchor scale ${anchor.scale}, ratio ${anchor.ratioHW} is invalid`, 'scale and ratio must be positive numbers');
    const { pngs, counts } = await drawRunDetections(run, sub, {
      anchors: { name: 'custom', shapes: [anchor], standardBoxP3: run.standardBoxP3 },
      minScore: options.minScore,
      scale: options.scale,
      widthPx: options.widthPx,
      outline: anchor,
    });
    panels.push({ anchor, caption: anchorCaption(anchor), pngs, counts });
  }
  return panels;
}

export interface ExplorerGridOptions extends AnchorPanelOptions {
  /** Anchor scales offered (default 0.5, 1, 2). */
  scales?: number[];
  /** Anchor ratios h/w offered (default 1/4, 1/3, 1/2, 1, 2, 3, 4). */
  ratiosHW?: number[];
  /** JPEG quality of the stored images (default 80): every panel is kept in the notebook. */
  jpegQuality?: number;
}

/**
 * The offline anchor explorer's panels: detections at every (scale, ratio) of a grid, on the same
 * images, with each anchor's outline (for lib/notebook/explorer.ts; `at` indexes scales, ratios).
 */
export async function anchorExplorerPanels(
  run: LoadedRun,
  val: DetectionDataset,
  options: ExplorerGridOptions = {},
): Promise<{
  panels: { at: [number, number]; caption: string; images: { data: Buffer; caption: string }[] }[];
  axes: [{ label: string; values: string[] }, { label: string; values: string[] }];
}> {
  const scales = options.scales ?? [0.5, 1, 2];
  const ratios = options.ratiosHW ?? [1 / 4, 1 / 3, 1 / 2, 1, 2, 3, 4];
  const shapes = scales.flatMap((scale) => ratios.map((ratioHW) => ({ scale, ratioHW })));
  const drawn = await customAnchorPanels(run, val, shapes, options);
  const quality = options.jpegQuality ?? 80;
  const jpegs = await Promise.all(drawn.map((p) => Promise.all(p.pngs.map((png) => sharp(png).jpeg({ quality }).toBuffer()))));
  return {
    panels: drawn.map((p, k) => ({
      at: [Math.floor(k / ratios.length), k % ratios.length] as [number, number],
      caption: p.caption,
      images: jpegs[k].map((data, i) => ({ data, caption: `image ${i}: ${detectionsText(p.counts[i])}` })),
    })),
    axes: [
      { label: 'anchor scale', values: scales.map((s) => String(s)) },
      { label: 'ratio h/w', values: ratios.map((r) => ratioText(r)) },
    ],
  };
}
