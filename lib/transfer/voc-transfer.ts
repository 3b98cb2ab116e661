/**
 * Transfer evaluation (paper Sec. 4.1.3, end; Table 5): a detector trained on one dataset is evaluated
 * with the PASCAL VOC 2007 metric (11-point AP at IoU > 0.5) on another dataset with the same
 * classes but a different box distribution, leaving some classes out of the mean (the paper
 * leaves out "sofa").
 *
 * On the embedded data: the source is MNIST-Det; the target is MNIST-Det's "shifted" variant
 * (larger boxes, skewed wide, heavier ratio tail), exported in VOCdevkit layout and read back
 * through the VOC loader, so the whole VOC path is exercised.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig } from '../anchors';
import { ensureDefaultDataset, dataRoot, loadMnistDet } from '../data/mnist-det';
import { LoaderConfig } from '../data/pipeline';
import { CategoryInfo, DetectionDataset } from '../data/types';
import { loadVoc, writeVoc } from '../data/voc';
import { detectDataset } from '../detect/detect';
import { CocoResult } from '../detect/postprocess';
import { VocDetection, VocEvalResult, VocGroundTruthBox, VocMetric, evaluateVoc } from '../eval/voc';
import { AnyDetector } from '../model/yolo';
import { UserError } from '../util/errors';
import { ClassMatch, alignTargetClasses } from './class-map';

/** Continuous (x1, y1, x2, y2) -> the devkit's inclusive 1-based [xmin, ymin, xmax, ymax] (lib/data/voc.ts). */
export function toVocBox(x1: number, y1: number, x2: number, y2: number): [number, number, number, number] {
  return [x1 + 1, y1 + 1, x2, y2];
}

/** The image key of a dataset image in VOC terms: its file name without extension. */
export function vocImageKey(fileName: string): string {
  return path.basename(fileName).replace(/\.[^.]+$/, '');
}

/** Ground truth of a dataset for evaluateVoc; non-normal boxes (crowd, difficult, dropped) are difficult. */
export function vocGroundTruth(ds: DetectionDataset): VocGroundTruthBox[] {
  const out: VocGroundTruthBox[] = [];
  for (const im of ds.images) {
    for (let k = 0; k < im.classIdx.length; k++) {
      out.push({
        image: vocImageKey(im.fileName),
        className: ds.categories[im.classIdx[k]].name,
        bbox: toVocBox(im.boxes[4 * k], im.boxes[4 * k + 1], im.boxes[4 * k + 2], im.boxes[4 * k + 3]),
        difficult: im.ignore[k] !== 0,
      });
    }
  }
  return out;
}

export interface VocTransferOptions {
  anchors: AnchorConfig;
  input: Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'>;
  /** Class names left out of the mean (Table 5: "sofa"). */
  leaveOut: readonly string[];
  metric?: VocMetric;
  maxImages?: number;
  /**
   * The classes the detector was trained on (the run's categories). Given, the target's classes are
   * matched to them by name (and COCO -> VOC names, ./class-map.ts), so a COCO model scores on VOC;
   * omitted, detector class i is taken to be the target's class i.
   */
  sourceCategories?: readonly CategoryInfo[];
}

/** A transfer target as the detector sees it: class i of `dataset` is detector class i. */
export interface TransferTarget {
  dataset: DetectionDataset;
  /** The target's classes in the mean (all but the left-out ones). */
  classes: string[];
  /** How the target's classes were matched to the detector's (when matched by name). */
  matches?: ClassMatch[];
}

/**
 * `target` (its first `maxImages` images) in the detector's class order: matched by name to
 * `sourceCategories` when given (./class-map.ts), else by position, which needs as many classes as
 * the detector has (`numClasses`).
 */
