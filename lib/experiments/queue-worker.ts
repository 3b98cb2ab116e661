/**
 * `metaanchor worker --queue redis://…`: takes table runs from the queue (queue.ts) and trains
 * each in a child process (train-worker.ts) into the shared runs folder. The child trains through
 * ensureRun, so a run found finished is reused, a run with a checkpoint resumes, and the run's lock
 * file keeps two trainers out of one folder. This process only relays: its event loop stays free,
 * so BullMQ renews the job's lock while the child computes.
 *
 * Failures: an error the run itself causes (bad data: a UserError; a loss or gradient that is not a finite number) fails
 * the job at once (UnrecoverableError) with its message, which the submitter shows; a crash of the
 * training process is retried once (JOB_ATTEMPTS); a worker that dies lets the job's lock lapse and
 * another worker takes the job again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import { dataRoot, MANIFEST_FILE } from '../data/mnist-det';
import { checkWritableDir } from '../util/files';
import { UserError } from '../util/errors';
import { TrainConfig } from '../train/config';
import { startTrainWorker, workerError } from './parallel';
import { formatDuration } from '../util/progress';
import { QUEUE_NAME, RunJobData, RunJobResult, RunProgress, checkRedis, redactUrl, lockMs, parseQueueUrl, workerName } from './queue';
import type { WorkerMessage } from './train-worker';

export interface QueueWorkerOptions {
  /** Jobs trained at once (default 1: one training process per core on the wasm backend). */
  concurrency?: number;
  /** The shared runs folder. */
  runsDir: string;
  log?: (line: string) => void;
  /** Seconds between progress reports of a job (default 2). */
  progressEverySec?: number;
}

/**
 * What a worker needs before it takes a job: a runs folder it can write, and the data the runs
 * read (MNIST-Det, made once by the submitter, in the shared data folder). Throws a UserError
 * saying what is missing.
 */
export function checkWorkerSetup(runsDir: string): void {
  try {
    checkWritableDir(runsDir, 'the runs folder');
  } catch (err) {
    if (err instanceof UserError)
      throw new UserError(
        err.message,
        `give every worker a runs folder it can write, shared with the submitter (--runs-dir or METAANCHOR_RUNS_DIR, e.g. on NFS); ${err.hint ?? ''}`.trim(),
      );
    throw err;
  }
  const mnistDet = path.join(dataRoot(), 'mnist-det', MANIFEST_FILE);
  if (!fs.existsSync(mnistDet)) {
    throw new UserError(
      `no MNIST-Det data at ${path.dirname(mnistDet)} (${MANIFEST_FILE} is missing)`,
      `mount the submitter's data folder here and set METAANCHOR_DATA_DIR to it (the submitter makes the data before it queues runs), or make it here with \`npx metaanchor data mnist-det\``,
    );
  }
}

export interface QueueWorker {
  worker: Worker<RunJobData, RunJobResult>;
  /** Stop taking jobs, stop the running training processes (their checkpoints stay) and disconnect. */
  close(): Promise<void>;
}

/** Start taking jobs; resolves once connected. */
export async function startQueueWorker(url: string, options: QueueWorkerOptions): Promise<QueueWorker> {
  const log = options.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const host = workerName();
  const concurrency = options.concurrency ?? 1;
  const runsDir = path.resolve(options.runsDir);
  checkWorkerSetup(runsDir);
  await checkRedis(url);
  const children = new Set<ReturnType<typeof startTrainWorker>>();
  const processor = (job: Job<RunJobData, RunJobResult>): Promise<RunJobResult> =>
    new Promise((resolve, reject) => {
      const cfg: TrainConfig = job.data.cfg;
      const name = job.data.run;
      const t0 = Date.now();
      log(`worker ${host}: took ${name} (attempt ${job.attemptsMade + 1})`);
      const child = startTrainWorker({ cfg, runsDir, waitForLock: true, lockPollMs: 1000 });
      children.add(child);
      let outputTail = '';
      const keep = (chunk: Buffer) => (outputTail = (outputTail + chunk.toString()).slice(-4000));
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      let first = -1;
      let tFirst = 0;
      let lastReport = 0;
      let done: WorkerMessage | undefined;
      let notFinite: string | undefined;
      child.on('message', (m: WorkerMessage) => {
        if (m.type !== 'step') {
          done = m;
          return;
        }
        if (first < 0) {
          first = m.step - 1;
          tFirst = Date.now();
          if (first > 0) log(`worker ${host}: ${name} resumes at step ${first}/${cfg.steps}`);
        }
        if (!Number.isFinite(m.loss) || !Number.isFinite(m.gradNorm)) {
          notFinite = `the ${Number.isFinite(m.loss) ? 'gradient norm' : 'loss'} is ${Number.isFinite(m.loss) ? m.gradNorm : m.loss} at step ${m.step}`;
          child.kill('SIGTERM');
          return;
        }
        const now = Date.now();
        if (now - lastReport < (options.progressEverySec ?? 2) * 1000 && m.step < cfg.steps) return;
        lastReport = now;
        const trained = m.step - first;
        // The first step includes the process start and data loading: the rate counts from it on.
        const rate = trained > 1 ? (trained - 1) / Math.max((now - tFirst) / 1000, 1e-3) : 0;
        const p: RunProgress = {
          host,
          step: m.step,
          steps: cfg.steps,
          from: first,
          loss: m.loss,
          stepsPerSec: rate,
          etaSec: rate > 0 ? (cfg.steps - m.step) / rate : -1,
        };
        job.updateProgress(p as unknown as object).catch(() => undefined);
      });
      let settled = false;
      const end = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        if (settled) return;
        settled = true;
        children.delete(child);
        if (done?.type === 'done' && code === 0) {
          const seconds = (Date.now() - t0) / 1000;
          log(`worker ${host}: ${done.status} ${name} in ${formatDuration(seconds)}`);
          resolve({ status: done.status, host, seconds });
          return;
        }
        if (notFinite) {
          log(`worker ${host}: ${name} failed: ${notFinite}`);
          reject(
            new UnrecoverableError(`${notFinite} (on ${host})\nhint: lower the learning rate or check the data, then delete the run folder to start it again`),
          );
          return;
        }
        const err = workerError(name, done, code, signal, spawnError, outputTail);
        log(`worker ${host}: ${name} failed: ${err.message.split('\n')[0]}`);
        const reason = done?.type === 'error' ? done.message : err.message;
        if (err instanceof UserError) reject(new UnrecoverableError(`${reason} (on ${host})${err.hint ? `\nhint: ${err.hint}` : ''}`));
        else reject(new Error(`${reason} (on ${host})`));
      };
      child.on('error', (e) => end(null, null, e));
      child.on('close', (code, signal) => end(code, signal));
    });
  const lock = lockMs();
  const worker = new Worker<RunJobData, RunJobResult>(QUEUE_NAME, processor, {
    connection: parseQueueUrl(url),
    concurrency,
    lockDuration: lock,
    stalledInterval: lock,
    // A job whose worker died is taken again; one that keeps killing its workers fails.
    maxStalledCount: 3,
  });
  worker.on('error', (err) => log(`worker ${host}: queue connection: ${err.message}`));
  await worker.waitUntilReady();
  log(`worker ${host}: waiting for jobs on ${redactUrl(url)} (concurrency ${concurrency}; runs folder ${runsDir})`);
  return {
    worker,
    async close() {
      for (const c of children) c.kill('SIGTERM');
      await worker.close(true);
    },
  };
}
