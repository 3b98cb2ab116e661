/**
 * Greedy search of inference anchors (paper Sec. 4.1.2, used by Tables 3, 5, 6 and 8):
 *
 *   "start from a configuration; at each step pick one random anchor from the candidate grid, add
 *    its predictions to the current set, evaluate on a subset of training data, and keep it only if
 *    the score improves."
 *
 * Cost: the backbone, FPN and head towers run once per image (features cached); every candidate then
 * costs one generated anchor function (a conv with K + 4 outputs per level), decoding, per-class NMS
 * over the merged set and one evaluation against the prepared ground truth. Candidates are merged
 * before NMS (the union of the sets' pre-NMS candidates), so NMS sees all anchors' boxes together,
 * as if the detector had run with the union of anchors.
 */
import { AnchorConfig, AnchorShape, formatAnchorSpec, table8CandidateConfig } from '../anchors';
import { eq7Frame } from '../model/config';
import { DetectionDataset } from '../data/types';
import { boxesToOriginal, ImageTransform, inferenceLoader, LoaderConfig } from '../data/pipeline';
import { RAW_PIXELS, anchorBTensor } from '../detect/detect';
import { DetectionHead, detectionHead } from '../detect/head';
import { Detections, InferenceConfig, concatDetections, finalizeDetections } from '../detect/postprocess';
import { PreparedCocoGroundTruth, prepareCocoGroundTruth } from '../eval/coco';
import { cocoDetectionsFromColumns } from '../eval/coco-input';
import { AnyDetector, isYoloDetector, standardBoxCells, yoloSearchCandidateShapes } from '../model/yolo';
import { makeRng, shuffle } from '../util/seed';
import { UserError } from '../util/errors';
import { Progress } from '../util/progress';
import { groundTruthOf } from '../train/datasets';
import { SearchResultFile, SearchTraceEntry } from './result';

export interface SearchOptions {
  /** Configuration the search starts from (usually the training configuration). */
  start: AnchorConfig;
  /**
   * Candidate shapes (default: Table 8's grid, 161 anchors; for YOLOv2 its one-level version,
   * lib/model/yolo/anchors.ts yoloSearchCandidateShapes, 460 anchors).
   */
  candidates?: AnchorShape[];
  /** Candidates tried (default: all, in a seeded random order). */
  steps?: number;
  /** Images of `dataset` used for the search (seeded choice; default 200). */
  subset?: number;
  seed?: number;
  input: Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'>;
  inference?: InferenceConfig;
  batchSize?: number;
  /** Progress line label (omit for none). */
  progressLabel?: string;
}

/** Cached per-batch features (the family's, lib/detect/head.ts) and the images' transforms. */
interface CachedBatch {
  features: unknown;
  items: { imageId: number; transform: ImageTransform }[];
}

/** Pre-NMS candidates of one anchor set on every subset image (input pixels). */
type CandidateSets = Detections[];

/**
 * Features of a dataset's images, computed once (RetinaNet: FPN head towers; YOLOv2: the feature
 * the region conv reads): everything a candidate anchor needs is a generated conv on top of these.
 */
export class FeatureCache {
  readonly batches: CachedBatch[] = [];
  private readonly head: DetectionHead;
  constructor(readonly detector: AnyDetector) {
    this.head = detectionHead(detector);
  }

  static async build(detector: AnyDetector, dataset: DetectionDataset, input: SearchOptions['input'], batchSize: number): Promise<FeatureCache> {
    const cache = new FeatureCache(detector);
    const loader = inferenceLoader(dataset, { ...input, ...RAW_PIXELS, batchSize });
    for await (const batch of loader.batches(0)) {
      cache.batches.push({ features: cache.head.features(batch), items: batch.items.map((it) => ({ imageId: it.imageId, transform: it })) });
    }
    return cache;
  }

  /** Pre-NMS candidates of `anchors` on every cached image. */
  async candidates(anchors: AnchorConfig, cfg: InferenceConfig): Promise<CandidateSets> {
    const out: CandidateSets = [];
    const bT = anchorBTensor(this.detector, anchors);
    try {
      for (const b of this.batches) {
        out.push(
          ...(await this.head.candidates(
            b.features,
            anchors,
            bT,
            b.items.map((it) => it.transform),
            cfg,
          )),
        );
      }
    } finally {
      bT?.dispose();
    }
    return out;
  }

  /** Image ids and transforms in cache order. */
  images(): { imageId: number; transform: ImageTransform }[] {
    return this.batches.flatMap((b) => b.items);
  }

  dispose(): void {
    for (const b of this.batches) this.head.disposeFeatures(b.features);
    this.batches.length = 0;
  }
}

/** mmAP of candidate sets after NMS, against prepared ground truth restricted to the images. */
export function scoreCandidates(
  sets: CandidateSets,
  images: { imageId: number; transform: ImageTransform }[],
  gt: PreparedCocoGroundTruth,
  categoryIds: readonly number[],
  cfg: InferenceConfig,
): number {
  const imageId: number[] = [];
  const categoryId: number[] = [];
  const score: number[] = [];
  const bbox: number[] = [];
  sets.forEach((cand, i) => {
    const d = finalizeDetections(cand, cfg);
    const boxes = boxesToOriginal(d.boxes, images[i].transform);
    for (let j = 0; j < d.scores.length; j++) {
      imageId.push(images[i].imageId);
      categoryId.push(categoryIds[d.classes[j]]);
      score.push(d.scores[j]);
      bbox.push(boxes[4 * j], boxes[4 * j + 1], boxes[4 * j + 2] - boxes[4 * j], boxes[4 * j + 3] - boxes[4 * j + 1]);
    }
  });
  // Columns, not one object per detection: this runs once per candidate anchor.
  const dt = cocoDetectionsFromColumns({ imageId, categoryId, boxXYWH: bbox, score });
  const r = gt.evaluate(dt, { imageIds: images.map((im) => im.imageId) });
  return r.stats[0];
}

