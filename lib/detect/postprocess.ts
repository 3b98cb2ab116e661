/**
 * RetinaNet inference post-processing (detectron2 `RetinaNet.inference_single_image`):
 * per FPN level, keep (anchor, class) pairs whose sigmoid score exceeds `scoreThresh`, take the
 * `topkPerLevel` best, decode their boxes from the anchors; then per-class NMS over all levels and
 * keep the `maxDetections` best. Works on flat typed arrays of one image, in the anchor order of
 * lib/anchors/grid.ts (level-major, y, x, anchor).
 *
 * The candidate stage is exposed on its own: greedy anchor search (Sec. 4.1.2) merges the candidates
 * of several anchor sets and runs NMS once on the union.
 */
import { batchedNms, clipBoxes, decodeDeltas, gatherRows } from '../box';
import { CocoResultJson } from '../eval/coco-input';

export interface InferenceConfig {
  /** Minimum sigmoid score of a kept (anchor, class) pair. RetinaNet: 0.05. */
  scoreThresh: number;
  /** Candidates kept per FPN level before NMS. RetinaNet: 1000. */
  topkPerLevel: number;
  /** Per-class NMS IoU threshold. RetinaNet: 0.5. */
  nmsIou: number;
  /** Detections kept per image. COCO: 100. */
  maxDetections: number;
}

export const RETINANET_INFERENCE: Readonly<InferenceConfig> = {
  scoreThresh: 0.05,
  topkPerLevel: 1000,
  nmsIou: 0.5,
  maxDetections: 100,
};

/**
 * YOLOv2 (Table 7) inference: darknet's COCO validation (`validate_detector`: score threshold
 * .005, per-class NMS .45), at most 100 detections per image (COCO's maxDets); `topkPerLevel`
 * caps the candidates of YOLO's single level.
 */
export const YOLOV2_INFERENCE: Readonly<InferenceConfig> = {
  scoreThresh: 0.005,
  topkPerLevel: 1000,
  nmsIou: 0.45,
  maxDetections: 100,
};

/** Detections of one image: boxes (x1, y1, x2, y2) 4N, scores N, contiguous class indices N. */
export interface Detections {
  boxes: Float32Array;
  scores: Float32Array;
  classes: Int32Array;
}

export function emptyDetections(): Detections {
  return { boxes: new Float32Array(0), scores: new Float32Array(0), classes: new Int32Array(0) };
}

/**
 * Pre-NMS candidates of one image.
 * @param clsLogits (totalAnchors * K) classification logits, row-major [anchor][class]
 * @param boxDeltas (totalAnchors * 4)
 * @param anchors (totalAnchors * 4) boxes in input pixels
 * @param levelStarts first anchor index of every level plus the total (length L + 1)
 * @param imageSizePx boxes are clipped to this (the valid, unpadded image area); omit to skip
 */
export function detectionCandidates(
  clsLogits: Float32Array,
  boxDeltas: Float32Array,
  anchors: Float32Array,
  levelStarts: ArrayLike<number>,
  numClasses: number,
  cfg: Pick<InferenceConfig, 'scoreThresh' | 'topkPerLevel'> = RETINANET_INFERENCE,
  imageSizePx?: { heightPx: number; widthPx: number },
): Detections {
  const totalAnchors = anchors.length / 4;
  if (clsLogits.length !== totalAnchors * numClasses) {
    throw new RangeError(`detectionCandidates: ${clsLogits.length} logits for ${totalAnchors} anchors x ${numClasses} classes`);
  }
  if (boxDeltas.length !== totalAnchors * 4) {
    throw new RangeError(`detectionCandidates: ${boxDeltas.length / 4} delta rows for ${totalAnchors} anchors`);
  }
  if (levelStarts[levelStarts.length - 1] !== totalAnchors) {
    throw new RangeError(`detectionCandidates: levelStarts ends at ${levelStarts[levelStarts.length - 1]}, expected ${totalAnchors}`);
  }
  // sigmoid(x) > t  <=>  x > log(t / (1 - t)): threshold in logit space, no exp per entry.
  const logitThresh = Math.log(cfg.scoreThresh / (1 - cfg.scoreThresh));
  const keptAnchor: number[] = [];
  const keptClass: number[] = [];
  const keptScore: number[] = [];
  const flat: number[] = [];
  for (let l = 0; l + 1 < levelStarts.length; l++) {
    const begin = levelStarts[l] * numClasses;
    const end = levelStarts[l + 1] * numClasses;
    flat.length = 0;
    for (let i = begin; i < end; i++) if (clsLogits[i] > logitThresh) flat.push(i);
    if (flat.length > cfg.topkPerLevel) {
      // Stable: equal logits keep index order, like a stable top-k.
      flat.sort((a, b) => clsLogits[b] - clsLogits[a] || a - b);
      flat.length = cfg.topkPerLevel;
    }
    for (const idx of flat) {
      keptAnchor.push(Math.floor(idx / numClasses));
      keptClass.push(idx % numClasses);
      keptScore.push(1 / (1 + Math.exp(-clsLogits[idx])));
    }
  }
  let boxes = decodeDeltas(gatherRows(anchors, keptAnchor, 4), gatherRows(boxDeltas, keptAnchor, 4));
  if (imageSizePx) boxes = clipBoxes(boxes, imageSizePx.heightPx, imageSizePx.widthPx);
  const scores = Float32Array.from(keptScore);
  const classes = Int32Array.from(keptClass);
  return { boxes, scores, classes };
}

