/**
 * COCO inputs for bbox evaluation: the instances json (ground truth) and the results json (detections),
 * validated once and turned into columns of typed arrays. Every problem becomes a `UserError` naming the
 * offending entry (index and content) and what to do, instead of the KeyError / assertion pycocotools
 * would raise deep inside evaluation.
 */
import { UserError } from '../util/errors';
import { readJsonFile } from '../util/files';

/** An image of the instances json; only `id` is used. */
export interface CocoImageJson {
  id: number;
  width?: number;
  height?: number;
  file_name?: string;
  [key: string]: unknown;
}

/** A ground-truth annotation; `bbox` is [x, y, width, height] in px, `area` drives the area ranges. */
export interface CocoAnnotationJson {
  id: number;
  image_id: number;
  category_id: number;
  bbox: number[];
  area: number;
  iscrowd: number | boolean;
  [key: string]: unknown;
}

export interface CocoCategoryJson {
  id: number;
  name?: string;
  supercategory?: string;
  [key: string]: unknown;
}

/** COCO instances format (the fields bbox evaluation reads; others are ignored). */
export interface CocoGroundTruthJson {
  images: CocoImageJson[];
  annotations: CocoAnnotationJson[];
  categories: CocoCategoryJson[];
  [key: string]: unknown;
}

/** One entry of a COCO results file. Extra fields ("area", "id", "iscrowd", ...) are ignored, as pycocotools' loadRes overwrites them. */
export interface CocoResultJson {
  image_id: number;
  category_id: number;
  bbox: number[];
  score: number;
  [key: string]: unknown;
}

/**
 * Detections as columns: entry j is image `imageId[j]`, category `categoryId[j]`, box
 * `boxXYWH[4j .. 4j+3]` = [x, y, width, height] in px, confidence `score[j]`. Position j plays the role
 * of the position in results.json (it breaks score ties).
 */
export interface CocoDetections {
  count: number;
  imageId: Float64Array;
  categoryId: Float64Array;
  boxXYWH: Float64Array;
  score: Float64Array;
  /**
   * Optional: the value an unmatched detection's area-range test uses instead of its w·h. pycocotools
   * always uses w·h (loadRes overwrites "area"); lib/analysis sets it, together with the GT "area"
   * field, to evaluate ranges of another box attribute (aspect ratio) with the same rules.
   */
  areaForRanges?: Float64Array;
}

/** Ground truth as validated columns, annotations in file order. */
export interface CocoGroundTruthColumns {
  imageIds: number[];
  categoryIds: number[];
  count: number;
  annotationId: Float64Array;
  imageId: Float64Array;
  categoryId: Float64Array;
  boxXYWH: Float64Array;
  area: Float64Array;
  isCrowd: Uint8Array;
}

const MAX_SHOWN_CHARS = 200;

/** Compact JSON of an offending entry for error messages. */
export function describeEntry(entry: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(entry) ?? String(entry);
  } catch {
    text = String(entry);
  }
  return text.length > MAX_SHOWN_CHARS ? text.slice(0, MAX_SHOWN_CHARS) + '...' : text;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** A valid COCO box: 4 finite numbers, width and height >= 0. Returns a reason when invalid. */
function bboxProblem(bbox: unknown): string | null {
  if (!Array.isArray(bbox) || bbox.length !== 4) return 'bbox must be an array of 4 numbers [x, y, width, height]';
  for (const v of bbox) if (!isFiniteNumber(v)) return 'bbox must contain 4 finite numbers [x, y, width, height]';
  if ((bbox[2] as number) < 0 || (bbox[3] as number) < 0)
    return 'bbox width and height must be >= 0 (COCO boxes are [x, y, width, height], not corner coordinates)';
  return null;
}

/**
 * Validates a COCO instances json (object or file path) and returns its annotations as columns.
 * Requires the fields pycocotools' bbox evaluation reads: images[].id, categories[].id and
 * annotations[].{id, image_id, category_id, bbox, area, iscrowd}. Annotations must refer to a listed
 * image and category and have unique ids (pycocotools keys annotations by id, so a duplicate would
 * silently replace another one).
 */
