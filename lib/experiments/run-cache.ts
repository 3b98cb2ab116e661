/**
 * One table run's folder in the results cache: its name, whether it is finished, and training it
 * (train() holds the folder's lock file). Used by the table runner (runner.ts) and by the training workers
 * (train-worker.ts, started by parallel.ts); kept apart from runner.ts so that neither imports the
 * other in a cycle (tslab, which runs the notebooks, cannot load circular imports).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainConfig } from '../train/config';
import { METRICS_FILE, StepRecord, hasCheckpoint, readTrainState, train } from '../train/trainer';
import { previousRunFolderNames, runFolderName } from './key';
import { lockHolder } from '../train/run-folder';
import { Interrupted } from '../util/interrupt';

export type RunStatus = 'reused' | 'resumed' | 'trained';

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