/** Concatenate detection sets (e.g. candidates of several anchor sets). */
export function concatDetections(sets: readonly Detections[]): Detections {
  let n = 0;
  for (const s of sets) n += s.scores.length;
  const out: Detections = { boxes: new Float32Array(4 * n), scores: new Float32Array(n), classes: new Int32Array(n) };
  let o = 0;
  for (const s of sets) {
    out.boxes.set(s.boxes, 4 * o);
    out.scores.set(s.scores, o);
    out.classes.set(s.classes, o);
    o += s.scores.length;
  }
  return out;
}

/** Per-class NMS and the final cut to `maxDetections`, in decreasing score. */
export function finalizeDetections(candidates: Detections, cfg: Pick<InferenceConfig, 'nmsIou' | 'maxDetections'> = RETINANET_INFERENCE): Detections {
  const keep = batchedNms(candidates.boxes, candidates.scores, candidates.classes, cfg.nmsIou, cfg.maxDetections);
  return {
    boxes: gatherRows(candidates.boxes, keep, 4),
    scores: Float32Array.from(keep, (i) => candidates.scores[i]),
    classes: Int32Array.from(keep, (i) => candidates.classes[i]),
  };
}

/** Candidates, then NMS: the whole RetinaNet post-processing of one image. */
export function postprocessImage(
  clsLogits: Float32Array,
  boxDeltas: Float32Array,
  anchors: Float32Array,
  levelStarts: ArrayLike<number>,
  numClasses: number,
  cfg: InferenceConfig = RETINANET_INFERENCE,
  imageSizePx?: { heightPx: number; widthPx: number },
): Detections {
  return finalizeDetections(detectionCandidates(clsLogits, boxDeltas, anchors, levelStarts, numClasses, cfg, imageSizePx), cfg);
}

/** One entry of a COCO results json (what lib/eval reads). */
export interface CocoResult extends CocoResultJson {
  bbox: [number, number, number, number];
}

/**
 * COCO results for one image. `toOriginal` maps a box from network-input pixels back to the
 * original image (undo resize and padding; see lib/data/pipeline); `categoryIds[c]` is the dataset's
 * category id of contiguous class c.
 */
export function toCocoResults(
  dets: Detections,
  imageId: number,
  categoryIds: readonly number[],
  toOriginal: (box: [number, number, number, number]) => [number, number, number, number] = (b) => b,
): CocoResult[] {
  const out: CocoResult[] = [];
  for (let i = 0; i < dets.scores.length; i++) {
    const [x1, y1, x2, y2] = toOriginal([dets.boxes[4 * i], dets.boxes[4 * i + 1], dets.boxes[4 * i + 2], dets.boxes[4 * i + 3]]);
    const catId = categoryIds[dets.classes[i]];
    if (catId === undefined) throw new RangeError(`toCocoResults: class index ${dets.classes[i]} has no category id`);
    out.push({
      image_id: imageId,
      category_id: catId,
      bbox: [x1, y1, x2 - x1, y2 - y1],
      score: dets.scores[i],
    });
  }
  return out;
}
