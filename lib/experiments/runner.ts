/**
 * Running a table: every cell's runs are trained (or found finished, or resumed), then evaluated
 * with the cell's inference anchors; both steps are cached on disk.
 *
 * Layout (shared by all tables, so that cells with the same training configuration share runs):
 *   <runsDir>/<readable-name>-<hash>/          one training run (lib/train/trainer.ts layout)
 *     config.json checkpoint/ metrics.json log.jsonl
 *     table-evals/<inference>-<hash>.json      COCO stats of one inference setting
 *     search-<hash>.json                       a greedy search result (Sec. 4.1.2)
 * The hashes cover the full TrainConfig and the full evaluation setting (lib/experiments/key.ts):
 * rerunning a table trains only runs that are missing, resumes interrupted ones from their last
 * checkpoint, and evaluates only settings not evaluated before.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, parseAnchorSpec } from '../anchors';
import { initBackend } from '../backend';
import { projectRoot } from '../data/mnist-det';
import { DetectionDataset } from '../data/types';
import { detectDataset } from '../detect/detect';
import { PreparedCocoGroundTruth, prepareCocoGroundTruth } from '../eval/coco';
import { greedyAnchorSearch } from '../search/greedy';
import { SearchResultFile, readSearchResult, writeSearchResult } from '../search/result';
import { TrainConfig } from '../train/config';
import { groundTruthOf, loadDatasetSpec } from '../train/datasets';
import { loadRun } from '../train/run-dir';
import { METRICS_FILE, hasCheckpoint, readTrainState, train } from '../train/trainer';
import { writeJsonAtomicSync } from '../util/atomic';
import { UserError } from '../util/errors';
import { canonicalJson, configHash, runFolderName } from './key';
import { ExperimentSettings, SearchSettings } from './settings';
import { CellSpec, Inference, TableSpec } from './tables';

export const EVALS_DIR = 'table-evals';

/** Where table runs live: <project>/runs/tables, or env METAANCHOR_RUNS_DIR. */
export function defaultRunsDir(): string {
  return process.env.METAANCHOR_RUNS_DIR ? path.resolve(process.env.METAANCHOR_RUNS_DIR) : path.join(projectRoot(), 'runs', 'tables');
}

export type RunStatus = 'reused' | 'resumed' | 'trained';

export interface EvalRecordFile {
  /** The cell's inference setting ('train', 'search' or an anchor spec). */
  inference: string;
  /** Name of the anchors used (the searched list for 'search'). */
  anchors: string;
  images: number;
  /** COCO's 12 summary numbers (fractions). */
  stats: number[];
  /** The search result file, for inference 'search'. */
  searchFile?: string;
  seconds: number;
}

export interface SeedResult {
  seed: number;
  runDir: string;
  status: RunStatus;
  evalReused: boolean;
  eval: EvalRecordFile;
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
  /** One line per finished cell (default: stderr unless quiet). */
  log?: (line: string) => void;
}

/** The seed-s variant of a cell's configuration. */
export function seededConfig(cfg: TrainConfig, seed: number): TrainConfig {
  return { ...cfg, seed };
}

export function runDirOf(runsDir: string, cfg: TrainConfig): string {
  return path.join(runsDir, runFolderName(cfg));
}

/** Finished: the checkpoint is at the last step and the final validation was written. */
export function isRunComplete(dir: string, cfg: TrainConfig): boolean {
  if (!hasCheckpoint(dir)) return false;
  const st = readTrainState(dir);
  return st.step >= cfg.steps && st.evals.some((e) => e.step === cfg.steps) && fs.existsSync(path.join(dir, METRICS_FILE));
}

const LOCK_FILE = 'training.lock';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A run folder is trained by one process at a time (a notebook and the CLI may run the same table):
 * the lock file holds the trainer's pid; a lock left by a process that died is taken over.
 */
function lockRun(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new UserError(`${dir} is being trained by process ${pid}`, 'wait for it to finish (rerunning the table then reuses the run), or stop that process');
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new UserError(`cannot lock ${dir}`, `delete ${file} if no other process trains this run`);
}

/** Train `cfg` into its folder unless it is finished; resumes a partial run from its checkpoint. */
export async function ensureRun(cfg: TrainConfig, runsDir: string, quiet?: boolean): Promise<{ dir: string; status: RunStatus }> {
  const dir = runDirOf(runsDir, cfg);
  if (isRunComplete(dir, cfg)) return { dir, status: 'reused' };
  const unlock = lockRun(dir);
  try {
    const status: RunStatus = hasCheckpoint(dir) ? 'resumed' : 'trained';
    await train(cfg, dir, { resume: true, quiet });
    return { dir, status };
  } finally {
    unlock();
  }
}

/** Everything that decides an evaluation's numbers besides the run itself. */
function evalSetting(cfg: TrainConfig, inference: Inference, settings: ExperimentSettings): Record<string, unknown> {
  const anchors = inference === 'train' ? cfg.anchors : inference;
  return inference === 'search'
    ? { inference, evalImages: settings.evalImages, search: settings.search }
    : { inference: anchors === cfg.anchors ? 'train' : anchors, evalImages: settings.evalImages };
}

