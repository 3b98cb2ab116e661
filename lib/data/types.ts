/**
 * The internal form every dataset is loaded into (COCO json, VOCdevkit, the embedded MNIST-Det).
 *
 * Boxes follow the shared convention (docs/CONTRACT.md): Float32Array of length 4N holding
 * (x1, y1, x2, y2) in the pixels of the ORIGINAL image file, continuous coordinates
 * (width = x2 - x1, no "+1"). The input pipeline (pipeline.ts) maps them into input-image pixels.
 *
 * Categories are kept twice: the dataset's own ids (official sparse COCO ids 1..90, VOC 1..20 in
 * the standard class order) and contiguous indices 0..K-1, which is what the classification head
 * predicts. `categoryIndexToId` maps a prediction back to the id a COCO results file needs.
 */

export interface CategoryInfo {
  /** Contiguous index 0..K-1 (the class channel of the detection head). */
  index: number;
  /** The dataset's own category id (COCO: sparse official ids). */
  id: number;
  name: string;
  supercategory?: string;
}

export interface ImageEntry {
  /** Image id as in the source (COCO `images[].id`; VOC: 1-based position in the image set). */
  id: number;
  /** File name relative to the dataset's image folder. */
  fileName: string;
  /** Absolute path of the image file. */
  filePath: string;
  widthPx: number;
  heightPx: number;
  /** 4N: (x1, y1, x2, y2) in original-image pixels, already clipped to the image. */
  boxes: Float32Array;
  /** N: contiguous category index 0..K-1. */
  classIdx: Int32Array;
  /**
   * N: training flags, the codes of lib/box/matcher.ts: 0 normal; 1 (GT_CROWD) COCO `iscrowd`
   * regions: anchors mostly inside them are not background; 2 (GT_DROPPED) VOC `difficult` objects
   * and Table 4's dropped boxes: matched like any box, then the anchors they claim are neither
   * positive nor negative. Any non-zero value is "not a normal box" for statistics and evaluation.
   */
  ignore: Uint8Array;
  /** N: COCO annotation ids (VOC: 1-based running ids), for error messages and round trips. */
  annotationIds: Int32Array;
  /** N: COCO `area` field when the source had one (segment area, not always w*h), else w*h. */
  areas: Float32Array;
}

export interface DetectionDataset {
  /** Short name for logs, e.g. "mnist-det/train" or "coco8". */
  name: string;
  format: 'coco' | 'voc';
  /** Folder the image file names are relative to. */
  imageDir: string;
  /** The annotation file (COCO json) or the VOCdevkit year folder this was read from. */
  source: string;
  categories: CategoryInfo[];
  images: ImageEntry[];
  /** What the loader had to fix, counted (clipped boxes, skipped boxes, crowd boxes ...). */
  report: LoadReport;
}

export interface LoadReport {
  images: number;
  annotations: number;
  /** Boxes flagged ignore by the source (COCO iscrowd / VOC difficult). */
  ignoreBoxes: number;
  imagesWithoutAnnotations: number;
  /** Boxes partly outside the image, clipped to it. */
  clippedBoxes: number;
  /** Boxes with non-positive size skipped because the caller asked to skip them. */
  skippedInvalidBoxes: number;
  warnings: string[];
}

export function emptyReport(): LoadReport {
  return {
    images: 0,
    annotations: 0,
    ignoreBoxes: 0,
    imagesWithoutAnnotations: 0,
    clippedBoxes: 0,
    skippedInvalidBoxes: 0,
    warnings: [],
  };
}

/** Map from the dataset's category id to the contiguous index. */
export function categoryIdToIndex(ds: Pick<DetectionDataset, 'categories'>): Map<number, number> {
  return new Map(ds.categories.map((c) => [c.id, c.index]));
}

/** The dataset category id of contiguous index `index` (for COCO results files). */
export function categoryIndexToId(ds: Pick<DetectionDataset, 'categories'>, index: number): number {
  const cat = ds.categories[index];
  if (!cat || cat.index !== index) throw new RangeError(`no category with index ${index} (K = ${ds.categories.length})`);
  return cat.id;
}

export function categoryNames(ds: Pick<DetectionDataset, 'categories'>): string[] {
  return ds.categories.map((c) => c.name);
}

/** Total number of boxes (ignore regions included). */
export function boxTotal(ds: Pick<DetectionDataset, 'images'>): number {
  let n = 0;
  for (const im of ds.images) n += im.classIdx.length;
  return n;
}