export function readCocoGroundTruth(input: string | CocoGroundTruthJson, source?: string): CocoGroundTruthColumns {
  const where = typeof input === 'string' ? input : (source ?? 'ground truth');
  const json: unknown = typeof input === 'string' ? readJsonFile(input, 'ground-truth') : input;
  if (!isRecord(json)) {
    throw new UserError(
      `${where}: ground truth must be a JSON object in COCO instances format, got ${describeEntry(json)}`,
      'pass the instances_*.json file (with "images", "annotations" and "categories")',
    );
  }
  for (const key of ['images', 'categories'] as const) {
    if (!Array.isArray(json[key])) {
      throw new UserError(`${where}: ground truth has no "${key}" array`, 'pass a COCO instances json with "images", "annotations" and "categories" arrays');
    }
  }
  if (!Array.isArray(json.annotations)) {
    throw new UserError(
      `${where}: ground truth has no "annotations" array (an image-info file such as image_info_test*.json has no boxes to evaluate against)`,
      'pass a COCO instances json with "images", "annotations" and "categories" arrays',
    );
  }
  const images = json.images as unknown[];
  const categories = json.categories as unknown[];
  const annotations = json.annotations as unknown[];

  const imageSet = new Set<number>();
  images.forEach((img, i) => {
    if (!isRecord(img) || !isFiniteNumber(img.id)) {
      throw new UserError(`${where}: images[${i}] has no numeric "id": ${describeEntry(img)}`, 'every image needs a numeric "id"');
    }
    imageSet.add(img.id);
  });
  const categorySet = new Set<number>();
  categories.forEach((cat, i) => {
    if (!isRecord(cat) || !isFiniteNumber(cat.id)) {
      throw new UserError(`${where}: categories[${i}] has no numeric "id": ${describeEntry(cat)}`, 'every category needs a numeric "id"');
    }
    categorySet.add(cat.id);
  });

  const n = annotations.length;
  const cols: CocoGroundTruthColumns = {
    imageIds: [...imageSet].sort((a, b) => a - b),
    categoryIds: [...categorySet].sort((a, b) => a - b),
    count: n,
    annotationId: new Float64Array(n),
    imageId: new Float64Array(n),
    categoryId: new Float64Array(n),
    boxXYWH: new Float64Array(4 * n),
    area: new Float64Array(n),
    isCrowd: new Uint8Array(n),
  };
  const seenIds = new Map<number, number>();
  for (let j = 0; j < n; j++) {
    const ann = annotations[j];
    const bad = (what: string, hint: string): never => {
      throw new UserError(`${where}: annotations[${j}] ${what}: ${describeEntry(ann)}`, hint);
    };
    if (!isRecord(ann)) bad('is not an object', 'each annotation must be an object');
    const a = ann as Record<string, unknown>;
    for (const key of ['id', 'image_id', 'category_id', 'area'] as const) {
      if (!(key in a)) bad(`has no "${key}" field`, 'COCO bbox evaluation needs id, image_id, category_id, bbox, area and iscrowd on every annotation');
      if (!isFiniteNumber(a[key])) bad(`has a non-numeric or non-finite "${key}"`, `"${key}" must be a finite number`);
    }
    if (!('bbox' in a)) bad('has no "bbox" field', 'COCO bbox evaluation needs id, image_id, category_id, bbox, area and iscrowd on every annotation');
    const problem = bboxProblem(a.bbox);
    if (problem) bad('has a malformed bbox', problem);
    if (!('iscrowd' in a)) bad('has no "iscrowd" field', 'add "iscrowd": 0 (or 1 for crowd regions)');
    const crowd = a.iscrowd;
    if (!(crowd === 0 || crowd === 1 || crowd === true || crowd === false)) {
      bad('has an "iscrowd" that is not 0/1', '"iscrowd" must be 0 or 1');
    }
    const id = a.id as number;
    const prev = seenIds.get(id);
    if (prev !== undefined) {
      bad(`repeats the id of annotations[${prev}]`, 'annotation ids must be unique (pycocotools keys annotations by id)');
    }
    seenIds.set(id, j);
    const imageId = a.image_id as number;
    if (!imageSet.has(imageId)) bad(`refers to image_id ${imageId}, which is not in "images"`, 'add the image to "images" or drop the annotation');
    const categoryId = a.category_id as number;
    if (!categorySet.has(categoryId))
      bad(`refers to category_id ${categoryId}, which is not in "categories"`, 'add the category to "categories" or drop the annotation');
    const bbox = a.bbox as number[];
    cols.annotationId[j] = id;
    cols.imageId[j] = imageId;
    cols.categoryId[j] = categoryId;
    cols.boxXYWH[4 * j] = bbox[0];
    cols.boxXYWH[4 * j + 1] = bbox[1];
    cols.boxXYWH[4 * j + 2] = bbox[2];
    cols.boxXYWH[4 * j + 3] = bbox[3];
    cols.area[j] = a.area as number;
    cols.isCrowd[j] = crowd === 1 || crowd === true ? 1 : 0;
  }
  return cols;
}

