/**
 * What detection needs from a detector family, and nothing else: its default post-processing, its
 * anchor-independent features of a batch, and how one anchor set turns those features into
 * pre-NMS candidates. Detection (./detect.ts) and the anchor search (lib/search/greedy.ts) share
 * one loop over these; only this file knows RetinaNet from YOLOv2.
 *
 * RetinaNet: FPN head towers (Fig. 1b x_cls, x_reg), then the anchor functions, sigmoid scores and
 * box deltas decoded per level (./postprocess.ts). YOLOv2: the darknet trunk's feature, then the
 * region conv, objectness x softmax decoded in grid cells (lib/model/yolo/region.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { AnchorConfig, anchorsForConfig } from '../anchors';
import { Batch, ImageTransform } from '../data/pipeline';
import { batchToTensor } from '../data/tensor';
import { Detector, HeadFeatures, LevelShape } from '../model';
import { AnyDetector, YoloDetector, anchorCellsOf, isYoloDetector, regionCandidates } from '../model/yolo';
import { Detections, InferenceConfig, RETINANET_INFERENCE, YOLOV2_INFERENCE, detectionCandidates } from './postprocess';

/** The resized (unpadded) size of one image of a batch: candidates are clipped to it. */
export type ResizedSize = Pick<ImageTransform, 'resizedHeightPx' | 'resizedWidthPx'>;

export interface DetectionHead<F = unknown> {
  /** The family's default post-processing: RETINANET_INFERENCE or YOLOV2_INFERENCE. */
  readonly inference: Readonly<InferenceConfig>;
  /** Anchor-independent features of a batch; the caller disposes them (disposeFeatures). */
  features(batch: Batch): F;
  disposeFeatures(features: F): void;
  /**
   * Pre-NMS candidates (input pixels) of `anchors` on every image of a batch's features.
   * anchorB: the anchors' Eq. 7 codes (lib/detect/detect.ts anchorBTensor; undefined for the baseline).
   * images: per image of the batch, in batch order.
   */
  candidates(features: F, anchors: AnchorConfig, anchorB: tf.Tensor2D | undefined, images: readonly ResizedSize[], cfg: InferenceConfig): Promise<Detections[]>;
}

/** The detection head of `detector`'s family. */
export function detectionHead(detector: AnyDetector): DetectionHead {
  return isYoloDetector(detector) ? yoloHead(detector) : retinaNetHead(detector);
}

const sizeOf = (im: ResizedSize) => ({ heightPx: im.resizedHeightPx, widthPx: im.resizedWidthPx });

interface RetinaNetFeatures {
  features: HeadFeatures;
  levels: LevelShape[];
  /** Padded batch size: the anchor grid covers it. */
  heightPx: number;
  widthPx: number;
}

function retinaNetHead(detector: Detector): DetectionHead<RetinaNetFeatures> {
  const K = detector.config.numClasses;
  // Anchor grids per anchor set and padded size: detection reuses them across batches.
  const grids = new WeakMap<AnchorConfig, Map<string, ReturnType<typeof anchorsForConfig>>>();
  const gridOf = (anchors: AnchorConfig, heightPx: number, widthPx: number) => {
    let bySize = grids.get(anchors);
    if (!bySize) grids.set(anchors, (bySize = new Map()));
    const key = `${heightPx}x${widthPx}`;
    let grid = bySize.get(key);
    if (!grid) bySize.set(key, (grid = anchorsForConfig(anchors, heightPx, widthPx)));
    return grid;
  };
  return {
    inference: RETINANET_INFERENCE,
    features(batch) {
      const x = batchToTensor(batch);
      const { features, levels } = detector.headFeatures(x);
      x.dispose();
      return { features, levels, heightPx: batch.shape[1], widthPx: batch.shape[2] };
    },
    disposeFeatures(f) {
      tf.dispose([...f.features.cls, ...f.features.box]);
    },
    async candidates(f, anchors, anchorB, images, cfg) {
      const grid = gridOf(anchors, f.heightPx, f.widthPx);
      const pred = detector.predict(f.features, f.levels, anchorB);
      const [cls, box] = await Promise.all([pred.clsLogits.data() as Promise<Float32Array>, pred.boxDeltas.data() as Promise<Float32Array>]);
      pred.clsLogits.dispose();
      pred.boxDeltas.dispose();
      const A = grid.anchors.length / 4;
      return images.map((im, k) =>
        detectionCandidates(cls.subarray(k * A * K, (k + 1) * A * K), box.subarray(k * A * 4, (k + 1) * A * 4), grid.anchors, grid.starts, K, cfg, sizeOf(im)),
      );
    },
  };
}

function yoloHead(detector: YoloDetector): DetectionHead<tf.Tensor4D> {
  return {
    inference: YOLOV2_INFERENCE,
    features(batch) {
      return tf.tidy(() => detector.headFeatures(batchToTensor(batch)));
    },
    disposeFeatures(f) {
      f.dispose();
    },
    async candidates(f, anchors, anchorB, images, cfg) {
      const anchorsWH = anchorCellsOf(anchors);
      const raw = detector.predict(f, anchorB);
      const [n, gridH, gridW] = raw.shape;
      const data = (await raw.data()) as Float32Array;
      raw.dispose();
      const per = data.length / n;
      const shape = { gridH, gridW, numAnchors: anchorsWH.length / 2, numClasses: detector.numClasses };
      return images.map((im, k) => regionCandidates(data.subarray(k * per, (k + 1) * per), shape, anchorsWH, detector.stridePx, cfg, sizeOf(im)));
    },
  };
}
