/**
 * A training run's folder, kept so that no work is lost (docs/CONTRACT.md, "Run folders"):
 *
 * - `train` writes only into a folder that is new, empty, or a run of the same configuration. A
 *   folder holding anything else is refused before anything in it is touched; a run of another
 *   configuration is refused with the settings that differ. A run that never reached a checkpoint
 *   (a failed start) is started again with the new settings, saying which ones changed.
 * - One writer at a time: `training.lock` holds the trainer's pid, host, the process's start time
 *   and the boot id, so that a lock left by a killed trainer is recognised even when its pid has
 *   since been given to another process. A lock whose process is gone is taken over, with a
 *   message. A lock from another host (a shared runs folder) cannot be checked by pid: the trainer
 *   refreshes the lock's mtime as it trains (touchRunLock), and one not refreshed for
 *   LOCK_STALE_MS is taken over.
 * - The checkpoint is swapped in whole (lib/util/atomic.ts replaceDirAtomicSync: staging folder,
 *   old one renamed aside, staging renamed in). A kill at any instant leaves a complete checkpoint
 *   somewhere: `checkpoint/` itself, or, between the two renames, the hidden staging / old
 *   folders. `recoverCheckpoint` moves the newest complete one back into place and removes the
 *   leftovers; `findCheckpointDir` finds it without moving anything (for read-only commands).
 * - `log.jsonl` gets one line per step as training goes; on resume it is cut back to the
 *   checkpoint's step, so the resumed steps are not logged twice.
 * - A checkpoint without a readable `train-state.json` is an error, never a silent restart.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../util/atomic';
import { UserError } from '../util/errors';
import { withFsErrors } from '../util/files';
import type { TrainConfig } from './config';

export const CHECKPOINT_DIR = 'checkpoint';
export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.json';
export const LOG_FILE = 'log.jsonl';
export const LOCK_FILE = 'training.lock';
export const STATE_FILE = 'train-state.json';
/** The checkpoint's weights (lib/model/weights-file.ts). */
const WEIGHTS_FILE = 'weights.json';

/** What a run folder may hold besides hidden swap leftovers. */
const RUN_ENTRIES = new Set([CONFIG_FILE, CHECKPOINT_DIR, METRICS_FILE, LOG_FILE, LOCK_FILE]);

/** The step counter, loss history and validation results of a checkpoint. */
export interface TrainState {
  step: number;
  history: { step: number }[];
  evals: { step: number }[];
}

/**
 * Settings that differ between two configs, as "path: old -> new" (nested keys joined by dots),
 * e.g. `batchSize: 8 -> 4`, `train.annotations: a.json -> b.json`.
 */
export function configDifferences(before: unknown, now: unknown, prefix = ''): string[] {
  if (isPlainObject(before) && isPlainObject(now)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort();
    return keys.flatMap((k) => configDifferences(before[k], now[k], prefix ? `${prefix}.${k}` : k));
  }
  if (JSON.stringify(before) === JSON.stringify(now)) return [];
  return [`${prefix || '(config)'}: ${show(before)} -> ${show(now)}`];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return v === undefined ? '(not set)' : JSON.stringify(v);
}

/**
 * Check that `train` may write into `dir` with config `cfg`. Returns what to do:
 * 'new' (empty or missing folder), 'same' (a run of this configuration) or 'restart' (a run of
 * another configuration that never reached a checkpoint; `changed` lists the differences).
 * Throws, touching nothing, for a folder that is not a run or a run of another configuration.
 */
export function checkRunFolder(dir: string, cfg: unknown): { kind: 'new' | 'same' | 'restart'; changed: string[] } {
  if (!fs.existsSync(dir)) return { kind: 'new', changed: [] };
  if (!fs.statSync(dir).isDirectory())
    throw new UserError(`--out ${dir} is a file, not a folder`, 'give --out a new folder (or the folder of a run to resume)');
  const entries = withFsErrors(`cannot read --out ${dir}`, () => fs.readdirSync(dir));
  const configPath = path.join(dir, CONFIG_FILE);
  if (!entries.includes(CONFIG_FILE)) {
    const foreign = entries.filter((e) => !RUN_ENTRIES.has(e) && !isSwapLeftover(e));
    if (foreign.length === 0 && !entries.includes(CHECKPOINT_DIR)) return { kind: 'new', changed: [] };
    throw new UserError(
      `--out ${dir} is not a training run (no ${CONFIG_FILE}) and is not empty: it holds ${listSome(entries.sort())}; nothing was changed`,
      'give --out a new or empty folder',
    );
  }
  let before: unknown;
  try {
    before = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new UserError(
      `${configPath} cannot be read as JSON (${(err as Error).message}); nothing was changed`,
      'give --out a new folder, or restore that file',
    );
  }
  const changed = configDifferences(before, JSON.parse(JSON.stringify(cfg)));
  if (changed.length === 0) return { kind: 'same', changed };
  if (findCheckpointDir(dir) === null) return { kind: 'restart', changed };
  throw new UserError(
    `${dir} holds a run with another configuration; it differs in ${changed.length} setting(s): ${listSome(changed, '; ')}. Nothing was changed`,
    'use the same settings to resume it (--resume), or give --out a new folder',
  );
}

