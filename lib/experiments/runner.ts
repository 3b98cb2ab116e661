/**
 * Running a table: every cell's runs are trained (or found finished, or resumed) by parallel worker
 * processes (parallel.ts), then evaluated in this process with the cell's inference anchors; both
 * steps are cached on disk.
 *
 * Layout (shared by all tables, so that cells with the same training configuration share runs):
 *   <runsDir>/<readable-name>-<hash>/          one training run (lib/train/trainer.ts layout)
 *     config.json checkpoint/ metrics.json log.jsonl
 *     table-evals/<inference>-<hash>.json      COCO stats of one inference setting
 *     table-evals/voc-<inference>-<hash>.json  VOC transfer AP of one inference setting (Table 5)
 *     table-evals/train-subset-<hash>.json     COCO stats on the search's training subset (Table 8's
 *                                              RetinaNet* selection)
 *     search-<hash>.json                       a greedy search result (Sec. 4.1.2)
 * The hashes cover the full TrainConfig and the full evaluation setting (lib/experiments/key.ts):
 * rerunning a table trains only runs that are missing, resumes interrupted ones from their last
 * checkpoint, and evaluates only settings not evaluated before.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, parseAnchorSpec } from '../anchors';
import { initBackend } from '../backend';
import { projectRoot } from '../util/package-dir';
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
import { formatDuration } from '../util/progress';
import { UserError } from '../util/errors';
import { canonicalJson, configHash } from './key';
import { ExperimentSettings, SearchSettings, seedsFor } from './settings';
import { estimatedStepSeconds, trainRuns } from './parallel';
import { modelConfig } from '../model/config';
import { PRETRAINED_PREFIX } from '../train/pretrain';
import { ensurePretrained } from '../train/pretrain-trunk';
import { RunStatus, runDirOf, seededConfig } from './run-cache';
import { CellSpec, Inference, METRIC_INDEX, MetricName, TableEvaluation, TableSpec, cellTrainConfigs } from './tables';
import { evaluateVocTransfer, shiftedVocTarget } from '../transfer/voc-transfer';
import { statusStream } from '../util/log';

export type { RunStatus } from './run-cache';
export { ensureRun, isRunComplete, runDirOf, seededConfig } from './run-cache';

export const EVALS_DIR = 'table-evals';

/** A metric of an evaluation record (fraction): COCO stats by index, or the VOC mean AP. */
export function metricValue(record: EvalRecordFile, metric: MetricName): number {
  if (metric === 'VOC mAP50') {
    if (!record.voc) throw new Error(`evaluation of ${record.anchors} has no VOC result`);
    return record.voc.mAP;
  }
  if (record.voc) throw new Error(`a VOC evaluation has no COCO ${metric}`);
  return record.stats[METRIC_INDEX[metric]];
}

