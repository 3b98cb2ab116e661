/**
 * Training the missing runs of one or more tables in parallel worker processes.
 *
 * tfjs's wasm backend runs one thread, so a training process uses one core: on a 2-core machine
 * two workers give about 1.75x the throughput of one (the quick tables' 30 runs: 14,300 s of
 * single-process steps, 8,181 s of training with two workers; BENCHMARKS.md). Each worker is a child process
 * (train-worker.ts) with its own backend; it trains through ensureRun, so the run's lock file
 * holds the worker's pid and no two workers, notebooks or CLI calls train the same run. The
 * parent only schedules, shows combined progress and forwards errors; evaluations and searches
 * run in the parent afterwards (they read the finished runs from disk).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { currentBackend, initBackend } from '../backend';
import { projectRoot } from '../util/package-dir';
import { TrainConfig } from '../train/config';
import { parseAnchorSpec } from '../anchors';
import { UserError } from '../util/errors';
import { configHash } from './key';
import { ensureRun, isRunComplete, runDirOf, RunStatus } from './run-cache';
import type { WorkerJob, WorkerMessage } from './train-worker';
import { statusStream } from '../util/log';
import { Interrupted, beginStoppable, inNotebookKernel, interruptMark, interruptedSince, onInterrupt } from '../util/interrupt';

export interface TrainRunsOptions {
  /** Worker processes at once (default: defaultJobs()); 1 trains in this process, one run after another. */
  jobs?: number;
  /** No progress lines. */
  quiet?: boolean;
  /** Where progress lines go (default: lib/util/log statusStream: stderr, or stdout in a notebook). */
  log?: (line: string) => void;
  /** Seconds between progress lines while workers train (default 30; a line also follows every finished run). */
  progressEverySec?: number;
  /**
   * Train in the order given (default: longest runs first). The main job orders runs table by
   * table so that whole tables finish early (runner.ts tableOrder).
   */
  keepOrder?: boolean;
  /** Called as each run is found finished or finishes training (in this call's order of completion). */
  onRunDone?: (dir: string, status: RunStatus) => void;
  /**
   * A run that another process is training (its lock is held) is waited for and then reused,
   * instead of failing: for `converge` or a notebook beside the main job. Default: on in a
   * notebook kernel (notebooks run side by side: `npm run notebooks` runs two at once), else off.
   */
  waitForLock?: boolean;
  /**
   * Redis URL of a run queue (queue.ts): the missing runs become jobs that `metaanchor worker`
   * processes on any machine train into the shared runs folder, instead of workers of this
   * machine. Default: env METAANCHOR_QUEUE; unset trains here.
   */
  queue?: string;
}

export interface TrainRunsResult {
  /** Status of every run, by run folder. */
  status: Map<string, RunStatus>;
  /** Wall seconds each run trained in this call (runs trained or resumed), by run folder. */
  seconds: Map<string, number>;
}

/**
 * Workers to use: one per core for the single-threaded wasm and cpu backends, 1 for the native and
 * GPU backends (tfjs-node-gpu and webgpu have one GPU to share; tfjs-node already uses every core in
 * one process).
 */
export async function defaultJobs(): Promise<number> {
  const kind = (currentBackend() ?? (await initBackend())).kind;
  if (kind === 'gpu' || kind === 'webgpu' || kind === 'node') return 1;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, cores);
}

/**
 * Relative seconds per training step of a run, for scheduling and the ETA only: a fit to quick-
 * preset steps on the wasm backend (2-core machine with the other core busy; bench/profile-train.ts,
 * the quick detector at batch 8 @ 96 px): RetinaNet 0.12 s + 1.9 ms per anchor per location (the
 * head's last convs and the loss grow with it) — 0.14 s at 3x3, 0.28 s at 9x9 —, MetaAnchor's
 * data-independent generator 0.19 s + 1.9 ms per anchor, the data-dependent one 0.30 s + 4.2 ms per
 * anchor, YOLOv2 0.65 s at batch 8 @ 192 px; all scaled by batch size and pixel count. Only ratios
 * matter.
 */
