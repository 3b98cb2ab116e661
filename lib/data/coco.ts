/**
 * COCO instances json + image folder -> DetectionDataset, and back.
 *
 * Reads any file in the COCO "instances" format (https://cocodataset.org/#format-data): official
 * COCO (sparse category ids 1..90), COCO subsets such as coco8, and the embedded MNIST-Det.
 * Conventions follow detectron2's `load_coco_json` and pycocotools:
 * - category ids are mapped to contiguous indices 0..K-1 in the order of ascending id (detectron2's
 *   `thing_dataset_id_to_contiguous_id`), and back for results files;
 * - crowd annotations (`iscrowd: 1`) are kept as ignore regions for training, not dropped;
 * - images without annotations are kept (they supply negatives, and the evaluator counts them);
 * - `bbox` is [x, y, width, height] in pixels; it becomes (x1, y1, x2, y2) clipped to the image.
 *
 * Bad input gives one UserError per kind of problem that lists the offending entries.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors';
import { writeFileAtomicSync } from '../util/atomic';
import { readJsonFile } from '../util/files';
import { invalidBoxesError } from './validate-boxes';
import { CategoryInfo, DetectionDataset, ImageEntry, LoadReport, emptyReport } from './types';

export interface CocoLoadOptions {
  /** Path of the instances json. */
  annotationFile: string;
  /**
   * Folder the `file_name`s are relative to. When omitted it is looked for next to the json:
   * `<dir>/images`, `<dir>/../<split>`, `<dir>/../images/<split>`, `<dir>/<split>` (split from
   * `instances_<split>.json`), `<dir>/../images`, then `<dir>` itself; the first that holds the
   * first image file wins.
   */
  imageDir?: string;
  /** Drop boxes with non-positive width/height (and boxes fully outside their image) instead of failing. */
  skipInvalidBoxes?: boolean;
  /** Check that every image file exists (default true). */
  checkFiles?: boolean;
  /** Accept a json without an `annotations` array, e.g. COCO's image_info files (default false). */
  allowMissingAnnotations?: boolean;
  /** Dataset name for logs (default: derived from the path). */
  name?: string;
  /** Where warnings go (default: console.warn unless METAANCHOR_QUIET=1). Every warning is also in `report.warnings`. */
  onWarning?: (line: string) => void;
}

/** How many offending entries an error message lists before "... and N more". */
const LIST_LIMIT = 8;
/** Overshoot (px) past the image border tolerated without counting the box as clipped (float noise). */
const CLIP_TOLERANCE_PX = 1e-3;

export function defaultWarn(line: string): void {
  if (process.env.METAANCHOR_QUIET !== '1') console.warn(`warning: ${line}`);
}

function listSome(items: string[], sep = '\n  '): string {
  const shown = items.slice(0, LIST_LIMIT).join(sep);
  return items.length > LIST_LIMIT ? `${shown}${sep}... and ${items.length - LIST_LIMIT} more` : shown;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (field missing)';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function guessImageDir(annotationFile: string, firstFile: string | undefined): { dir: string; tried: string[] } {
  const dir = path.dirname(path.resolve(annotationFile));
  const split = /instances_(.+)\.json$/.exec(path.basename(annotationFile))?.[1];
  const candidates = [path.join(dir, 'images')];
  if (split) candidates.push(path.join(dir, '..', split), path.join(dir, '..', 'images', split), path.join(dir, split));
  candidates.push(path.join(dir, '..', 'images'), dir);
  const existing = candidates.filter((c) => fs.existsSync(c) && fs.statSync(c).isDirectory());
  const withFirst = firstFile ? existing.find((c) => fs.existsSync(path.join(c, firstFile))) : undefined;
  return { dir: path.normalize(withFirst ?? existing[0] ?? dir), tried: candidates.map((c) => path.normalize(c)) };
}

