/**
 * The results cache of the tables: where a run's folder and its cached evaluations and searches
 * live (names and hashes), whether a run is finished, and training it (train() holds the folder's
 * lock file).
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
 *
 * Used by the table runner (runner.ts), its evaluations (run-eval.ts) and the training workers
 * (train-worker.ts, started by parallel.ts); kept apart from runner.ts so that neither imports the
 * other in a cycle (tslab, which runs the notebooks, cannot load circular imports).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainConfig } from '../train/config';
import { METRICS_FILE, StepRecord, hasCheckpoint, readTrainState, train } from '../train/trainer';
import { configHash, fileNameLabel, previousRunFolderNames, runFolderName } from './key';
import { lockHolder } from '../train/run-folder';
import { projectRoot } from '../util/package-dir';
import type { ExperimentSettings, SearchSettings } from './settings';
import type { Inference, TableEvaluation } from './tables';
import { Interrupted } from '../util/interrupt';

export type RunStatus = 'reused' | 'resumed' | 'trained';

export const EVALS_DIR = 'table-evals';

/** Where table runs live: <project>/runs/tables, or env METAANCHOR_RUNS_DIR. */
export function defaultRunsDir(): string {
  return process.env.METAANCHOR_RUNS_DIR ? path.resolve(process.env.METAANCHOR_RUNS_DIR) : path.join(projectRoot(), 'runs', 'tables');
}

/** The seed-s variant of a cell's configuration. */
export function seededConfig(cfg: TrainConfig, seed: number): TrainConfig {
  return { ...cfg, seed };
}

/**
 * The run's folder in the cache. A run cached under a name earlier versions gave it
 * (key.ts previousRunFolderNames: YOLOv2 runs) is renamed to the current name first, so it is reused.
 */
export function runDirOf(runsDir: string, cfg: TrainConfig): string {
  const dir = path.join(runsDir, runFolderName(cfg));
  for (const name of previousRunFolderNames(cfg)) {
    const previous = path.join(runsDir, name);
    if (fs.existsSync(dir) || !fs.existsSync(previous)) continue;
    try {
      fs.renameSync(previous, dir);
    } catch (err) {
      // Another process (a training worker) renamed it first.
      if (!fs.existsSync(dir)) throw err;
    }
  }
  return dir;
}

/** Finished: the checkpoint is at the last step and the final validation was written. */
export function isRunComplete(dir: string, cfg: TrainConfig): boolean {
  if (!hasCheckpoint(dir)) return false;
  const st = readTrainState(dir);
  return st.step >= cfg.steps && st.evals.some((e) => e.step === cfg.steps) && fs.existsSync(path.join(dir, METRICS_FILE));
}

/** Train `cfg` into its folder unless it is finished; resumes a partial run from its checkpoint. */
export async function ensureRun(
  cfg: TrainConfig,
  runsDir: string,
  quiet?: boolean,
  onStep?: (r: StepRecord) => void,
  options: { waitForLock?: boolean; log?: (s: string) => void; lockPollMs?: number; shouldStop?: () => boolean } = {},
): Promise<{ dir: string; status: RunStatus }> {
  const dir = runDirOf(runsDir, cfg);
  // Another process (a table's worker) trains this very run: wait for it, then reuse its result.
  let waited = false;
  for (let holder = lockHolder(dir); options.waitForLock && holder !== null; holder = lockHolder(dir)) {
    if (!waited) options.log?.(`${dir}: process ${holder} is training this run; waiting for it`);
    waited = true;
    if (options.shouldStop?.())
      throw new Interrupted(`stopped waiting for process ${holder}, which trains ${dir}`, 'run it again to wait for it (in a notebook: rerun the cell)');
    await new Promise((r) => setTimeout(r, options.lockPollMs ?? LOCK_POLL_MS));
  }
  if (isRunComplete(dir, cfg)) return { dir, status: 'reused' };
  // train() locks the folder (lib/train/run-folder.ts): a notebook and the CLI may run the same table.
  const status: RunStatus = hasCheckpoint(dir) ? 'resumed' : 'trained';
  await train(cfg, dir, { resume: true, quiet, onStep, shouldStop: options.shouldStop });
  return { dir, status };
}

/** How often a run waiting for another process's lock looks again. */
const LOCK_POLL_MS = 10_000;

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

/** The cache file of a run's evaluation with `inference` anchors (COCO, or VOC for a transfer evaluation). */
export function evalFileOf(
  dir: string,
  cfg: TrainConfig,
  inference: Inference,
  settings: ExperimentSettings,
  evaluation: TableEvaluation = { kind: 'coco' },
): string {
  const setting = evalSetting(cfg, inference, settings, evaluation);
  const label = (evaluation.kind === 'coco' ? '' : 'voc-') + fileNameLabel(String(setting.inference));
  return path.join(dir, EVALS_DIR, `${label}-${configHash(setting)}.json`);
}

/** The cache file of a run's COCO evaluation on the search subset of its training images. */
export function trainSubsetEvalFileOf(dir: string, search: SearchSettings): string {
  const setting = { split: 'train-subset', inference: 'train', subset: search.subset, seed: search.seed };
  return path.join(dir, EVALS_DIR, `train-subset-${configHash(setting)}.json`);
}

/** The cache file of a run's greedy anchor search. */
export function searchFileOf(dir: string, search: SearchSettings): string {
  return path.join(dir, `search-${configHash(search)}.json`);
}
