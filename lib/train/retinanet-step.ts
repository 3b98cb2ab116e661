/**
 * One RetinaNet training step (baseline or MetaAnchor; Sec. 3 and 4 of the paper).
 *
 * Anchors: the baseline matches against its predefined anchors; MetaAnchor draws the
 * configuration's b_i jittered within +-jitter (a function of (seed, step), so a resumed run
 * draws the same), builds the anchors those b_i denote, matches against them, and feeds the same
 * b_i to the anchor function generators. Targets: the matcher (lib/box) per image, with the
 * dataset's ignore flags (crowd / Table 4's dropped boxes). Loss: focal + box regression
 * (lib/model/losses.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { AnchorConfig, anchorGrid, anchorsForConfig, jitteredTrainingAnchors } from '../anchors';
import { buildTargets } from '../box';
import { Batch } from '../data/pipeline';
import { derivedRng } from '../data/seeds';
import { detectionLoss } from '../model';
import { Detector } from '../model/detector';
import { TrainConfig } from './config';
import { StepLoss, TrainingStep, readParts } from './step';

export function retinaNetStep(cfg: TrainConfig, detector: Detector, anchors: AnchorConfig): TrainingStep {
  const K = detector.config.numClasses;
  const gridCache = new Map<string, ReturnType<typeof anchorsForConfig>>();
  return {
    async prepare(batch: Batch, x: tf.Tensor4D, step: number): Promise<StepLoss> {
      const [N, H, W] = batch.shape;
      const key = `${H}x${W}`;
      let grid = gridCache.get(key);
      if (!grid) gridCache.set(key, (grid = anchorsForConfig(anchors, H, W)));
      let anchorBoxes = grid.anchors;
      let bValues: Float32Array | undefined;
      if (cfg.method === 'metaanchor') {
        const j = jitteredTrainingAnchors(anchors, derivedRng(cfg.seed, 'jitter', step), { amplitude: cfg.jitter });
        anchorBoxes = anchorGrid(grid.levels, j.sizesPerLevel);
        bValues = j.b;
      }
      const A = anchorBoxes.length / 4;
      const labels = new Int32Array(N * A);
      const boxTargets = new Float32Array(N * A * 4);
      for (let k = 0; k < N; k++) {
        const item = batch.items[k];
        // item.ignore holds the matcher's GT flags (crowd / dropped), see lib/data/types.ts.
        const t = buildTargets(
          anchorBoxes,
          { boxes: item.boxes, classIdx: item.classIdx, ignore: item.ignore },
          {
            posIou: cfg.posIou,
            negIou: cfg.negIou,
            allowLowQuality: cfg.allowLowQuality,
            numClasses: K,
          },
        );
        labels.set(t.labels, k * A);
        boxTargets.set(t.boxTargets, k * A * 4);
      }
      const labelsT = tf.tensor2d(labels, [N, A], 'int32');
      const targetsT = tf.tensor3d(boxTargets, [N, A, 4], 'float32');
      const bT = bValues ? tf.tensor2d(bValues, [bValues.length / 2, 2], 'float32') : undefined;
      const kept: tf.Scalar[] = [];
      return {
        inputs: bT ? [labelsT, targetsT, bT] : [labelsT, targetsT],
        loss: () => {
          const out = detector.forward(x, bT);
          const l = detectionLoss(out, labelsT, targetsT, {
            focal: { alpha: cfg.focalAlpha, gamma: cfg.focalGamma },
            box: { kind: cfg.boxLoss, beta: cfg.smoothL1Beta },
          });
          kept.push(tf.keep(l.cls), tf.keep(l.box), tf.keep(l.numPositives));
          return l.total;
        },
        parts: () => readParts(kept),
      };
    },
  };
}
