/**
 * Scoring a finished table run (cached in its folder, run-cache.ts): COCO stats on the validation
 * set or VOC AP on Table 5's transfer target with the cell's inference anchors, the greedy anchor
 * search behind inference 'search', and COCO stats on the search's training subset (Table 8's
 * RetinaNet* selection). Datasets and prepared ground truth are loaded once per process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, parseAnchorSpec } from '../anchors';
import { initBackend } from '../backend';
import { DetectionDataset } from '../data/types';
import { cocoScore } from '../detect/score';
import { PreparedCocoGroundTruth, prepareCocoGroundTruth } from '../eval/coco';
import { greedyAnchorSearch, searchSubset } from '../search/greedy';
import { SearchResultFile, readSearchResult, writeSearchResult } from '../search/result';
import { TrainConfig, inputGeometry } from '../train/config';
import { groundTruthOf, loadDatasetSpec } from '../train/datasets';
import { loadRun } from '../train/run-dir';
import { readTrainState } from '../train/trainer';
import { writeJsonAtomicSync } from '../util/atomic';
import { UserError } from '../util/errors';
import { canonicalJson } from './key';
import { ExperimentSettings, SearchSettings } from './settings';
import { evalFileOf, searchFileOf, trainSubsetEvalFileOf } from './run-cache';
import { Inference, METRIC_INDEX, MetricName, TableEvaluation } from './tables';
import { evaluateVocTransfer, shiftedVocTarget } from '../transfer/voc-transfer';

/** A metric of an evaluation record (fraction): COCO stats by index, or the VOC mean AP. */
export function metricValue(record: EvalRecordFile, metric: MetricName): number {
  if (metric === 'VOC mAP50') {
    if (!record.voc) throw new Error(`evaluation of ${record.anchors} has no VOC result`);
    return record.voc.mAP;
  }
  if (record.voc) throw new Error(`a VOC evaluation has no COCO ${metric}`);
  return record.stats[METRIC_INDEX[metric]];
}

/** A VOC transfer evaluation (Table 5): the metric's mean and per-class AP (fractions). */
export interface VocRecord {
  metric: 'voc07';
  target: string;
  leaveOut: string[];
  mAP: number;
  perClass: { className: string; ap: number; npos: number; numDets: number }[];
}

export interface EvalRecordFile {
  /** The cell's inference setting ('train', 'search' or an anchor spec). */
  inference: string;
  /** Name of the anchors used (the searched list for 'search'). */
  anchors: string;
  images: number;
  /** COCO's 12 summary numbers (fractions); empty for a VOC evaluation. */
  stats: number[];
  /** The search result file, for inference 'search'. */
  searchFile?: string;
  /** Set for a VOC transfer evaluation (Table 5) instead of COCO stats. */
  voc?: VocRecord;
  /** 'train-subset': COCO stats on the search's subset of training images; absent: the validation set / target. */
  split?: 'train-subset';
  seconds: number;
}

/** Datasets and prepared ground truth, loaded once per process. */
const datasetMemo = new Map<string, Promise<DetectionDataset>>();
const gtMemo = new Map<DetectionDataset, PreparedCocoGroundTruth>();

function dataset(cfg: TrainConfig, split: 'train' | 'val'): Promise<DetectionDataset> {
  const spec = split === 'train' ? cfg.train : cfg.val;
  const key = `${split}:${canonicalJson(spec)}`;
  let p = datasetMemo.get(key);
  if (!p) {
    p = loadDatasetSpec(spec, split);
    datasetMemo.set(key, p);
  }
  return p;
}

let vocTargetMemo: Promise<DetectionDataset> | undefined;

function vocTarget(evaluation: Extract<TableEvaluation, { kind: 'voc-transfer' }>): Promise<DetectionDataset> {
  if (evaluation.target !== 'mnist-det-shifted')
    throw new UserError(`unknown transfer target "${String(evaluation.target)}"`, 'the embedded target is "mnist-det-shifted"');
  if (!vocTargetMemo) {
    vocTargetMemo = shiftedVocTarget();
    vocTargetMemo.catch(() => (vocTargetMemo = undefined));
  }
  return vocTargetMemo;
}

function groundTruth(ds: DetectionDataset): PreparedCocoGroundTruth {
  let gt = gtMemo.get(ds);
  if (!gt) {
    gt = prepareCocoGroundTruth(groundTruthOf(ds));
    gtMemo.set(ds, gt);
  }
  return gt;
}

/** The search of a run (cached in the run folder). */
export async function ensureSearch(
  dir: string,
  search: SearchSettings,
): Promise<{ file: string; result: SearchResultFile; anchors: AnchorConfig; reused: boolean }> {
  const file = searchFileOf(dir, search);
  if (fs.existsSync(file)) {
    const r = readSearchResult(file);
    return { file, result: r.file, anchors: r.anchors, reused: true };
  }
  await initBackend();
  const run = loadRun(dir);
  try {
    if (!run.config) throw new UserError(`${dir} has no config.json`, 'delete the folder and rerun the table');
    const trainSet = await dataset(run.config, 'train');
    const result = await greedyAnchorSearch(run.detector, trainSet, {
      start: run.trainAnchors,
      steps: search.steps,
      subset: search.subset,
      seed: search.seed,
      input: inputGeometry(run.config),
      batchSize: Math.max(1, Math.min(8, run.config.batchSize)),
    });
    writeSearchResult(file, result);
    return { file, result, anchors: readSearchResult(file).anchors, reused: false };
  } finally {
    run.detector.dispose();
  }
}