export function estimatedStepSeconds(cfg: TrainConfig): number {
  if (cfg.detector === 'yolov2') return 0.65 * (cfg.batchSize / 8) * (cfg.imageSizePx / 192) ** 2;
  const scale = (cfg.batchSize / 8) * (cfg.imageSizePx / 96) ** 2;
  let A = 9;
  try {
    A = parseAnchorSpec(cfg.anchors).shapes.length;
  } catch {
    // An anchor spec this cannot read only makes the estimate rougher.
  }
  if (cfg.method !== 'metaanchor') return scale * (0.12 + 0.0019 * A);
  return scale * (cfg.generator === 'dependent' ? 0.3 + 0.0042 * A : 0.19 + 0.0019 * A);
}

/**
 * The progress line of runs being trained, here or by queue workers (queue-submit.ts):
 * "training: 3/8 runs done, running <run> <step>/<steps>, ...", then `tail`.
 */
export function trainingStatusLine(done: number, total: number, running: readonly string[], tail: string): string {
  return `training: ${done}/${total} runs done` + (running.length ? `, running ${running.join(', ')}` : '') + tail;
}

/**
 * A run whose estimated training (estimatedStepSeconds x steps) is at most this trains in the
 * calling process when no worker count is given: starting a worker costs more (smoke runs:
 * 2 runs in 8.8 s with two workers, 2.5 s one after another in the process, on 2 busy cores).
 */
export const TINY_RUN_SECONDS = 2;

/** The run queue to use (parallel.ts TrainRunsOptions.queue): the option, else env METAANCHOR_QUEUE; undefined trains on this machine. */
export function queueUrlFrom(option?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = option ?? env.METAANCHOR_QUEUE;
  return v && v.trim() ? v.trim() : undefined;
}

/** Checks a user-given worker count. */
export function parseJobs(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UserError(`--jobs expects a whole number >= 1, got "${String(value)}"`, 'e.g. --jobs 2 (one worker per CPU core for the wasm backend)');
  return n;
}

function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

interface Running {
  cfg: TrainConfig;
  dir: string;
  child: ChildProcess;
  /** Step of the run when this worker started it (0, or the checkpoint it resumed from). */
  firstStep: number;
  step: number;
  t0: number;
}

/**
 * Make every run of `cfgs` finished in `runsDir` (duplicates count once). Runs already finished
 * are 'reused'; the others are trained (or resumed from their checkpoint) by `jobs` workers.
 * If a worker fails, no further runs start; the runs still training finish (their results stay
 * in the cache), then the first error is thrown, naming the run.
 */
export async function trainRuns(cfgs: TrainConfig[], runsDir: string, options: TrainRunsOptions = {}): Promise<TrainRunsResult> {
  const quiet = options.quiet ?? process.env.METAANCHOR_QUIET === '1';
  const log = options.log ?? ((s: string) => statusStream().write(s + '\n'));
  const say = (s: string) => (quiet ? undefined : log(s));
  const status = new Map<string, RunStatus>();
  const seconds = new Map<string, number>();
  const unique = new Map<string, TrainConfig>();
  for (const cfg of cfgs) unique.set(configHash(cfg), cfg);
  const missing: TrainConfig[] = [];
  for (const cfg of unique.values()) {
    const dir = runDirOf(runsDir, cfg);
    if (isRunComplete(dir, cfg)) {
      status.set(dir, 'reused');
      options.onRunDone?.(dir, 'reused');
    } else missing.push(cfg);
  }
  if (missing.length === 0) return { status, seconds };
  const queue = queueUrlFrom(options.queue);
  if (queue) {
    // Longest runs first (unless the caller ordered them): the queue hands jobs out in this order.
    const ordered = options.keepOrder ? missing : missing.slice().sort((a, b) => estimatedStepSeconds(b) * b.steps - estimatedStepSeconds(a) * a.steps);
    // Loaded only here: BullMQ and ioredis take about a second to load.
    const { trainRunsOnQueue } = require('./queue-submit') as typeof import('./queue-submit');
    await trainRunsOnQueue(ordered, runsDir, queue, unique.size, status, seconds, {
      say,
      progressEverySec: options.progressEverySec,
      onRunDone: options.onRunDone,
    });
    return { status, seconds };
  }
  // Runs shorter than a worker's start (a process, tsx, the backend, the data: seconds) train in
  // this process, one after another: the smoke runs of `npm test`'s notebooks, 4 steps each.
  const tiny = options.jobs === undefined && missing.every((c) => estimatedStepSeconds(c) * c.steps <= TINY_RUN_SECONDS);
  const jobs = tiny ? 1 : Math.min(options.jobs === undefined ? await defaultJobs() : parseJobs(options.jobs), missing.length);
  const total = unique.size;
  // An interrupt (a notebook kernel's SIGINT, or requestInterrupt()) stops the training after the
  // current step of each run, checkpointed, and ends this call with `Interrupted`.
  const endStoppable = beginStoppable();
  try {
    if (jobs <= 1) {
      const mark = interruptMark();
      for (const cfg of missing) {
        const t0 = Date.now();
        const r = await ensureRun(cfg, runsDir, quiet, undefined, {
          waitForLock: options.waitForLock ?? inNotebookKernel(),
          // A tiny run another notebook trains is done in a second or two.
          lockPollMs: tiny ? 500 : undefined,
          log: say,
          shouldStop: () => interruptedSince(mark),
        });
        status.set(r.dir, r.status);
        seconds.set(r.dir, (Date.now() - t0) / 1000);
        say(`training: ${status.size}/${total} runs done`);
        options.onRunDone?.(r.dir, r.status);
      }
      return { status, seconds };
    }
    return await trainInWorkers(missing, runsDir, jobs, total, status, seconds, say, options);
  } finally {
    endStoppable();
  }
}