function listSome(items: string[], sep = ', ', max = 6): string {
  return items.length <= max ? items.join(sep) : `${items.slice(0, max).join(sep)}${sep}... (${items.length} in all)`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock from another host that has not been refreshed for this long belongs to a dead trainer. */
export const LOCK_STALE_MS = 10 * 60 * 1000;

interface LockInfo {
  pid: number;
  host?: string;
  /** Start time of the process (Linux: /proc/<pid>/stat field 22, clock ticks since boot). */
  start?: string;
  boot?: string;
  mtimeMs: number;
}

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function processStart(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19];
}

const bootId = (): string | undefined => readProc('/proc/sys/kernel/random/boot_id')?.trim();

function lockText(): string {
  return [process.pid, os.hostname(), processStart(process.pid) ?? '-', bootId() ?? '-'].join(' ');
}

function readLock(file: string): LockInfo | null {
  try {
    const [pidText, host, start, boot] = fs.readFileSync(file, 'utf8').trim().split(/\s+/);
    const pid = Number(pidText);
    if (!(Number.isInteger(pid) && pid > 0)) return null;
    const known = (v: string | undefined) => (v && v !== '-' ? v : undefined);
    return { pid, host, start: known(start), boot: known(boot), mtimeMs: fs.statSync(file).mtimeMs };
  } catch {
    return null;
  }
}

/** The lock's trainer still runs (as far as this host can tell). */
function lockAlive(lock: LockInfo): boolean {
  if (lock.host && lock.host !== os.hostname()) return Date.now() - lock.mtimeMs < LOCK_STALE_MS;
  if (lock.boot && bootId() && lock.boot !== bootId()) return false;
  if (!processAlive(lock.pid)) return false;
  // The pid may have been given to another process since the trainer died.
  return !(lock.start && processStart(lock.pid) && processStart(lock.pid) !== lock.start);
}

/**
 * Lock `dir` against a second trainer: `training.lock` identifies this process (pid, host, start
 * time, boot). A lock left by a process that no longer runs is taken over (reported through
 * `log`). Returns the release.
 */
export function lockRunFolder(dir: string, log: (s: string) => void = () => undefined): () => void {
  const file = path.join(dir, LOCK_FILE);
  const mine = lockText();
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, mine + '\n', { flag: 'wx' });
      return () => {
        if (readProc(file)?.trim() === mine) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const lock = readLock(file);
      if (lock !== null && lockAlive(lock)) {
        const who = `process ${lock.pid}${lock.host && lock.host !== os.hostname() ? ` on ${lock.host}` : ''}`;
        throw new UserError(
          `${dir} is being trained by ${who}${lock.pid === process.pid && lock.host === os.hostname() ? ' (this one)' : ''}`,
          `two trainers would overwrite each other's checkpoints: wait for it to finish, or stop it; if no trainer runs, delete ${file}`,
        );
      }
      log(
        `${dir}: taking over the lock of process ${lock?.pid ?? '(unreadable)'}${lock?.host && lock.host !== os.hostname() ? ` on ${lock.host} (not refreshed for ${Math.round((Date.now() - lock.mtimeMs) / 60000)} min)` : ''}, which no longer runs`,
      );
      fs.rmSync(file, { force: true });
    }
  }
  throw new UserError(`cannot lock ${dir}`, `delete ${file} if no other process trains this run`);
}

/** Tell other hosts that the lock's trainer is alive (its mtime; see LOCK_STALE_MS). */
export function touchRunLock(dir: string): void {
  const now = new Date();
  try {
    fs.utimesSync(path.join(dir, LOCK_FILE), now, now);
  } catch {
    // A missing lock is not this function's concern (the trainer holds it).
  }
}

/** The live process that holds `dir`'s training lock, or null (no lock, or one left by a dead process). */
export function lockHolder(dir: string): number | null {
  const lock = readLock(path.join(dir, LOCK_FILE));
  if (lock === null || !lockAlive(lock)) return null;
  return lock.pid === process.pid && (!lock.host || lock.host === os.hostname()) ? null : lock.pid;
}