/** Load a COCO instances json and its image folder. Throws UserError on malformed input. */
export function loadCoco(options: CocoLoadOptions): DetectionDataset {
  const file = path.resolve(options.annotationFile);
  const warn = options.onWarning ?? defaultWarn;
  const report: LoadReport = emptyReport();
  const warnings = report.warnings;
  const emit = (line: string): void => {
    warnings.push(line);
    warn(line);
  };
  const name = options.name ?? path.basename(file, '.json');
  const root = readJsonFile(file, 'annotation', 'pass the path of a COCO instances json (e.g. annotations/instances_val2017.json)');
  const where = path.basename(file);

  // --- top level -----------------------------------------------------------------------------
  if (!isRecord(root)) {
    throw new UserError(`${where}: top level must be an object with "images", "annotations" and "categories", got ${describe(root)}`);
  }
  const missingTop: string[] = [];
  if (!Array.isArray(root.images)) missingTop.push(`"images" must be an array, got ${describe(root.images)}`);
  if (!Array.isArray(root.categories)) missingTop.push(`"categories" must be an array, got ${describe(root.categories)}`);
  if (root.annotations === undefined && !options.allowMissingAnnotations) {
    missingTop.push('"annotations" is missing (an image_info file? pass allowMissingAnnotations to read it without boxes)');
  } else if (root.annotations !== undefined && !Array.isArray(root.annotations)) {
    missingTop.push(`"annotations" must be an array, got ${describe(root.annotations)}`);
  }
  if (missingTop.length) {
    throw new UserError(`${where} is not a COCO instances file:\n  ${missingTop.join('\n  ')}`, 'see https://cocodataset.org/#format-data');
  }
  const rawImages = root.images as unknown[];
  if (rawImages.length === 0) {
    throw new UserError(`${where}: "images" is empty, so there is nothing to train on, detect in or evaluate`, 'check that this is the annotation file of your images');
  }
  const rawCats = root.categories as unknown[];
  const rawAnns = (root.annotations as unknown[] | undefined) ?? [];

  // --- categories ----------------------------------------------------------------------------
  const problems: string[] = [];
  const catById = new Map<number, { id: number; name: string; supercategory?: string }>();
  rawCats.forEach((c, i) => {
    if (!isRecord(c)) return problems.push(`categories[${i}]: must be an object, got ${describe(c)}`);
    if (!isFiniteNumber(c.id) || !Number.isInteger(c.id)) return problems.push(`categories[${i}]: field "id" must be an integer, got ${describe(c.id)}`);
    if (typeof c.name !== 'string') return problems.push(`categories[${i}] (id ${c.id}): field "name" must be a string, got ${describe(c.name)}`);
    if (catById.has(c.id)) return problems.push(`categories[${i}]: duplicate category id ${c.id}`);
    catById.set(c.id, { id: c.id, name: c.name, supercategory: typeof c.supercategory === 'string' ? c.supercategory : undefined });
    return undefined;
  });
  if (rawCats.length === 0) problems.push('"categories" is empty: a detection dataset needs at least one category');

  // --- images --------------------------------------------------------------------------------
  interface RawImage { id: number; fileName: string; widthPx: number; heightPx: number }
  const imgById = new Map<number, RawImage>();
  const imgOrder: RawImage[] = [];
  rawImages.forEach((im, i) => {
    if (!isRecord(im)) return problems.push(`images[${i}]: must be an object, got ${describe(im)}`);
    const label = isFiniteNumber(im.id) ? `images[${i}] (id ${im.id})` : `images[${i}]`;
    if (!isFiniteNumber(im.id) || !Number.isInteger(im.id)) return problems.push(`${label}: field "id" must be an integer, got ${describe(im.id)}`);
    if (typeof im.file_name !== 'string' || im.file_name.length === 0) return problems.push(`${label}: field "file_name" must be a non-empty string, got ${describe(im.file_name)}`);
    for (const f of ['width', 'height'] as const) {
      if (!isFiniteNumber(im[f]) || (im[f] as number) <= 0) return problems.push(`${label}: field "${f}" must be a positive number, got ${describe(im[f])}`);
    }
    if (imgById.has(im.id)) return problems.push(`${label}: duplicate image id ${im.id}`);
    const rec = { id: im.id, fileName: im.file_name, widthPx: im.width as number, heightPx: im.height as number };
    imgById.set(im.id, rec);
    imgOrder.push(rec);
    return undefined;
  });

  // --- annotations: structure ----------------------------------------------------------------
  interface RawAnn { id: number; imageId: number; categoryId: number; bbox: number[]; crowd: boolean; area?: number }
  const anns: RawAnn[] = [];
  const annIds = new Set<number>();
  rawAnns.forEach((a, i) => {
    if (!isRecord(a)) return problems.push(`annotations[${i}]: must be an object, got ${describe(a)}`);
    const label = isFiniteNumber(a.id) ? `annotations[${i}] (id ${a.id})` : `annotations[${i}]`;
    if (!isFiniteNumber(a.id)) return problems.push(`${label}: field "id" must be a number, got ${describe(a.id)}`);
    if (annIds.has(a.id)) return problems.push(`${label}: duplicate annotation id ${a.id}`);
    annIds.add(a.id);
    if (!isFiniteNumber(a.image_id)) return problems.push(`${label}: field "image_id" must be a number, got ${describe(a.image_id)}`);
    if (!isFiniteNumber(a.category_id)) return problems.push(`${label}: field "category_id" must be a number, got ${describe(a.category_id)}`);
    const b = a.bbox;
    if (!Array.isArray(b) || b.length !== 4 || !b.every(isFiniteNumber)) {
      return problems.push(`${label}: field "bbox" must be [x, y, width, height] (4 finite numbers), got ${describe(b)}`);
    }
    if (a.iscrowd !== undefined && a.iscrowd !== 0 && a.iscrowd !== 1 && typeof a.iscrowd !== 'boolean') {
      return problems.push(`${label}: field "iscrowd" must be 0 or 1, got ${describe(a.iscrowd)}`);
    }
    if (a.area !== undefined && !isFiniteNumber(a.area)) return problems.push(`${label}: field "area" must be a number, got ${describe(a.area)}`);
    anns.push({
      id: a.id,
      imageId: a.image_id,
      categoryId: a.category_id,
      bbox: b as number[],
      crowd: a.iscrowd === 1 || a.iscrowd === true,
      area: a.area as number | undefined,
    });
    return undefined;
  });
  if (problems.length) {
    throw new UserError(
      `${where}: ${problems.length} malformed entr${problems.length === 1 ? 'y' : 'ies'}:\n  ${listSome(problems)}`,
      'fix these entries; the format is described at https://cocodataset.org/#format-data',
    );
  }

  // --- annotations: references ---------------------------------------------------------------
  const unknownImage = anns.filter((a) => !imgById.has(a.imageId));
  if (unknownImage.length) {
    throw new UserError(
      `${where}: ${unknownImage.length} annotation(s) refer to image ids not in "images": ` +
        listSome(unknownImage.map((a) => `annotation ${a.id} -> image_id ${a.imageId}`), ', '),
      'the annotation file may be cut from a larger one; keep "images" and "annotations" together',
    );
  }
  const unknownCat = anns.filter((a) => !catById.has(a.categoryId));
  if (unknownCat.length) {
    const ids = [...new Set(unknownCat.map((a) => a.categoryId))].sort((p, q) => p - q);
    throw new UserError(
      `${where}: ${unknownCat.length} annotation(s) use category ids not in "categories": ${listSome(ids.map(String), ', ')} ` +
        `(e.g. annotation ${unknownCat[0].id})`,
      `known category ids: ${listSome([...catById.keys()].sort((p, q) => p - q).map(String), ', ')}`,
    );
  }

  // --- boxes: clip, validate -----------------------------------------------------------------
  const categories: CategoryInfo[] = [...catById.values()]
    .sort((p, q) => p.id - q.id)
    .map((c, index) => ({ index, id: c.id, name: c.name, ...(c.supercategory !== undefined ? { supercategory: c.supercategory } : {}) }));
  const indexOf = new Map(categories.map((c) => [c.id, c.index]));

  const perImage = new Map<number, { box: [number, number, number, number]; cls: number; crowd: boolean; id: number; area: number }[]>();
  const invalid: string[] = [];
  const clippedIds: number[] = [];
  for (const a of anns) {
    const im = imgById.get(a.imageId)!;
    const [x, y, w, h] = a.bbox;
    if (!(w > 0 && h > 0)) {
      invalid.push(`annotation ${a.id} (image ${a.imageId}): bbox width ${w}, height ${h}`);
      continue;
    }
    const x1 = Math.max(0, x);
    const y1 = Math.max(0, y);
    const x2 = Math.min(im.widthPx, x + w);
    const y2 = Math.min(im.heightPx, y + h);
    if (!(x2 > x1 && y2 > y1)) {
      invalid.push(`annotation ${a.id} (image ${a.imageId}): bbox ${describe(a.bbox)} lies outside the ${im.widthPx}x${im.heightPx} image`);
      continue;
    }
    if (x < -CLIP_TOLERANCE_PX || y < -CLIP_TOLERANCE_PX || x + w > im.widthPx + CLIP_TOLERANCE_PX || y + h > im.heightPx + CLIP_TOLERANCE_PX) {
      clippedIds.push(a.id);
    }
    let list = perImage.get(a.imageId);
    if (!list) perImage.set(a.imageId, (list = []));
    list.push({ box: [x1, y1, x2, y2], cls: indexOf.get(a.categoryId)!, crowd: a.crowd, id: a.id, area: a.area ?? w * h });
  }
  if (invalid.length && !options.skipInvalidBoxes) {
    throw invalidBoxesError(where, invalid, 'fix them, or skip them: skipInvalidBoxes: true in code, --skip-invalid-boxes on the command line');
  }
  if (invalid.length) {
    report.skippedInvalidBoxes = invalid.length;
    emit(`${name}: skipped ${invalid.length} box(es) with non-positive size (first: ${invalid[0]})`);
  }
  if (clippedIds.length) {
    report.clippedBoxes = clippedIds.length;
    emit(`${name}: clipped ${clippedIds.length} box(es) extending past their image to the image (annotation ids ${listSome(clippedIds.map(String), ', ')})`);
  }

  // --- image folder and files ----------------------------------------------------------------
  let imageDir: string;
  if (options.imageDir) {
    imageDir = path.resolve(options.imageDir);
    if (!fs.existsSync(imageDir) || !fs.statSync(imageDir).isDirectory()) {
      throw new UserError(`image folder not found: ${imageDir}`, 'pass the folder that holds the files named in "file_name"');
    }
  } else {
    const guess = guessImageDir(file, imgOrder[0]?.fileName);
    imageDir = guess.dir;
  }
  if (options.checkFiles !== false) {
    const missing = imgOrder.filter((im) => !fs.existsSync(path.join(imageDir, im.fileName))).map((im) => im.fileName);
    if (missing.length) {
      throw new UserError(
        `${missing.length} of ${imgOrder.length} image file(s) named in ${where} are missing from ${imageDir}: ${listSome(missing, ', ')}`,
        options.imageDir
          ? 'check the image folder (--images) or download the missing files'
          : `pass the image folder explicitly (--images / imageDir); looked in ${guessImageDir(file, undefined).tried.join(', ')}`,
      );
    }
  }

  const images: ImageEntry[] = imgOrder.map((im) => {
    const list = perImage.get(im.id) ?? [];
    const n = list.length;
    const boxes = new Float32Array(4 * n);
    const classIdx = new Int32Array(n);
    const ignore = new Uint8Array(n);
    const annotationIds = new Int32Array(n);
    const areas = new Float32Array(n);
    list.forEach((a, k) => {
      boxes.set(a.box, 4 * k);
      classIdx[k] = a.cls;
      ignore[k] = a.crowd ? 1 : 0;
      annotationIds[k] = a.id;
      areas[k] = a.area;
    });
    return {
      id: im.id,
      fileName: im.fileName,
      filePath: path.join(imageDir, im.fileName),
      widthPx: im.widthPx,
      heightPx: im.heightPx,
      boxes,
      classIdx,
      ignore,
      annotationIds,
      areas,
    };
  });
  report.images = images.length;
  report.annotations = anns.length - report.skippedInvalidBoxes;
  report.ignoreBoxes = images.reduce((s, im) => s + im.ignore.reduce((t, v) => t + v, 0), 0);
  report.imagesWithoutAnnotations = images.filter((im) => im.classIdx.length === 0).length;

  return { name, format: 'coco', imageDir, source: file, categories, images, report };
}