function trainInWorkers(
  missing: TrainConfig[],
  runsDir: string,
  jobs: number,
  total: number,
  status: Map<string, RunStatus>,
  seconds: Map<string, number>,
  say: (s: string) => void,
  options: TrainRunsOptions,
): Promise<TrainRunsResult> {
  // In a notebook the line is replaced in place, and a page opened meanwhile shows it: more often.
  const progressEverySec = options.progressEverySec ?? (statusStream().inPlace ? 5 : 30);
  // Longest runs first (unless the caller ordered them), so that the last minutes do not leave a
  // worker idle beside one long run.
  const stepCost = new Map(missing.map((c) => [c, estimatedStepSeconds(c)] as const));
  const queue = options.keepOrder ? missing.slice() : missing.slice().sort((a, b) => stepCost.get(b)! * b.steps - stepCost.get(a)! * a.steps);
  const running = new Set<Running>();
  const t0 = Date.now();
  const costTotal = missing.reduce((a, c) => a + stepCost.get(c)! * c.steps, 0);
  // Work is counted in estimated step-seconds (estimatedStepSeconds), so that the ETA holds when
  // cheap and expensive runs mix. Trained by finished workers of this call (not counting resumed
  // checkpoints): the rate.
  let costThisCall = 0;
  // Work of finished runs; with the running runs' current steps, what is no longer to train.
  let costCovered = 0;
  let stepsThisCall = 0;
  let firstError: Error | undefined;
  // Runs stopped by an interrupt (their workers' messages); nothing new starts after one.
  const interrupted: { message: string; hint?: string }[] = [];
  let stopping = false;
  let lastLine = 0;

  const progress = (force: boolean) => {
    const now = Date.now();
    if (!force && now - lastLine < progressEverySec * 1000) return;
    lastLine = now;
    let covered = costCovered;
    let trained = costThisCall;
    let steps = stepsThisCall;
    for (const r of running) {
      const c = stepCost.get(r.cfg)!;
      covered += c * r.step;
      const done = r.firstStep >= 0 ? r.step - r.firstStep : 0;
      trained += c * done;
      steps += done;
    }
    const elapsed = (now - t0) / 1000;
    const rate = steps / Math.max(elapsed, 1e-3);
    const eta = trained > 0 ? formatDuration(((costTotal - covered) * elapsed) / trained) : '?';
    const busy = [...running].map((r) => `${path.basename(r.dir)} ${r.step}/${r.cfg.steps}`);
    say(trainingStatusLine(status.size, total, busy, `; ${rate.toFixed(2)} steps/s in all, ETA ${eta}`));
  };

  return new Promise((resolve, reject) => {
    const timer = setInterval(() => progress(false), 1000);
    timer.unref?.();
    // The kernel got the interrupt (Jupyter signals the whole process group, so the workers
    // usually have it too): pass it on, and start nothing new.
    const stopListening = onInterrupt(() => {
      stopping = true;
      for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGINT');
    });
    const finish = () => {
      clearInterval(timer);
      stopListening();
      if (firstError) reject(firstError);
      else if (interrupted.length > 0) reject(interruptedError(interrupted, queue.length));
      else resolve({ status, seconds });
    };
    const startNext = () => {
      while (!firstError && !stopping && interrupted.length === 0 && running.size < jobs && queue.length > 0) start(queue.shift()!);
      if (running.size === 0) finish();
    };
    const start = (cfg: TrainConfig) => {
      const dir = runDirOf(runsDir, cfg);
      const name = path.basename(dir);
      const child = startTrainWorker({ cfg, runsDir, waitForLock: options.waitForLock ?? inNotebookKernel() });
      const r: Running = { cfg, dir, child, firstStep: -1, step: 0, t0: Date.now() };
      running.add(r);
      let outputTail = '';
      const keep = (chunk: Buffer) => (outputTail = (outputTail + chunk.toString()).slice(-4000));
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      let done: WorkerMessage | undefined;
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'step') {
          if (r.firstStep < 0) r.firstStep = m.step - 1;
          r.step = m.step;
        } else done = m;
      });
      let settled = false;
      const end = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        if (settled) return;
        settled = true;
        running.delete(r);
        if (r.firstStep >= 0) {
          stepsThisCall += r.step - r.firstStep;
          costThisCall += stepCost.get(cfg)! * (r.step - r.firstStep);
        }
        if (done?.type === 'done' && code === 0) {
          status.set(dir, done.status);
          seconds.set(dir, (Date.now() - r.t0) / 1000);
          costCovered += stepCost.get(cfg)! * cfg.steps;
          say(`training: ${done.status} ${name} in ${formatDuration((Date.now() - r.t0) / 1000)}`);
          progress(true);
          options.onRunDone?.(dir, done.status);
        } else if (done?.type === 'interrupted' || (signal === 'SIGINT' && !done)) {
          // Stopped by an interrupt: resumable from its checkpoint, not a failure.
          const why = done?.type === 'interrupted' ? done : { message: `training ${name} interrupted before its first step; nothing was lost` };
          interrupted.push(why);
          say(why.message);
        } else if (!firstError) {
          firstError = workerError(name, done, code, signal, spawnError, outputTail);
          say(`training: ${name} failed; letting ${running.size} running worker(s) finish`);
        }
        startNext();
      };
      child.on('error', (err) => end(null, null, err));
      // 'close' (not 'exit'): the IPC channel and output pipes are drained, so the final message has arrived.
      child.on('close', (code, signal) => end(code, signal));
    };
    say(`training ${missing.length} of ${total} runs with ${jobs} worker processes`);
    startNext();
  });
}