/**
 * COCO stats of a finished run with `inference` anchors on the validation set (cached). With the
 * training anchors and the table's image count, the trainer's final validation is the answer.
 * With a 'voc-transfer' evaluation (Table 5): VOC AP on the transfer target's first
 * `settings.evalImages` images instead; a searched anchor set still comes from the search on the
 * run's own training data.
 */
export async function evaluateRun(
  dir: string,
  cfg: TrainConfig,
  inference: Inference,
  settings: ExperimentSettings,
  evaluation: TableEvaluation = { kind: 'coco' },
): Promise<{ record: EvalRecordFile; reused: boolean }> {
  const file = evalFileOf(dir, cfg, inference, settings, evaluation);
  if (fs.existsSync(file)) return { record: JSON.parse(fs.readFileSync(file, 'utf8')) as EvalRecordFile, reused: true };
  const t0 = Date.now();
  const sameAsTraining = inference === 'train' || inference === cfg.anchors;
  if (evaluation.kind === 'coco' && sameAsTraining && cfg.evalImages === settings.evalImages) {
    const last = readTrainState(dir).evals.find((e) => e.step === cfg.steps);
    if (last) {
      const record: EvalRecordFile = { inference: 'train', anchors: cfg.anchors, images: last.images, stats: last.stats, seconds: last.sec };
      writeJsonAtomicSync(file, record);
      return { record, reused: false };
    }
  }
  let anchors: AnchorConfig;
  let searchFile: string | undefined;
  if (inference === 'search') {
    const s = await ensureSearch(dir, settings.search);
    anchors = s.anchors;
    searchFile = path.basename(s.file);
  } else {
    anchors = parseAnchorSpec(sameAsTraining ? cfg.anchors : inference);
  }
  await initBackend();
  const run = loadRun(dir);
  const input = inputGeometry(cfg);
  try {
    if (evaluation.kind === 'voc-transfer') {
      const target = await vocTarget(evaluation);
      const n = settings.evalImages > 0 ? Math.min(settings.evalImages, target.images.length) : target.images.length;
      const r = await evaluateVocTransfer(run.detector, target, {
        anchors,
        input,
        sourceCategories: run.categories,
        leaveOut: evaluation.leaveOut,
        metric: evaluation.metric,
        maxImages: n,
      });
      const record: EvalRecordFile = {
        inference: sameAsTraining ? 'train' : inference,
        anchors: inference === 'search' ? 'search' : anchors.name,
        images: n,
        stats: [],
        ...(searchFile ? { searchFile } : {}),
        voc: {
          metric: evaluation.metric,
          target: `${evaluation.target} (${target.name})`,
          leaveOut: evaluation.leaveOut.slice(),
          mAP: r.mAP,
          perClass: r.perClass.map((c) => ({ className: c.className, ap: c.ap, npos: c.npos, numDets: c.numDets })),
        },
        seconds: (Date.now() - t0) / 1000,
      };
      writeJsonAtomicSync(file, record);
      return { record, reused: false };
    }
    const val = await dataset(cfg, 'val');
    const n = settings.evalImages > 0 ? Math.min(settings.evalImages, val.images.length) : val.images.length;
    const r = await cocoScore(run.detector, val, { anchors, input, maxImages: n, batchSize: Math.max(1, Math.min(8, cfg.batchSize)), gt: groundTruth(val) });
    const record: EvalRecordFile = {
      inference: sameAsTraining ? 'train' : inference,
      anchors: inference === 'search' ? 'search' : anchors.name,
      images: n,
      stats: r.stats,
      searchFile,
      seconds: (Date.now() - t0) / 1000,
    };
    writeJsonAtomicSync(file, record);
    return { record, reused: false };
  } finally {
    run.detector.dispose();
  }
}

/**
 * COCO stats of a finished run with its training anchors on the greedy search's subset of its
 * training images (the same seeded choice of `search.subset` images, lib/search/greedy.ts
 * searchSubset); cached. Table 8's RetinaNet* is picked with this: by training data only.
 */
export async function evaluateOnTrainSubset(dir: string, cfg: TrainConfig, search: SearchSettings): Promise<{ record: EvalRecordFile; reused: boolean }> {
  const file = trainSubsetEvalFileOf(dir, search);
  if (fs.existsSync(file)) return { record: JSON.parse(fs.readFileSync(file, 'utf8')) as EvalRecordFile, reused: true };
  const t0 = Date.now();
  await initBackend();
  const run = loadRun(dir);
  try {
    const subset = searchSubset(await dataset(cfg, 'train'), search.subset, search.seed);
    const r = await cocoScore(run.detector, subset, {
      anchors: run.trainAnchors,
      input: inputGeometry(cfg),
      batchSize: Math.max(1, Math.min(8, cfg.batchSize)),
    });
    const record: EvalRecordFile = {
      inference: 'train',
      anchors: cfg.anchors,
      images: subset.images.length,
      stats: r.stats,
      split: 'train-subset',
      seconds: (Date.now() - t0) / 1000,
    };
    writeJsonAtomicSync(file, record);
    return { record, reused: false };
  } finally {
    run.detector.dispose();
  }
}
