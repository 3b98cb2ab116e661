/**
 * The inputs every detection analysis works on: a COCO ground truth (validated columns and the
 * evaluator's prepared index) and a detection set, read once. The analyses evaluate through
 * lib/eval/coco.ts — the same matching and accumulation as `eval coco` — and only add what the
 * evaluator does not report.
 */
import { UserError } from '../util/errors';
import {
  CocoDetections,
  CocoGroundTruthJson,
  CocoResultJson,
  PreparedCocoGroundTruth,
  cocoDetectionsFromColumns,
  readCocoGroundTruth,
  readCocoResults,
} from '../eval/coco';
import { CocoGroundTruthColumns } from '../eval/coco-input';
import { readJsonFile } from '../util/files';
import { COCO_IOU_THRESHOLDS } from '../eval/coco-params';

export interface AnalysisInputs {
  gt: CocoGroundTruthColumns;
  prepared: PreparedCocoGroundTruth;
  dets: CocoDetections;
  /** Category ids ascending (the evaluator's K axis) with their names ("<id>" when the json has none). */
  categories: { id: number; name: string }[];
  /** Evaluated images (pycocotools params.imgIds); null = every ground-truth image. */
  imageIds: number[] | null;
  /** Non-crowd annotations (input positions) per evaluated image id. */
  gtByImage: Map<number, number[]>;
}

export interface AnalysisInputOptions {
  /** Evaluate only these images (as `evaluateCoco`'s imageIds). */
  imageIds?: readonly number[];
}

/** Reads ground truth (json or path) and detections (json, path or columns) for the analyses. */
export function analysisInputs(
  gt: string | CocoGroundTruthJson | CocoGroundTruthColumns,
  dt: string | readonly CocoResultJson[] | CocoDetections,
  options: AnalysisInputOptions = {},
): AnalysisInputs {
  let cols: CocoGroundTruthColumns;
  let names = new Map<number, string>();
  if (typeof gt === 'object' && gt !== null && 'annotationId' in gt) {
    cols = gt as CocoGroundTruthColumns;
  } else {
    const json = (typeof gt === 'string' ? readJsonFile(gt, 'ground-truth') : gt) as CocoGroundTruthJson;
    cols = readCocoGroundTruth(json, typeof gt === 'string' ? gt : undefined);
    names = new Map((json.categories ?? []).map((c) => [c.id, typeof c.name === 'string' ? c.name : String(c.id)]));
  }
  const dets = typeof dt === 'string' || Array.isArray(dt) ? readCocoResults(dt as string | readonly unknown[]) : (dt as CocoDetections);
  return withColumns(cols, dets, names, options);
}

function withColumns(cols: CocoGroundTruthColumns, dets: CocoDetections, names: Map<number, string>, options: AnalysisInputOptions): AnalysisInputs {
  const prepared = new PreparedCocoGroundTruth(cols);
  const imageIds = options.imageIds ? Array.from(options.imageIds) : null;
  const evaluated = imageIds ? new Set(imageIds) : null;
  const gtByImage = new Map<number, number[]>();
  for (const id of imageIds ?? cols.imageIds) gtByImage.set(id, []);
  for (let g = 0; g < cols.count; g++) {
    if (cols.isCrowd[g]) continue;
    if (evaluated && !evaluated.has(cols.imageId[g])) continue;
    gtByImage.get(cols.imageId[g])?.push(g);
  }
  return {
    gt: cols,
    prepared,
    dets,
    categories: cols.categoryIds.map((id) => ({ id, name: names.get(id) ?? String(id) })),
    imageIds,
    gtByImage,
  };
}

/** The same analysis inputs with some annotations removed (ids, images and categories stay). */
export function withoutAnnotations(inputs: AnalysisInputs, drop: Uint8Array): AnalysisInputs {
  const cols = inputs.gt;
  const keep: number[] = [];
  for (let g = 0; g < cols.count; g++) if (!drop[g]) keep.push(g);
  const pick = <T extends Float64Array | Uint8Array>(a: T, width = 1): T => {
    const out = new (a.constructor as new (n: number) => T)(keep.length * width);
    keep.forEach((g, i) => {
      for (let c = 0; c < width; c++) out[i * width + c] = a[g * width + c];
    });
    return out;
  };
  const sub: CocoGroundTruthColumns = {
    imageIds: cols.imageIds,
    categoryIds: cols.categoryIds,
    count: keep.length,
    annotationId: pick(cols.annotationId),
    imageId: pick(cols.imageId),
    categoryId: pick(cols.categoryId),
    boxXYWH: pick(cols.boxXYWH, 4),
    area: pick(cols.area),
    isCrowd: pick(cols.isCrowd),
  };
  const names = new Map(inputs.categories.map((c) => [c.id, c.name]));
  return withColumns(sub, inputs.dets, names, { imageIds: inputs.imageIds ?? undefined });
}

/** Detections at the given input positions, in that order, with optional new categories and boxes. */
export function pickDetections(dets: CocoDetections, picks: readonly { j: number; categoryId?: number; boxXYWH?: ArrayLike<number> }[]): CocoDetections {
  const n = picks.length;
  const imageId = new Float64Array(n);
  const categoryId = new Float64Array(n);
  const boxXYWH = new Float64Array(4 * n);
  const score = new Float64Array(n);
  picks.forEach((p, i) => {
    imageId[i] = dets.imageId[p.j];
    categoryId[i] = p.categoryId ?? dets.categoryId[p.j];
    score[i] = dets.score[p.j];
    const box = p.boxXYWH ?? dets.boxXYWH.subarray(4 * p.j, 4 * p.j + 4);
    for (let c = 0; c < 4; c++) boxXYWH[4 * i + c] = box[c];
  });
  return cocoDetectionsFromColumns({ imageId, categoryId, boxXYWH, score });
}

/** Index of an IoU threshold among COCO's ten (0.5, 0.55, ..., 0.95); UserError otherwise. */
export function cocoThresholdIndex(iou: number, what = 'IoU threshold'): number {
  for (let t = 0; t < COCO_IOU_THRESHOLDS.length; t++) {
    if (Math.abs(COCO_IOU_THRESHOLDS[t] - iou) < 1e-9) return t;
  }
  throw new UserError(`${what} ${iou} is not one of COCO's IoU thresholds`, 'use 0.5, 0.55, ..., 0.95');
}