/** One error for the runs an interrupt stopped: where each stopped, and how to continue. */
function interruptedError(runs: { message: string; hint?: string }[], notStarted: number): Interrupted {
  const left = notStarted > 0 ? ` (${notStarted} more run(s) not started)` : '';
  const hint = 'rerun the cell (or the command) to continue: finished runs are reused, interrupted ones resume from their checkpoints';
  if (runs.length === 1) return new Interrupted(runs[0].message + left, hint);
  return new Interrupted(`${runs.length} runs interrupted${left}:\n` + runs.map((r) => `  ${r.message}`).join('\n'), hint);
}

/**
 * Start a training process for one run (train-worker.ts): it reports steps and its end over IPC;
 * its stdout and stderr are piped (quiet).
 */
export function startTrainWorker(job: WorkerJob): ChildProcess {
  const root = projectRoot();
  return spawn(
    process.execPath,
    ['--require', require.resolve('tsx/cjs', { paths: [root] }), path.join(root, 'lib', 'experiments', 'train-worker.ts'), JSON.stringify(job)],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Structured clone, not JSON: a NaN loss arrives as NaN (JSON would make it null).
      serialization: 'advanced',
      env: { ...process.env, METAANCHOR_QUIET: '1' },
    },
  );
}

/** The worker's error with the run's name; a UserError stays one (with its hint). */
export function workerError(
  name: string,
  msg: WorkerMessage | undefined,
  code: number | null,
  signal: NodeJS.Signals | null,
  spawnError: Error | undefined,
  outputTail: string,
): Error {
  if (msg?.type === 'error') {
    if (msg.user) return new UserError(`training run ${name} failed: ${msg.message}`, msg.hint);
    const err = new Error(`training run ${name} failed: ${msg.message}`);
    err.stack = `${err.message}\n--- in the worker process:\n${msg.stack ?? ''}`;
    return err;
  }
  const how = spawnError ? `could not start (${spawnError.message})` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return new Error(`training run ${name}: the worker process ${how}` + (outputTail.trim() ? `; its last output:\n${outputTail.trim()}` : ''));
}
