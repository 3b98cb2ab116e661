/**
 * One table run's folder in the results cache: its name, whether it is finished, and training it
 * under a lock file. Used by the table runner (runner.ts) and by the training workers
 * (train-worker.ts, started by parallel.ts); kept apart from runner.ts so that neither imports the
 * other in a cycle (tslab, which runs the notebooks, cannot load circular imports).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TrainConfig } from '../train/config';
import { METRICS_FILE, StepRecord, hasCheckpoint, readTrainState, train } from '../train/trainer';
import { UserError } from '../util/errors';
import { previousRunFolderNames, runFolderName } from './key';

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
export async function ensureRun(cfg: TrainConfig, runsDir: string, quiet?: boolean, onStep?: (r: StepRecord) => void): Promise<{ dir: string; status: RunStatus }> {
  const dir = runDirOf(runsDir, cfg);
  if (isRunComplete(dir, cfg)) return { dir, status: 'reused' };
  const unlock = lockRun(dir);
  try {
    const status: RunStatus = hasCheckpoint(dir) ? 'resumed' : 'trained';
    await train(cfg, dir, { resume: true, quiet, onStep });
    return { dir, status };
  } finally {
    unlock();
  }
}