/** Hidden folders of a checkpoint swap: `.checkpoint.<pid>.<n>.tmp` (staging) and `….tmp.old`. */
function isSwapLeftover(name: string): boolean {
  return name.startsWith(`.${CHECKPOINT_DIR}.`) && (name.endsWith('.tmp') || name.endsWith('.tmp.old'));
}

/** The state of a checkpoint folder, or an error saying what is wrong with it. */
export function readCheckpointState(checkpointDir: string): TrainState {
  const file = path.join(checkpointDir, STATE_FILE);
  if (!fs.existsSync(file)) {
    throw new UserError(
      `the checkpoint ${checkpointDir} has no ${STATE_FILE}: it is incomplete, and resuming would restart from step 0`,
      `restore ${file}, or train into a new --out folder`,
    );
  }
  let state: TrainState;
  try {
    state = JSON.parse(withFsErrors(`cannot read ${file}`, () => fs.readFileSync(file, 'utf8'))) as TrainState;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${file} is corrupt (${(err as Error).message})`, `restore it, or train into a new --out folder`);
  }
  if (!state || !Number.isInteger(state.step) || state.step < 0 || !Array.isArray(state.history) || !Array.isArray(state.evals)) {
    throw new UserError(`${file} is corrupt (no step, history and evals)`, `restore it, or train into a new --out folder`);
  }
  return state;
}

/** A complete checkpoint: weights plus a readable train state. Returns its step, or null. */
function completeStep(checkpointDir: string): number | null {
  if (!fs.existsSync(path.join(checkpointDir, WEIGHTS_FILE))) return null;
  try {
    return readCheckpointState(checkpointDir).step;
  } catch {
    return null;
  }
}

/** Complete checkpoints left by interrupted swaps, newest step first. */
function completeLeftovers(dir: string): { name: string; step: number }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter(isSwapLeftover)
    .map((name) => ({ name, step: completeStep(path.join(dir, name)) }))
    .filter((c): c is { name: string; step: number } => c.step !== null)
    .sort((a, b) => b.step - a.step || (a.name.endsWith('.old') ? 1 : 0) - (b.name.endsWith('.old') ? 1 : 0));
}

/**
 * The folder of the run's checkpoint without changing anything: `checkpoint/` if it exists, else
 * the newest complete checkpoint an interrupted swap left behind, else null.
 */
export function findCheckpointDir(dir: string): string | null {
  const main = path.join(dir, CHECKPOINT_DIR);
  if (fs.existsSync(main)) return main;
  const left = completeLeftovers(dir);
  return left.length ? path.join(dir, left[0].name) : null;
}

/**
 * Put the run's newest complete checkpoint in `checkpoint/` and remove the leftovers of
 * interrupted swaps (call with the run locked). Returns the checkpoint's state, or null when the
 * run has no checkpoint. Throws for a `checkpoint/` without a readable train state.
 */
export function recoverCheckpoint(dir: string, log: (s: string) => void): TrainState | null {
  const main = path.join(dir, CHECKPOINT_DIR);
  if (!fs.existsSync(main)) {
    const left = completeLeftovers(dir);
    if (left.length) {
      fs.renameSync(path.join(dir, left[0].name), main);
      log(`${dir}: recovered the checkpoint of step ${left[0].step} that an interrupted checkpoint swap left in ${left[0].name}`);
    }
  }
  const leftovers = fs.existsSync(dir) ? fs.readdirSync(dir).filter(isSwapLeftover) : [];
  for (const name of leftovers) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  if (leftovers.length) log(`${dir}: removed ${leftovers.length} leftover folder(s) of interrupted checkpoint swaps`);
  return fs.existsSync(main) ? readCheckpointState(main) : null;
}

/** Cut `log.jsonl` back to the steps up to `step` (a resumed run logs the later ones again). */
export function trimLog(dir: string, step: number): number {
  const file = path.join(dir, LOG_FILE);
  if (!fs.existsSync(file)) return 0;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const kept: string[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    let rec: { step?: number };
    try {
      rec = JSON.parse(line);
    } catch {
      continue; // a line cut by a kill
    }
    if (typeof rec.step === 'number' && rec.step <= step) kept.push(line);
  }
  const dropped = lines.filter((l) => l.trim()).length - kept.length;
  writeFileAtomicSync(file, kept.map((l) => l + '\n').join(''));
  return dropped;
}

/** A run's config.json (UserError when the folder is not a run). */
export function readRunConfig(dir: string): TrainConfig {
  const file = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(file)) throw new UserError(`${dir} is not a training run (no ${CONFIG_FILE})`, 'pass the --out folder of a `metaanchor train` run');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as TrainConfig;
  } catch (err) {
    throw new UserError(`${file} cannot be read as JSON (${(err as Error).message})`, 'restore that file, or train the run again into a new folder');
  }
}
