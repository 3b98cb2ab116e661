/**
 * Table runs as jobs on Redis (BullMQ), for grids that outgrow one machine:
 *
 *   submitter (`table --queue`, queue-submit.ts)  --jobs-->  Redis  <--takes--  workers (`worker`, queue-worker.ts)
 *
 * A job is one training run; its id is the run's folder name (readable name + config hash,
 * key.ts runFolderName), so submitting a run twice, or from two notebooks, queues it once. The
 * shared runs folder is the truth: a run is finished when its folder says so (isRunComplete), the
 * queue only schedules. A worker trains each job in a child process (train-worker.ts) through
 * ensureRun, so its event loop stays free to renew the job's lock, and a job taken again after a
 * worker died resumes from the run's last checkpoint.
 */
import * as os from 'node:os';
import { Redis, RedisOptions } from 'ioredis';
import { TrainConfig } from '../train/config';
import { UserError } from '../util/errors';
import type { RunStatus } from './run-cache';
import { runFolderName } from './key';

/** The BullMQ queue every submitter and worker uses. */
export const QUEUE_NAME = 'metaanchor-runs';

/** What a job carries: the run's full configuration (the worker needs nothing else). */
export interface RunJobData {
  cfg: TrainConfig;
  /** Run folder name, for logs (the job id too). */
  run: string;
}

/** A worker's progress report on a job (job.updateProgress). */
export interface RunProgress {
  host: string;
  step: number;
  steps: number;
  /** The step this worker started from (0, or the checkpoint it resumed). */
  from: number;
  loss: number;
  stepsPerSec: number;
  /** Seconds left at this worker's rate; -1 before the rate is known. */
  etaSec: number;
}

/** A finished job's return value. */
export interface RunJobResult {
  status: RunStatus;
  host: string;
  seconds: number;
}

/** The job id of a run: its cache key, the folder name in the runs folder. */
export function jobIdOf(cfg: TrainConfig): string {
  return runFolderName(cfg);
}

/** Attempts of a job: a crash of the training process is retried once; a real error (UnrecoverableError) is not. */
export const JOB_ATTEMPTS = 2;

/**
 * Lock of an active job (ms): a worker renews it every half of it; a worker that died (SIGKILL, a
 * lost machine) lets it lapse and the job is taken again. Env METAANCHOR_QUEUE_LOCK_MS shortens it
 * (the tests use 2 s).
 */
export function lockMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.METAANCHOR_QUEUE_LOCK_MS);
  return Number.isFinite(v) && v >= 500 ? v : 30_000;
}

/** The name a worker reports: env METAANCHOR_WORKER_NAME, or the host name. */
export function workerName(env: NodeJS.ProcessEnv = process.env): string {
  return env.METAANCHOR_WORKER_NAME?.trim() || os.hostname();
}

/**
 * `redis://[:password@]host:port[/db]` as BullMQ connection options; a UserError for anything else.
 * `maxRetriesPerRequest: null`: commands wait for a restarted Redis instead of failing.
 */
export function parseQueueUrl(url: string): RedisOptions & { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`--queue expects a Redis URL, got "${url}"`, 'e.g. --queue redis://127.0.0.1:6379 (or env METAANCHOR_QUEUE)');
  }
  if (u.protocol !== 'redis:' || !u.hostname)
    throw new UserError(`--queue expects a Redis URL, got "${url}"`, 'e.g. --queue redis://127.0.0.1:6379 (or env METAANCHOR_QUEUE)');
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    maxRetriesPerRequest: null,
  };
}

/** The URL for logs and messages: a password shows as ***. */
export function redactUrl(url: string): string {
  return url.replace(/^(redis:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

/** Connect once (no retries) and ping, so that a wrong address is a clear error instead of endless reconnects. */
export async function checkRedis(url: string, timeoutMs = 5000): Promise<void> {
  const c = parseQueueUrl(url);
  const client = new Redis({
    ...c,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
  });
  // ioredis rejects with "Connection is closed"; the cause (ECONNREFUSED, ETIMEDOUT …) comes as an event.
  let cause: Error | undefined;
  client.on('error', (e: Error) => (cause ??= e));
  try {
    await client.connect();
    await client.ping();
    const policy = await client.config('GET', 'maxmemory-policy').catch(() => null);
    const value = Array.isArray(policy) ? String(policy[1] ?? '') : '';
    if (value && value !== 'noeviction')
      process.stderr.write(`queue: warning: Redis at ${redactUrl(url)} has maxmemory-policy ${value}; set it to noeviction so that no job is evicted\n`);
  } catch (err) {
    throw new UserError(
      `cannot reach Redis at ${redactUrl(url)}: ${(cause ?? (err as Error)).message}`,
      'start redis-server there (see README "Many machines"), or fix --queue / METAANCHOR_QUEUE',
    );
  } finally {
    client.disconnect();
  }
}