/** Round to 1e-4 px so float32 noise does not show up as 187.69000244140625 in written files. */
function r4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

export interface CocoJson {
  info: Record<string, unknown>;
  licenses: unknown[];
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: {
    id: number;
    image_id: number;
    category_id: number;
    bbox: [number, number, number, number];
    area: number;
    iscrowd: 0 | 1;
    [extra: string]: unknown;
  }[];
  categories: { id: number; name: string; supercategory: string }[];
}

/**
 * The dataset as a COCO instances object (what the evaluator reads as ground truth). Ignore boxes
 * become `iscrowd: 1`. `extraAnnotationFields(imageIndex, boxIndex)` may add fields to each annotation.
 */
export function toCocoJson(
  ds: DetectionDataset,
  info: Record<string, unknown> = { description: ds.name },
  extraAnnotationFields?: (imageIndex: number, boxIndex: number) => Record<string, unknown>,
): CocoJson {
  const images: CocoJson['images'] = [];
  const annotations: CocoJson['annotations'] = [];
  ds.images.forEach((im, ii) => {
    images.push({ id: im.id, file_name: im.fileName, width: im.widthPx, height: im.heightPx });
    for (let k = 0; k < im.classIdx.length; k++) {
      const x1 = im.boxes[4 * k];
      const y1 = im.boxes[4 * k + 1];
      const w = im.boxes[4 * k + 2] - x1;
      const h = im.boxes[4 * k + 3] - y1;
      annotations.push({
        id: im.annotationIds[k],
        image_id: im.id,
        category_id: ds.categories[im.classIdx[k]].id,
        bbox: [r4(x1), r4(y1), r4(w), r4(h)],
        area: r4(im.areas[k]),
        iscrowd: im.ignore[k] ? 1 : 0,
        ...(extraAnnotationFields ? extraAnnotationFields(ii, k) : {}),
      });
    }
  });
  return {
    info,
    licenses: [],
    images,
    annotations,
    categories: ds.categories.map((c) => ({ id: c.id, name: c.name, supercategory: c.supercategory ?? '' })),
  };
}

/** Write `toCocoJson(ds)` atomically, compact (one line; large files stay small). */
export function writeCocoJson(ds: DetectionDataset, file: string, info?: Record<string, unknown>): void {
  writeFileAtomicSync(file, JSON.stringify(toCocoJson(ds, info)) + '\n');
}