/** The subset of images a search evaluates on: a seeded choice of `n` images. */
export function searchSubset(dataset: DetectionDataset, n: number, seed: number): DetectionDataset {
  if (n >= dataset.images.length) return dataset;
  const idx = shuffle(
    Array.from({ length: dataset.images.length }, (_, i) => i),
    makeRng(seed),
  )
    .slice(0, n)
    .sort((a, b) => a - b);
  return { ...dataset, name: `${dataset.name} (search subset ${n})`, images: idx.map((i) => dataset.images[i]) };
}

export interface GreedyStep {
  /** Candidate index (position in the search order). */
  index: number;
  kept: boolean;
  /** Best score after this step. */
  score: number;
  /** Score the current set would have with this candidate added. */
  candidateScore: number;
}

/**
 * The greedy rule of Sec. 4.1.2 on any state: try candidates 0..n-1 in order; `tryCandidate`
 * returns the state with candidate i added and its score; keep it only if the score strictly
 * improves. The reported score therefore never decreases.
 */
export async function greedySelect<S>(
  initial: S,
  initialScore: number,
  n: number,
  tryCandidate: (i: number, current: S) => Promise<{ merged: S; score: number }>,
  onStep?: (step: GreedyStep, best: number) => void,
): Promise<{ state: S; best: number; steps: GreedyStep[] }> {
  let state = initial;
  let best = initialScore;
  const steps: GreedyStep[] = [];
  for (let i = 0; i < n; i++) {
    const { merged, score } = await tryCandidate(i, state);
    const kept = score > best;
    if (kept) {
      state = merged;
      best = score;
    }
    const step = { index: i, kept, score: best, candidateScore: score };
    steps.push(step);
    onStep?.(step, best);
  }
  return { state, best, steps };
}

/** Run the greedy search. `dataset` is the (training) data to search on. */
export async function greedyAnchorSearch(detector: AnyDetector, dataset: DetectionDataset, opts: SearchOptions): Promise<SearchResultFile> {
  if (detector.config.method !== 'metaanchor') {
    throw new UserError(
      'anchor search needs a MetaAnchor model',
      'predefined anchor functions cannot be evaluated at other anchors; train with --method metaanchor',
    );
  }
  const t0 = Date.now();
  const seed = opts.seed ?? 0;
  const yolo = isYoloDetector(detector);
  // The search result is a configuration in the model's own Eq. 7 frame.
  const frame = eq7Frame(detector.config);
  const cfg = opts.inference ?? detectionHead(detector).inference;
  const subset = searchSubset(dataset, opts.subset ?? 200, seed);
  const gt = prepareCocoGroundTruth(groundTruthOf(subset));
  const categoryIds = subset.categories.map((c) => c.id);
  // Candidates already in the starting set are left out: the same anchor twice adds nothing but
  // another top-k budget, and anchor lists must not repeat a shape (lib/anchors parseAnchorSpec).
  const same = (a: AnchorShape, b: AnchorShape) => Math.abs(a.scale - b.scale) < 1e-9 && Math.abs(a.ratioHW - b.ratioHW) < 1e-9;
  const grid = opts.candidates ?? (yolo ? yoloSearchCandidateShapes(standardBoxCells(frame)) : table8CandidateConfig().shapes);
  const pool = grid.filter((c) => !opts.start.shapes.some((s) => same(s, c)));
  const order = shuffle(pool.slice(), makeRng(seed + 1));
  const steps = Math.min(opts.steps ?? order.length, order.length);

  const cache = await FeatureCache.build(detector, subset, opts.input, opts.batchSize ?? 8);
  try {
    const images = cache.images();
    const current = await cache.candidates(opts.start, cfg);
    let keptCount = 0;
    const startScore = scoreCandidates(current, images, gt, categoryIds, cfg);
    const kept: AnchorShape[] = opts.start.shapes.slice();
    const progress = opts.progressLabel ? new Progress({ label: opts.progressLabel, total: steps, unit: 'candidates' }) : undefined;
    const g = await greedySelect(
      current,
      startScore,
      steps,
      async (s, cur) => {
        const single: AnchorConfig = { name: 'candidate', shapes: [order[s]], standardBoxP3: frame };
        const cand = await cache.candidates(single, cfg);
        const merged = cur.map((c, i) => concatDetections([c, cand[i]]));
        return { merged, score: scoreCandidates(merged, images, gt, categoryIds, cfg) };
      },
      (step, best) => {
        if (step.kept) keptCount++;
        progress?.update(step.index + 1, { mmAP: best, kept: keptCount });
      },
    );
    const best = g.best;
    const trace: SearchTraceEntry[] = g.steps.map((st) => {
      const shape = order[st.index];
      if (st.kept) kept.push(shape);
      return { step: st.index + 1, anchor: `s:${shape.scale},r:${shape.ratioHW}`, kept: st.kept, mmAP: st.score, candidateMmAP: st.candidateScore };
    });
    const final: AnchorConfig = { name: 'search', shapes: kept, standardBoxP3: frame };
    return {
      anchors: formatAnchorSpec(final),
      start: opts.start.name,
      startMmAP: startScore,
      finalMmAP: best,
      subsetImages: subset.images.length,
      seed,
      trace,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    cache.dispose();
  }
}
