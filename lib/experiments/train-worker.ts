/**
 * Child-process entry that trains one table run (lib/experiments/parallel.ts starts it):
 *
 *   node --require tsx/cjs lib/experiments/train-worker.ts '<WorkerJob as JSON>'
 *
 * Each worker is its own process so that it has its own tfjs backend: the wasm backend runs one
 * thread, so two workers use two cores. The worker trains through ensureRun, which takes the run's
 * lock file with the worker's pid, so a notebook and the CLI never train the same run at once.
 * It reports to the parent over the IPC channel: steps as they finish, then 'done' or 'error'.
 */
import { TrainConfig } from '../train/config';
import { UserError } from '../util/errors';
import { Interrupted, interruptedSince, watchInterrupts } from '../util/interrupt';
import { ensureRun, RunStatus } from './run-cache';

export interface WorkerJob {
  cfg: TrainConfig;
  runsDir: string;
  /** Wait for another process that trains this run instead of failing (`converge` beside the main job). */
  waitForLock?: boolean;
  /** How often a run waiting for another process's lock looks again (ms; default ensureRun's 10 s). */
  lockPollMs?: number;
}

export type WorkerMessage =
  | { type: 'step'; step: number; loss: number; gradNorm: number }
  | { type: 'done'; status: RunStatus; dir: string }
  | { type: 'error'; message: string; hint?: string; user: boolean; stack?: string }
  /** Stopped by SIGINT (the notebook's kernel was interrupted): the run is resumable from its checkpoint. */
  | { type: 'interrupted'; message: string; hint?: string };

function send(msg: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? 'null') as WorkerJob | null;
  if (!job || !job.cfg || !job.runsDir) throw new UserError('train-worker: no job given', 'this file is started by runTable/trainRuns with a job as JSON');
  // SIGINT (Jupyter interrupts the kernel's whole process group) stops the run after its current
  // step, with a checkpoint there, instead of killing the process mid-step.
  const mark = watchInterrupts();
  // The parent shows combined progress; the worker's own step lines would interleave.
  const r = await ensureRun(job.cfg, job.runsDir, true, (rec) => void send({ type: 'step', step: rec.step, loss: rec.loss, gradNorm: rec.gradNorm }), {
    waitForLock: job.waitForLock,
    lockPollMs: job.lockPollMs,
    shouldStop: () => interruptedSince(mark),
  });
  await send({ type: 'done', status: r.status, dir: r.dir });
}

// The parent died (a queue worker killed with SIGKILL): stop, so that the job, taken again by
// another worker, resumes from the last checkpoint instead of waiting for an orphan.
process.on('disconnect', () => process.exit(1));

main()
  .then(() => process.exit(0))
  .catch(async (err: unknown) => {
    if (err instanceof Interrupted) {
      await send({ type: 'interrupted', message: err.message, hint: err.hint });
      process.exit(0);
    }
    const e = err instanceof Error ? err : new Error(String(err));
    await send({ type: 'error', message: e.message, hint: err instanceof UserError ? err.hint : undefined, user: err instanceof UserError, stack: e.stack });
    process.exit(1);
  });
