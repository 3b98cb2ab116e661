/**
 * Running a detector over a dataset: batches through the input pipeline, the network, the
 * post-processing (RetinaNet's, or YOLOv2's region decoding for a YOLO detector; ./head.ts), and
 * back to original-image COCO results.
 *
 * Anchors: the baseline detects with the anchors it was trained with (its last convs have A*K
 * outputs, so A is fixed). MetaAnchor detects with any anchor configuration (Table 3): the
 * configuration's boxes are encoded with Eq. 7 in the model's own frame (ModelConfig.standardBoxP3,
 * the *training* configuration's standard box), since that is the frame the generator learned b in;
 * the asked configuration's own standard box plays no part.
 */
import * as tf from '@tensorflow/tfjs';
import { AnchorConfig, configB } from '../anchors';
import { eq7Frame } from '../model/config';
import { DetectionDataset } from '../data/types';
import { DetectionLoader, ImageTransform, boxesToOriginal, inferenceLoader, LoaderConfig } from '../data/pipeline';
import { AnyDetector } from '../model/yolo';
import { UserError } from '../util/errors';
import { Progress } from '../util/progress';
import { detectionHead } from './head';
import { CocoResult, Detections, InferenceConfig, finalizeDetections } from './postprocess';

/** The pipeline feeds the model raw RGB in 0..255; the model normalises (lib/model/config.ts). */
export const RAW_PIXELS: Pick<LoaderConfig, 'mean' | 'std'> = { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] };

export interface DetectOptions {
  /** Anchors to detect with (MetaAnchor: any; baseline: must have the trained count). */
  anchors: AnchorConfig;
  input: Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'>;
  batchSize?: number;
  /** Default: the family's (./head.ts): RETINANET_INFERENCE, or YOLOV2_INFERENCE for a YOLOv2 detector. */
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

/** The Eq. 7 codes of `anchors` in the model's frame as a [A, 2] tensor, or undefined for the baseline. */
export function anchorBTensor(detector: AnyDetector, anchors: AnchorConfig): tf.Tensor2D | undefined {
  if (detector.config.method === 'baseline') {
    if (anchors.shapes.length !== detector.config.numAnchors) {
      throw new UserError(
        `this baseline detector was trained with ${detector.config.numAnchors} anchors per location; "${anchors.name}" has ${anchors.shapes.length}`,
        'predefined anchor functions are fixed: detect with the training anchors, or train MetaAnchor to use customized anchors',
      );
    }
    return undefined;
  }
  const b = configB(anchors, eq7Frame(detector.config));
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
  const head = detectionHead(detector);
  const cfg = opts.inference ?? head.inference;
  const sub = opts.maxImages && opts.maxImages < dataset.images.length ? { ...dataset, images: dataset.images.slice(0, opts.maxImages) } : dataset;
  const loader: DetectionLoader = inferenceLoader(sub, { ...opts.input, ...RAW_PIXELS, batchSize: opts.batchSize ?? 8 });
  const bTensor = anchorBTensor(detector, opts.anchors);
  const progress = opts.progressLabel ? new Progress({ label: opts.progressLabel, total: sub.images.length, unit: 'images' }) : undefined;
  let done = 0;
  try {
    for await (const batch of loader.batches(0)) {
      const features = head.features(batch);
      let candidates: Detections[];
      try {
        candidates = await head.candidates(features, opts.anchors, bTensor, batch.items, cfg);
      } finally {
        head.disposeFeatures(features);
      }
      batch.items.forEach((item, k) => onImage({ index: item.index, imageId: item.imageId, transform: item }, finalizeDetections(candidates[k], cfg)));
      done += batch.items.length;
      progress?.update(done);
    }
  } finally {
    bTensor?.dispose();
  }
}