function evalFileOf(dir: string, cfg: TrainConfig, inference: Inference, settings: ExperimentSettings): string {
  const setting = evalSetting(cfg, inference, settings);
  const label = String(setting.inference).replace(/[^A-Za-z0-9.]+/g, '_').slice(0, 40);
  return path.join(dir, EVALS_DIR, `${label}-${configHash(setting)}.json`);
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

function groundTruth(ds: DetectionDataset): PreparedCocoGroundTruth {
  let gt = gtMemo.get(ds);
  if (!gt) {
    gt = prepareCocoGroundTruth(groundTruthOf(ds) as never);
    gtMemo.set(ds, gt);
  }
  return gt;
}

/** The search of a run (cached in the run folder). */
export async function ensureSearch(dir: string, search: SearchSettings): Promise<{ file: string; result: SearchResultFile; anchors: AnchorConfig; reused: boolean }> {
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
      standardBoxP3: run.standardBoxP3,
      steps: search.steps,
      subset: search.subset,
      seed: search.seed,
      input: { maxSizePx: run.config.imageSizePx, minSizePx: run.config.minSizePx ?? undefined, pad: 'square', sizeDivisor: 32 },
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
 */
export async function evaluateRun(dir: string, cfg: TrainConfig, inference: Inference, settings: ExperimentSettings): Promise<{ record: EvalRecordFile; reused: boolean }> {
  const file = evalFileOf(dir, cfg, inference, settings);
  if (fs.existsSync(file)) return { record: JSON.parse(fs.readFileSync(file, 'utf8')) as EvalRecordFile, reused: true };
  const t0 = Date.now();
  const sameAsTraining = inference === 'train' || inference === cfg.anchors;
  if (sameAsTraining && cfg.evalImages === settings.evalImages) {
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
  try {
    const val = await dataset(cfg, 'val');
    const n = settings.evalImages > 0 ? Math.min(settings.evalImages, val.images.length) : val.images.length;
    const results = await detectDataset(run.detector, val, {
      anchors,
      standardBoxP3: run.standardBoxP3,
      input: { maxSizePx: cfg.imageSizePx, minSizePx: cfg.minSizePx ?? undefined, pad: 'square', sizeDivisor: 32 },
      maxImages: n,
      batchSize: Math.max(1, Math.min(8, cfg.batchSize)),
    });
    const r = groundTruth(val).evaluate(results as never, { imageIds: val.images.slice(0, n).map((im) => im.id) });
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

/** Train what is missing, evaluate what is not cached, and collect every cell's per-seed stats. */
export async function runTable(table: TableSpec, settings: ExperimentSettings, options: RunTableOptions = {}): Promise<TableResult> {
  const t0 = Date.now();
  const runsDir = path.resolve(options.runsDir ?? defaultRunsDir());
  const quiet = options.quiet ?? process.env.METAANCHOR_QUIET === '1';
  const log = options.log ?? ((s: string) => (quiet ? undefined : process.stderr.write(s + '\n')));
  const counts: TableCounts = { trained: 0, resumed: 0, reused: 0, evaluated: 0, evalReused: 0 };
  // A run shared by several cells of this table counts once.
  const seenRuns = new Map<string, RunStatus>();
  const cells: CellResult[] = [];
  for (const cell of table.cells) {
    const seeds: SeedResult[] = [];
    for (const seed of settings.seeds) {
      const cfg = seededConfig(cell.train, seed);
      const dir = runDirOf(runsDir, cfg);
      let status = seenRuns.get(dir);
      if (!status) {
        status = (await ensureRun(cfg, runsDir, quiet)).status;
        seenRuns.set(dir, status);
        counts[status] += 1;
      }
      const ev = await evaluateRun(dir, cfg, cell.inference, settings);
      counts[ev.reused ? 'evalReused' : 'evaluated'] += 1;
      seeds.push({ seed, runDir: dir, status, evalReused: ev.reused, eval: ev.record });
    }
    cells.push({ row: cell.row, group: cell.group, inference: cell.inference, seeds });
    const mm = seeds.map((s) => (100 * s.eval.stats[0]).toFixed(1)).join(', ');
    log(`Table ${table.id} [${cell.row} | ${cell.group}] mmAP ${mm} (${seeds.map((s) => s.status).join(', ')})`);
  }
  return { table, profile: settings.profile, seeds: settings.seeds.slice(), cells, counts, seconds: (Date.now() - t0) / 1000 };
}

/** The distinct training runs behind some tables (shared cells counted once): their cost is runs x time per run. */
export function distinctRuns(tables: TableSpec[], settings: ExperimentSettings): TrainConfig[] {
  const seen = new Map<string, TrainConfig>();
  for (const t of tables) {
    for (const c of t.cells as CellSpec[]) {
      for (const seed of settings.seeds) {
        const cfg = seededConfig(c.train, seed);
        seen.set(configHash(cfg), cfg);
      }
    }
  }
  return [...seen.values()];
}