/**
 * Validates a COCO results json (array or file path) into columns. Each entry needs numeric image_id,
 * category_id and score and a bbox [x, y, width, height] of finite numbers with width, height >= 0.
 * Whether the image exists in the ground truth is checked by the evaluator, which knows it.
 */
export function readCocoResults(input: string | readonly unknown[], source?: string): CocoDetections {
  const where = typeof input === 'string' ? input : (source ?? 'detections');
  const json: unknown = typeof input === 'string' ? readJsonFile(input, 'detection results') : input;
  if (!Array.isArray(json)) {
    throw new UserError(
      `${where}: detection results must be a JSON array of {image_id, category_id, bbox, score}, got ${describeEntry(json)}`,
      'pass a COCO results file (a list of detections), not an instances json',
    );
  }
  const n = json.length;
  const out: CocoDetections = {
    count: n,
    imageId: new Float64Array(n),
    categoryId: new Float64Array(n),
    boxXYWH: new Float64Array(4 * n),
    score: new Float64Array(n),
  };
  for (let j = 0; j < n; j++) {
    const d = json[j];
    if (typeof d !== 'object' || d === null || Array.isArray(d)) {
      throw new UserError(
        `${where}: detection #${j} is not an object: ${describeEntry(d)}`,
        'each detection must be {"image_id", "category_id", "bbox": [x, y, w, h], "score"}',
      );
    }
    const r = d as Record<string, unknown>;
    const imageId = r.image_id;
    const categoryId = r.category_id;
    const score = r.score;
    const bbox = r.bbox;
    // Fast path for well-formed entries; the slow path below only runs to explain a failure.
    if (
      isFiniteNumber(imageId) &&
      isFiniteNumber(categoryId) &&
      isFiniteNumber(score) &&
      Array.isArray(bbox) &&
      bbox.length === 4 &&
      isFiniteNumber(bbox[0]) &&
      isFiniteNumber(bbox[1]) &&
      isFiniteNumber(bbox[2]) &&
      isFiniteNumber(bbox[3]) &&
      bbox[2] >= 0 &&
      bbox[3] >= 0
    ) {
      out.imageId[j] = imageId;
      out.categoryId[j] = categoryId;
      out.score[j] = score;
      out.boxXYWH[4 * j] = bbox[0];
      out.boxXYWH[4 * j + 1] = bbox[1];
      out.boxXYWH[4 * j + 2] = bbox[2];
      out.boxXYWH[4 * j + 3] = bbox[3];
      continue;
    }
    for (const key of ['image_id', 'category_id', 'bbox', 'score'] as const) {
      if (!(key in r)) {
        throw new UserError(
          `${where}: detection #${j} has no "${key}" field: ${describeEntry(d)}`,
          'each detection must be {"image_id", "category_id", "bbox": [x, y, w, h], "score"}',
        );
      }
    }
    for (const key of ['image_id', 'category_id', 'score'] as const) {
      if (!isFiniteNumber(r[key])) {
        throw new UserError(`${where}: detection #${j} has a non-numeric or non-finite "${key}": ${describeEntry(d)}`, `"${key}" must be a finite number`);
      }
    }
    throw new UserError(`${where}: detection #${j} has a malformed bbox: ${describeEntry(d)}`, bboxProblem(bbox) ?? 'invalid bbox');
  }
  return out;
}