/** Where table runs live: <project>/runs/tables, or env METAANCHOR_RUNS_DIR. */
export function defaultRunsDir(): string {
  return process.env.METAANCHOR_RUNS_DIR ? path.resolve(process.env.METAANCHOR_RUNS_DIR) : path.join(projectRoot(), 'runs', 'tables');
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

/** Table 8's RetinaNet* for one seed: every candidate's score on the training subset and the pick. */
export interface SelectionRecord {
  rule: 'train-subset-mmAP';
  /** Label of the picked candidate (Table 2's row, e.g. "0.5/0.4 5x5"). */
  picked: string;
  candidates: { label: string; runDir: string; mmAP: number }[];
  /** Training images scored. */
  images: number;
}

export interface SeedResult {
  seed: number;
  runDir: string;
  status: RunStatus;
  evalReused: boolean;
  eval: EvalRecordFile;
  /** Cells with a run selection (Table 8's RetinaNet*): how this seed's run was chosen. */
  selection?: SelectionRecord;
}

export interface CellResult {
  row: string;
  group: string;
  inference: Inference;
  seeds: SeedResult[];
}

export interface TableCounts {
  /** Runs trained from step 0, resumed from a checkpoint, or found finished. */
  trained: number;
  resumed: number;
  reused: number;
  /** Evaluations computed vs read from the cache. */
  evaluated: number;
  evalReused: number;
}

export interface TableResult {
  table: TableSpec;
  profile: string;
  seeds: number[];
  cells: CellResult[];
  counts: TableCounts;
  seconds: number;
}

export interface RunTableOptions {
  runsDir?: string;
  /** Training progress lines (default: on unless METAANCHOR_QUIET=1). */
  quiet?: boolean;
  /** One line per finished cell and training progress (default: stderr unless quiet). */
  log?: (line: string) => void;
  /**
   * Training worker processes (default: one per CPU core on the wasm/cpu backends, 1 on a native
   * backend; parallel.ts defaultJobs). 1 trains in this process, one run after another.
   */
  jobs?: number;
  /**
   * Called as soon as every run of a table is finished (tables then train one after another,
   * cheapest remaining first: tableOrder), while the other tables' runs go on training. The main
   * job writes each table's notebook from here (lib/experiments/main-job.ts).
   */
  onTableTrained?: (table: TableSpec) => void;
  /** Train the missing runs through this run queue (Redis URL; default env METAANCHOR_QUEUE): parallel.ts TrainRunsOptions.queue. */
  queue?: string;
}

/**
 * Everything that decides an evaluation's numbers besides the run itself. COCO settings keep the
 * shape they always had (their cached files stay valid); other evaluations add their own fields.
 */
function evalSetting(
  cfg: TrainConfig,
  inference: Inference,
  settings: ExperimentSettings,
  evaluation: TableEvaluation = { kind: 'coco' },
): Record<string, unknown> {
  const anchors = inference === 'train' ? cfg.anchors : inference;
  const coco =
    inference === 'search'
      ? { inference, evalImages: settings.evalImages, search: settings.search }
      : { inference: anchors === cfg.anchors ? 'train' : anchors, evalImages: settings.evalImages };
  return evaluation.kind === 'coco' ? coco : { ...coco, evaluation };
}

function evalFileOf(dir: string, cfg: TrainConfig, inference: Inference, settings: ExperimentSettings, evaluation: TableEvaluation = { kind: 'coco' }): string {
  const setting = evalSetting(cfg, inference, settings, evaluation);
  const label =
    (evaluation.kind === 'coco' ? '' : 'voc-') +
    String(setting.inference)
      .replace(/[^A-Za-z0-9.]+/g, '_')
      .slice(0, 40);
  return path.join(dir, EVALS_DIR, `${label}-${configHash(setting)}.json`);
}

/** The cache file of a run's COCO evaluation on the search subset of its training images. */
export function trainSubsetEvalFileOf(dir: string, search: SearchSettings): string {
  const setting = { split: 'train-subset', inference: 'train', subset: search.subset, seed: search.seed };
  return path.join(dir, EVALS_DIR, `train-subset-${configHash(setting)}.json`);
}

export function searchFileOf(dir: string, search: SearchSettings): string {
  return path.join(dir, `search-${configHash(search)}.json`);
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

/**
 * The rule of a cell's run selection: the candidate with the highest mmAP on the training subset
 * (strictly higher replaces; ties keep the earlier candidate). A score that is not a number (COCO's
 * -1 is a number; NaN is not) ranks last. Returns its index.
 */
export function pickBest(scores: readonly number[]): number {
  if (scores.length === 0) throw new Error('no candidates to pick from');
  const rank = (v: number) => (Number.isNaN(v) ? -Infinity : v);
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (rank(scores[i]) > rank(scores[best])) best = i;
  return best;
}

/**
 * Train what is missing (in `jobs` worker processes, lib/experiments/parallel.ts), then evaluate
 * what is not cached, and collect every cell's per-seed stats.
 */
export async function runTable(table: TableSpec, settings: ExperimentSettings, options: RunTableOptions = {}): Promise<TableResult> {
  return (await runTables([table], settings, options))[0];
}

/**
 * Several tables at once: the runs of all of them (shared runs once) are trained first, so the
 * workers stay busy across table boundaries; then each table is evaluated.
 */
export async function runTables(tables: TableSpec[], settings: ExperimentSettings, options: RunTableOptions = {}): Promise<TableResult[]> {
  const t0 = Date.now();
  const runsDir = path.resolve(options.runsDir ?? defaultRunsDir());
  const quiet = options.quiet ?? process.env.METAANCHOR_QUIET === '1';
  const log = options.log ?? ((s: string) => (quiet ? undefined : statusStream().write(s + '\n')));
  const progressive = options.onTableTrained !== undefined;
  const cfgs = progressive ? tableOrder(tables, settings) : distinctRuns(tables, settings);
  await ensurePretrainedFor(cfgs, log);
  // Progressive: announce each table once all of its runs are finished.
  const pending = tables.map((t) => new Set(distinctRuns([t], settings).map((c) => runDirOf(runsDir, c))));
  const announced = new Set<number>();
  const announce = (doneDir?: string): void => {
    pending.forEach((dirs, i) => {
      if (doneDir) dirs.delete(doneDir);
      if (dirs.size === 0 && !announced.has(i)) {
        announced.add(i);
        options.onTableTrained?.(tables[i]);
      }
    });
  };
  const trained = await trainRuns(cfgs, runsDir, {
    jobs: options.jobs,
    queue: options.queue,
    quiet,
    log,
    keepOrder: progressive,
    onRunDone: progressive ? announce : undefined,
  });
  if (progressive) announce();
  const results: TableResult[] = [];
  for (const table of tables) {
    const t1 = results.length === 0 ? t0 : Date.now();
    const counts: TableCounts = { trained: 0, resumed: 0, reused: 0, evaluated: 0, evalReused: 0 };
    // A run shared by several cells of this table counts once.
    const seenRuns = new Set<string>();
    const cells: CellResult[] = [];
    const runOf = (train: TrainConfig, seed: number) => {
      const cfg = seededConfig(train, seed);
      const dir = runDirOf(runsDir, cfg);
      const status = trained.status.get(dir);
      if (!status) throw new Error(`run ${dir} was not trained`);
      if (!seenRuns.has(dir)) {
        seenRuns.add(dir);
        counts[status] += 1;
      }
      return { cfg, dir, status };
    };
    const metric = table.metrics[0];
    // A table with its own search (Table 7: YOLOv2's grid) evaluates with it; the others keep settings.search.
    const tableSettings = table.search ? { ...settings, search: table.search } : settings;
    for (const cell of table.cells) {
      const seeds: SeedResult[] = [];
      for (const seed of cellSeeds(settings, cell)) {
        let run = runOf(cell.train, seed);
        let selection: SelectionRecord | undefined;
        if (cell.select) {
          const scored: SelectionRecord['candidates'] = [];
          let images = 0;
          for (const c of cell.select.candidates) {
            const r = runOf(c.train, seed);
            const ev = await evaluateOnTrainSubset(r.dir, r.cfg, tableSettings.search);
            counts[ev.reused ? 'evalReused' : 'evaluated'] += 1;
            scored.push({ label: c.label, runDir: r.dir, mmAP: ev.record.stats[0] });
            images = ev.record.images;
          }
          const best = pickBest(scored.map((c) => c.mmAP));
          selection = { rule: cell.select.rule, picked: scored[best].label, candidates: scored, images };
          run = runOf(cell.select.candidates[best].train, seed);
        }
        const ev = await evaluateRun(run.dir, run.cfg, cell.inference, tableSettings, table.evaluation);
        counts[ev.reused ? 'evalReused' : 'evaluated'] += 1;
        seeds.push({ seed, runDir: run.dir, status: run.status, evalReused: ev.reused, eval: ev.record, ...(selection ? { selection } : {}) });
      }
      cells.push({ row: cell.row, group: cell.group, inference: cell.inference, seeds });
      const values = seeds.map((s) => (100 * metricValue(s.eval, metric)).toFixed(1)).join(', ');
      const picked = seeds.some((s) => s.selection) ? `; picked ${seeds.map((s) => s.selection?.picked).join(', ')}` : '';
      log(`Table ${table.id} [${cell.row}${cell.group ? ` | ${cell.group}` : ''}] ${metric} ${values} (${seeds.map((s) => s.status).join(', ')})${picked}`);
    }
    const allSeeds = [...new Set(cells.flatMap((c) => c.seeds.map((x) => x.seed)))].sort((a, b) => a - b);
    results.push({ table, profile: settings.profile, seeds: allSeeds, cells, counts, seconds: (Date.now() - t1) / 1000 });
  }
  // The last status line, and in a notebook the one its status output keeps: a summary.
  log(runsSummary(results, (Date.now() - t0) / 1000));
  return results;
}

/** "Table 2: 16 runs (16 trained, 0 resumed, 0 reused), 16 evaluations (0 cached) in 34 s". */
export function runsSummary(results: Pick<TableResult, 'table' | 'counts'>[], seconds: number): string {
  const sum = (k: keyof TableCounts) => results.reduce((a, r) => a + r.counts[k], 0);
  const runs = sum('trained') + sum('resumed') + sum('reused');
  const evals = sum('evaluated') + sum('evalReused');
  const tables = results.map((r) => `Table ${r.table.id}`).join(', ');
  return (
    `${tables}: ${runs} run${runs === 1 ? '' : 's'} (${sum('trained')} trained, ${sum('resumed')} resumed, ${sum('reused')} reused), ` +
    `${evals} evaluation${evals === 1 ? '' : 's'} (${sum('evalReused')} cached) in ${formatDuration(seconds)}`
  );
}

/**
 * The runs of several tables in the order that finishes whole tables early: repeatedly the table
 * whose runs not yet scheduled cost least (estimated step seconds x steps), its runs longest first.
 */
export function tableOrder(tables: TableSpec[], settings: ExperimentSettings): TrainConfig[] {
  const cost = (c: TrainConfig) => estimatedStepSeconds(c) * c.steps;
  const scheduled = new Set<string>();
  const order: TrainConfig[] = [];
  const remaining = tables.map((t) => distinctRuns([t], settings));
  const left = new Set(remaining.keys());
  while (left.size > 0) {
    let best = -1;
    let bestCost = Infinity;
    for (const i of left) {
      const c = remaining[i].filter((x) => !scheduled.has(configHash(x))).reduce((a, x) => a + cost(x), 0);
      if (c < bestCost) [best, bestCost] = [i, c];
    }
    left.delete(best);
    const runs = remaining[best].filter((x) => !scheduled.has(configHash(x))).sort((a, b) => cost(b) - cost(a));
    for (const r of runs) {
      scheduled.add(configHash(r));
      order.push(r);
    }
  }
  return order;
}

/** Make (once, in this process) every pretrained initialisation the runs start from, before workers need it. */
export async function ensurePretrainedFor(cfgs: TrainConfig[], log: (s: string) => void): Promise<void> {
  const seen = new Set<string>();
  for (const cfg of cfgs) {
    const spec = cfg.initFrom?.weights;
    if (!spec?.startsWith(PRETRAINED_PREFIX) || cfg.detector === 'yolov2') continue;
    const model = modelConfig(cfg.preset, { ...cfg.model });
    const key = `${spec}:${configHash(model)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    await initBackend();
    await ensurePretrained(spec, model, { log });
  }
}

/**
 * Seeds of a cell: its configuration's (seedsFor); a cell choosing among runs (Table 8's RetinaNet*)
 * compares its candidates over the seeds they all have, the profile's.
 */
export function cellSeeds(settings: ExperimentSettings, cell: CellSpec): number[] {
  return cell.select ? settings.seeds : seedsFor(settings, cell.train);
}

/** The distinct training runs behind some tables (shared cells counted once): their cost is runs x time per run. */
export function distinctRuns(tables: TableSpec[], settings: ExperimentSettings): TrainConfig[] {
  const seen = new Map<string, TrainConfig>();
  for (const t of tables) {
    for (const c of t.cells as CellSpec[]) {
      for (const train of cellTrainConfigs(c)) {
        for (const seed of cellSeeds(settings, c)) {
          const cfg = seededConfig(train, seed);
          seen.set(configHash(cfg), cfg);
        }
      }
    }
  }
  return [...seen.values()];
}
