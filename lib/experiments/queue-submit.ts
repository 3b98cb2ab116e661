/**
 * The submitter's side of the run queue (queue.ts): queue every missing run as a job whose id is
 * the run's cache key, show the workers' progress, and return once every run is finished in the
 * shared runs folder.
 *
 * The runs folder is the truth, the queue only schedules: a run is done when its folder is
 * complete (isRunComplete). A job Redis no longer has (Redis restarted without persistence) is
 * queued again; a job a worker completed without the run appearing here means the folder is not
 * shared, and says so. Stopping the submitter (Ctrl-C) leaves the jobs queued and the workers
 * training; submitting again waits for the same jobs.
 */
import { Job, Queue } from 'bullmq';
import { TrainConfig } from '../train/config';
import { ensureDefaultDataset } from '../data/mnist-det';
import { UserError } from '../util/errors';
import { formatDuration } from '../util/progress';
import { trainingStatusLine } from './parallel';
import { JOB_ATTEMPTS, QUEUE_NAME, RunJobData, RunJobResult, RunProgress, checkRedis, redactUrl, jobIdOf, parseQueueUrl } from './queue';
import { isRunComplete, runDirOf, RunStatus } from './run-cache';

export interface QueueRunsOptions {
  say: (line: string) => void;
  /** Seconds between progress lines (default 30; a line also follows every finished run). */
  progressEverySec?: number;
  /** Poll interval for job states (ms, default 1000). */
  pollMs?: number;
  onRunDone?: (dir: string, status: RunStatus) => void;
}

/** Make the datasets the runs read (MNIST-Det is generated once, into the shared data folder). */
async function ensureData(cfgs: TrainConfig[]): Promise<void> {
  const presets = new Set<string>();
  for (const cfg of cfgs) for (const spec of [cfg.train, cfg.val]) if (spec.kind === 'mnist-det') presets.add(spec.preset ?? 'default');
  for (const preset of presets) await ensureDefaultDataset({ preset: preset as never });
}

/** Queue one run unless its job is already waiting or running; a finished or failed job of it is replaced. */
async function submit(queue: Queue<RunJobData, RunJobResult>, cfg: TrainConfig): Promise<'queued' | 'already'> {
  const id = jobIdOf(cfg);
  const old = await queue.getJob(id);
  if (old) {
    const state = await old.getState();
    if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return 'already';
    // Done before but not on disk now (the folder was cleared), or failed before (fixed since): again.
    await old.remove().catch(() => undefined);
  }
  await queue.add(
    'train',
    { cfg, run: id },
    {
      jobId: id,
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'fixed', delay: 5000 },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  );
  return 'queued';
}

/** A failed job's reason as a UserError naming the run ("…\nhint: …" carries the worker's hint). */
function jobError(name: string, reason: string): UserError {
  const [message, hint] = reason.split('\nhint: ');
  return new UserError(
    `training run ${name} failed: ${message}`,
    hint ?? "see the worker's output; after fixing the cause, submit again (a failed run is queued again)",
  );
}

/**
 * Train `missing` (runs not finished in `runsDir`) through the queue at `url`. Fills `status`
 * (and `seconds`: each run's training time on its worker). The first failed job ends the wait
 * with its error; the other jobs stay queued.
 */
export async function trainRunsOnQueue(
  missing: TrainConfig[],
  runsDir: string,
  url: string,
  total: number,
  status: Map<string, RunStatus>,
  seconds: Map<string, number>,
  options: QueueRunsOptions,
): Promise<void> {
  const { say } = options;
  await checkRedis(url);
  await ensureData(missing);
  const queue = new Queue<RunJobData, RunJobResult>(QUEUE_NAME, { connection: parseQueueUrl(url) });
  queue.on('error', () => undefined);
  try {
    let already = 0;
    for (const cfg of missing) if ((await submit(queue, cfg)) === 'already') already += 1;
    say(
      `queue: ${missing.length} of ${total} runs submitted to ${redactUrl(url)}` +
        (already ? ` (${already} already queued or running)` : '') +
        '; waiting for workers',
    );
    const pending = new Map(missing.map((cfg) => [jobIdOf(cfg), cfg] as const));
    const progress = new Map<string, RunProgress>();
    const started = new Set<string>();
    let lastLine = Date.now();
    const t0 = Date.now();
    const line = () => {
      const busy = [...progress.entries()]
        .filter(([id]) => pending.has(id))
        .map(
          ([id, p]) => `${id} ${p.step}/${p.steps} loss ${p.loss.toFixed(3)} ${p.stepsPerSec.toFixed(2)} steps/s ETA ${formatDuration(p.etaSec)} on ${p.host}`,
        );
      const waiting = pending.size - busy.length;
      say(
        trainingStatusLine(
          status.size,
          total,
          busy,
          (waiting > 0 ? `; ${waiting} waiting for a worker` : '') + `; ${formatDuration((Date.now() - t0) / 1000)} so far`,
        ),
      );
    };
    while (pending.size > 0) {
      for (const [id, cfg] of [...pending]) {
        const dir = runDirOf(runsDir, cfg);
        const job: Job<RunJobData, RunJobResult> | undefined = await queue.getJob(id);
        const finished = (st: RunStatus, host: string, sec: number) => {
          pending.delete(id);
          status.set(dir, st);
          seconds.set(dir, sec);
          say(`training: ${st} ${id} in ${formatDuration(sec)} on ${host}`);
          line();
          lastLine = Date.now();
          options.onRunDone?.(dir, st);
        };
        if (!job) {
          if (isRunComplete(dir, cfg)) {
            finished('trained', '?', 0);
          } else {
            say(`queue: ${id} is no longer queued (Redis restarted without its data?); queued again`);
            await submit(queue, cfg);
          }
          continue;
        }
        const state = await job.getState();
        if (state === 'completed') {
          const r = job.returnvalue;
          if (!isRunComplete(dir, cfg)) {
            throw new UserError(
              `worker ${r?.host ?? '?'} finished ${id}, but the run is not complete in ${runsDir}`,
              'the submitter and every worker must use the same shared runs folder (METAANCHOR_RUNS_DIR on a filesystem all of them mount)',
            );
          }
          // 'reused': a job queued again (after a Redis restart) found the run finished by its first
          // job; for this call it was missing, so trained.
          finished(r?.status === 'resumed' ? 'resumed' : 'trained', r?.host ?? '?', r?.seconds ?? 0);
        } else if (state === 'failed') {
          throw jobError(id, job.failedReason ?? 'unknown reason');
        } else if (state === 'active' && job.progress && typeof job.progress === 'object') {
          const p = job.progress as unknown as RunProgress;
          progress.set(id, p);
          if (!started.has(id)) {
            started.add(id);
            say(`training: ${id} on ${p.host}` + (p.from > 0 ? `, resumed at step ${p.from}` : ''));
          }
        }
      }
      if (pending.size === 0) break;
      if (Date.now() - lastLine >= (options.progressEverySec ?? 30) * 1000) {
        lastLine = Date.now();
        line();
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    }
  } finally {
    await queue.close().catch(() => undefined);
  }
}