/**
 * Wraps detection columns built in memory (e.g. by the detector's decode step) after checking that
 * lengths agree and every number is usable. The arrays are used as given, not copied.
 */
export function cocoDetectionsFromColumns(cols: {
  imageId: ArrayLike<number>;
  categoryId: ArrayLike<number>;
  boxXYWH: ArrayLike<number>;
  score: ArrayLike<number>;
}): CocoDetections {
  const n = cols.score.length;
  if (cols.imageId.length !== n || cols.categoryId.length !== n || cols.boxXYWH.length !== 4 * n) {
    throw new UserError(
      `detection columns disagree in length: ${cols.imageId.length} image ids, ${cols.categoryId.length} category ids, ` +
        `${cols.boxXYWH.length / 4} boxes, ${n} scores`,
      'pass one image id, one category id, 4 box numbers [x, y, w, h] and one score per detection',
    );
  }
  const toF64 = (a: ArrayLike<number>): Float64Array => (a instanceof Float64Array ? a : Float64Array.from(a));
  const out: CocoDetections = {
    count: n,
    imageId: toF64(cols.imageId),
    categoryId: toF64(cols.categoryId),
    boxXYWH: toF64(cols.boxXYWH),
    score: toF64(cols.score),
  };
  for (let j = 0; j < n; j++) {
    const b = 4 * j;
    const ok =
      Number.isFinite(out.imageId[j]) &&
      Number.isFinite(out.categoryId[j]) &&
      Number.isFinite(out.score[j]) &&
      Number.isFinite(out.boxXYWH[b]) &&
      Number.isFinite(out.boxXYWH[b + 1]) &&
      out.boxXYWH[b + 2] >= 0 &&
      out.boxXYWH[b + 3] >= 0 &&
      Number.isFinite(out.boxXYWH[b + 2]) &&
      Number.isFinite(out.boxXYWH[b + 3]);
    if (!ok) {
      const entry = { image_id: out.imageId[j], category_id: out.categoryId[j], bbox: Array.from(out.boxXYWH.subarray(b, b + 4)), score: out.score[j] };
      throw new UserError(
        `detection #${j} is malformed: ${describeEntry(entry)}`,
        'ids and score must be finite numbers; bbox must be 4 finite numbers [x, y, w, h] with w, h >= 0',
      );
    }
  }
  return out;
}

/** Concatenates detection sets (e.g. the current set plus one candidate anchor's detections). */
export function concatCocoDetections(parts: readonly CocoDetections[]): CocoDetections {
  let n = 0;
  for (const p of parts) n += p.count;
  const out: CocoDetections = {
    count: n,
    imageId: new Float64Array(n),
    categoryId: new Float64Array(n),
    boxXYWH: new Float64Array(4 * n),
    score: new Float64Array(n),
  };
  let at = 0;
  for (const p of parts) {
    out.imageId.set(p.imageId.subarray(0, p.count), at);
    out.categoryId.set(p.categoryId.subarray(0, p.count), at);
    out.boxXYWH.set(p.boxXYWH.subarray(0, 4 * p.count), 4 * at);
    out.score.set(p.score.subarray(0, p.count), at);
    at += p.count;
  }
  return out;
}
