/**
 * Running a detector over a dataset: batches through the input pipeline, the network, the
 * post-processing (RetinaNet's, or YOLOv2's region decoding for a YOLO detector), and back to
 * original-image COCO results.
 *
 * Anchors: the baseline detects with the anchors it was trained with (its last convs have A*K
 * outputs, so A is fixed). MetaAnchor detects with any anchor configuration (Table 3): the
 * configuration's boxes are encoded with Eq. 7 relative to the *training* configuration's standard
 * box, since that is the frame the generator learned b in.
 */
import * as tf from '@tensorflow/tfjs';
import { AnchorConfig, StandardBox, anchorsForConfig, configB } from '../anchors';
import { DetectionDataset } from '../data/types';
import { DetectionLoader, ImageTransform, boxesToOriginal, inferenceLoader, LoaderConfig } from '../data/pipeline';
import { batchToTensor } from '../data/tensor';
import { AnyDetector, YoloDetector, anchorCellsOf, isYoloDetector, regionCandidates } from '../model/yolo';
import { UserError } from '../util/errors';
import { Progress } from '../util/progress';
import { CocoResult, Detections, InferenceConfig, RETINANET_INFERENCE, YOLOV2_INFERENCE, detectionCandidates, finalizeDetections } from './postprocess';

/** The pipeline feeds the model raw RGB in 0..255; the model normalises (lib/model/config.ts). */
export const RAW_PIXELS: Pick<LoaderConfig, 'mean' | 'std'> = { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] };

export interface DetectOptions {
  /** Anchors to detect with (MetaAnchor: any; baseline: must have the trained count). */
  anchors: AnchorConfig;
  /** MetaAnchor: the training configuration's standard box (Eq. 7 frame). */
  standardBoxP3?: StandardBox;
  input: Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'>;
  batchSize?: number;
  /** Default: RETINANET_INFERENCE, or YOLOV2_INFERENCE for a YOLOv2 detector. */
  inference?: InferenceConfig;
  /** Only the first `maxImages` images of the dataset (0 or undefined = all). */
  maxImages?: number;
  /** Show a progress line. */
  progressLabel?: string;
}

/** Per image: detections in network-input pixels (before mapping back), plus the image's transform. */
export interface ImageDetections {
  imageId: number;
  index: number;
  dets: Detections;
}

/** The Eq. 7 codes of `anchors` as a [A, 2] tensor, or undefined for the baseline. */
export function anchorBTensor(detector: AnyDetector, anchors: AnchorConfig, standardBoxP3?: StandardBox): tf.Tensor2D | undefined {
  if (detector.config.method === 'baseline') {
    if (anchors.shapes.length !== detector.config.numAnchors) {
      throw new UserError(
        `this baseline detector was trained with ${detector.config.numAnchors} anchors per location; "${anchors.name}" has ${anchors.shapes.length}`,
        'predefined anchor functions are fixed: detect with the training anchors, or train MetaAnchor to use customized anchors',
      );
    }
    return undefined;
  }
  const b = configB(anchors, standardBoxP3 ?? anchors.standardBoxP3);
  return tf.tensor2d(b, [anchors.shapes.length, 2], 'float32');
}

/** Detect on every image of `dataset`; returns COCO results in original-image pixels. */
export async function detectDataset(detector: AnyDetector, dataset: DetectionDataset, opts: DetectOptions): Promise<CocoResult[]> {
  const results: CocoResult[] = [];
  const categoryIds = dataset.categories.map((c) => c.id);
  await forEachImageDetections(detector, dataset, opts, (img, dets) => {
    const entry = dataset.images[img.index];
    const boxes = boxesToOriginal(dets.boxes, img.transform);
    for (let i = 0; i < dets.scores.length; i++) {
      const x1 = boxes[4 * i];
      const y1 = boxes[4 * i + 1];
      results.push({
        image_id: entry.id,
        category_id: categoryIds[dets.classes[i]],
        bbox: [x1, y1, boxes[4 * i + 2] - x1, boxes[4 * i + 3] - y1],
        score: dets.scores[i],
      });
    }
  });
  return results;
}

/**
 * The loop under detectDataset, exposed for callers that want input-pixel detections (drawing,
 * search). `onImage` receives each image's final detections (after NMS) in input pixels.
 */
