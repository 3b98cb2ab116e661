/**
 * "Detect on the first n images of a dataset and score them with the COCO evaluator": the one
 * measurement behind a run's validation, a table cell's evaluation, Table 8's training-subset
 * score and a learning curve's points.
 */
import { DetectionDataset } from '../data/types';
import { PreparedCocoGroundTruth, prepareCocoGroundTruth } from '../eval/coco';
import { groundTruthOf } from '../train/datasets';
import { AnyDetector } from '../model/yolo';
import { DetectOptions, detectDataset } from './detect';

export interface CocoScore {
  /** COCO's 12 summary numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl), fractions. */
  stats: number[];
  /** Images scored (the first `maxImages` of the dataset, or all). */
  images: number;
}

export interface ScoreOptions extends DetectOptions {
  /** The dataset's prepared ground truth, when the caller keeps one (it is built otherwise). */
  gt?: PreparedCocoGroundTruth;
}

/** COCO stats of `detector` on the first `opts.maxImages` images of `dataset` (0 or undefined = all). */
export async function cocoScore(detector: AnyDetector, dataset: DetectionDataset, opts: ScoreOptions): Promise<CocoScore> {
  const { gt, ...detect } = opts;
  const n = detect.maxImages && detect.maxImages > 0 ? Math.min(detect.maxImages, dataset.images.length) : dataset.images.length;
  const results = await detectDataset(detector, dataset, { ...detect, maxImages: n });
  const prepared = gt ?? prepareCocoGroundTruth(groundTruthOf(dataset));
  const r = prepared.evaluate(results, { imageIds: dataset.images.slice(0, n).map((im) => im.id) });
  return { stats: r.stats, images: n };
}