export function transferTarget(
  target: DetectionDataset,
  numClasses: number,
  opts: Pick<VocTransferOptions, 'leaveOut' | 'sourceCategories' | 'maxImages'>,
): TransferTarget {
  const names = target.categories.map((c) => c.name);
  for (const c of opts.leaveOut) {
    if (!names.includes(c)) throw new UserError(`class "${c}" to leave out is not a class of ${target.name}`, `classes: ${names.join(', ')}`);
  }
  let classes = names.filter((n) => !opts.leaveOut.includes(n));
  let matches: ClassMatch[] | undefined;
  if (opts.sourceCategories) {
    const aligned = alignTargetClasses(target, opts.sourceCategories, opts.leaveOut);
    ({ dataset: target, classes, matches } = aligned);
  } else if (numClasses !== names.length) {
    throw new UserError(
      `the detector has ${numClasses} classes and ${target.name} has ${names.length}`,
      "pass the run's categories (sourceCategories) to match the target's classes by name",
    );
  }
  if (classes.length === 0) {
    throw new UserError(
      `every class of ${target.name} is left out (${opts.leaveOut.join(', ')}): there is no class to average`,
      'leave out fewer classes (--leave-out)',
    );
  }
  const dataset = opts.maxImages && opts.maxImages < target.images.length ? { ...target, images: target.images.slice(0, opts.maxImages) } : target;
  return { dataset, classes, ...(matches ? { matches } : {}) };
}

/** The VOC metric of COCO-style results (category ids of `t.dataset`) on a transfer target. */
export function scoreVocTransfer(t: TransferTarget, results: readonly CocoResult[], metric: VocMetric = 'voc07'): VocEvalResult {
  const ds = t.dataset;
  const byId = new Map(ds.images.map((im) => [im.id, im]));
  const nameOf = new Map(ds.categories.map((c) => [c.id, c.name]));
  const detections: VocDetection[] = results.map((r) => ({
    image: vocImageKey(byId.get(r.image_id)!.fileName),
    className: nameOf.get(r.category_id)!,
    score: r.score,
    bbox: toVocBox(r.bbox[0], r.bbox[1], r.bbox[0] + r.bbox[2], r.bbox[1] + r.bbox[3]),
  }));
  return evaluateVoc({ classes: t.classes, images: ds.images.map((im) => vocImageKey(im.fileName)), groundTruth: vocGroundTruth(ds), detections }, { metric });
}

/** Detect on `target` and evaluate with the VOC metric over its classes minus `leaveOut`. */
export async function evaluateVocTransfer(detector: AnyDetector, target: DetectionDataset, opts: VocTransferOptions): Promise<VocEvalResult> {
  const t = transferTarget(target, detector.config.numClasses, opts);
  const results = await detectDataset(detector, t.dataset, { anchors: opts.anchors, input: opts.input });
  return scoreVocTransfer(t, results, opts.metric ?? 'voc07');
}

/**
 * The Table 5 target on embedded data: MNIST-Det "shifted" (val split), written once in VOCdevkit
 * layout under data/mnist-det-shifted-voc/MNISTDET and loaded back with the VOC loader.
 */
export async function shiftedVocTarget(opts: { imageSet?: string } = {}): Promise<DetectionDataset> {
  const imageSet = opts.imageSet ?? 'test';
  const outDir = path.join(dataRoot(), 'mnist-det-shifted-voc', 'MNISTDET');
  const marker = path.join(outDir, 'ImageSets', 'Main', `${imageSet}.txt`);
  // The export records which generated dataset it came from; a changed generator or preset rebuilds it.
  const paths = await ensureDefaultDataset({ preset: 'shifted' });
  const source = JSON.stringify({ version: paths.manifest.version, config: paths.manifest.config });
  const sourceFile = path.join(outDir, SOURCE_FILE);
  const current = fs.existsSync(sourceFile) ? fs.readFileSync(sourceFile, 'utf8') : '';
  if (!fs.existsSync(marker) || current !== source) {
    const staging = `${outDir}.tmp-${process.pid}`;
    fs.rmSync(staging, { recursive: true, force: true });
    await writeVoc(loadMnistDet(paths, 'val'), { outDir: staging, imageSet });
    fs.writeFileSync(path.join(staging, SOURCE_FILE), source);
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.renameSync(staging, outDir);
  }
  return loadVoc({ root: outDir, imageSet });
}

/** In the VOC export of the shifted target: the generator version and config it was written from. */
const SOURCE_FILE = 'mnist-det-source.json';