export async function forEachImageDetections(
  detector: AnyDetector,
  dataset: DetectionDataset,
  opts: DetectOptions,
  onImage: (img: { index: number; imageId: number; transform: ImageTransform }, dets: Detections) => void,
): Promise<void> {
  if (isYoloDetector(detector)) return forEachYoloImageDetections(detector, dataset, opts, onImage);
  const cfg = opts.inference ?? RETINANET_INFERENCE;
  const sub = opts.maxImages && opts.maxImages < dataset.images.length ? { ...dataset, images: dataset.images.slice(0, opts.maxImages) } : dataset;
  const loader: DetectionLoader = inferenceLoader(sub, { ...opts.input, ...RAW_PIXELS, batchSize: opts.batchSize ?? 8 });
  const K = detector.config.numClasses;
  const bTensor = anchorBTensor(detector, opts.anchors, opts.standardBoxP3);
  const progress = opts.progressLabel ? new Progress({ label: opts.progressLabel, total: sub.images.length, unit: 'images' }) : undefined;
  let done = 0;
  const anchorCache = new Map<string, ReturnType<typeof anchorsForConfig>>();
  try {
    for await (const batch of loader.batches(0)) {
      const [n, H, W] = batch.shape;
      const key = `${H}x${W}`;
      let grid = anchorCache.get(key);
      if (!grid) anchorCache.set(key, (grid = anchorsForConfig(opts.anchors, H, W)));
      const { cls, box } = tf.tidy(() => {
        const x = batchToTensor(batch);
        const out = detector.forward(x, bTensor);
        return { cls: out.clsLogits, box: out.boxDeltas };
      });
      const [clsData, boxData] = await Promise.all([cls.data() as Promise<Float32Array>, box.data() as Promise<Float32Array>]);
      cls.dispose();
      box.dispose();
      const A = grid.anchors.length / 4;
      for (let k = 0; k < n; k++) {
        const item = batch.items[k];
        const cand = detectionCandidates(
          clsData.subarray(k * A * K, (k + 1) * A * K),
          boxData.subarray(k * A * 4, (k + 1) * A * 4),
          grid.anchors,
          grid.starts,
          K,
          cfg,
          { heightPx: item.resizedHeightPx, widthPx: item.resizedWidthPx },
        );
        onImage({ index: item.index, imageId: item.imageId, transform: item }, finalizeDetections(cand, cfg));
      }
      done += n;
      progress?.update(done);
    }
  } finally {
    bTensor?.dispose();
  }
}

/**
 * YOLOv2's loop: region outputs -> candidates (objectness x softmax > threshold, decoded with the
 * anchors in grid cells; lib/model/yolo/region.ts) -> per-class NMS. The baseline detects with its
 * training anchors; MetaAnchor with any list, its b encoded against the training standard box.
 */
async function forEachYoloImageDetections(
  detector: YoloDetector,
  dataset: DetectionDataset,
  opts: DetectOptions,
  onImage: (img: { index: number; imageId: number; transform: ImageTransform }, dets: Detections) => void,
): Promise<void> {
  const cfg = opts.inference ?? YOLOV2_INFERENCE;
  const sub = opts.maxImages && opts.maxImages < dataset.images.length ? { ...dataset, images: dataset.images.slice(0, opts.maxImages) } : dataset;
  const loader: DetectionLoader = inferenceLoader(sub, { ...opts.input, ...RAW_PIXELS, batchSize: opts.batchSize ?? 8 });
  const bTensor = anchorBTensor(detector, opts.anchors, opts.standardBoxP3);
  const anchorsWH = anchorCellsOf(opts.anchors);
  const progress = opts.progressLabel ? new Progress({ label: opts.progressLabel, total: sub.images.length, unit: 'images' }) : undefined;
  let done = 0;
  try {
    for await (const batch of loader.batches(0)) {
      const n = batch.shape[0];
      const raw = tf.tidy(() => detector.forward(batchToTensor(batch), bTensor));
      const [, gridH, gridW] = raw.shape;
      const data = (await raw.data()) as Float32Array;
      raw.dispose();
      const per = data.length / n;
      const shape = { gridH, gridW, numAnchors: anchorsWH.length / 2, numClasses: detector.numClasses };
      for (let k = 0; k < n; k++) {
        const item = batch.items[k];
        const cand = regionCandidates(data.subarray(k * per, (k + 1) * per), shape, anchorsWH, detector.stridePx, cfg, {
          heightPx: item.resizedHeightPx,
          widthPx: item.resizedWidthPx,
        });
        onImage({ index: item.index, imageId: item.imageId, transform: item }, finalizeDetections(cand, cfg));
      }
      done += n;
      progress?.update(done);
    }
  } finally {
    bTensor?.dispose();
  }
}
