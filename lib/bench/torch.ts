/**
 * Runs bench/torch_reference.py (Debian's /usr/bin/python3 with `python3-torch`) on the layer
 * lists exported by lib/bench/arch.ts and reads its JSON answer. When torch (or Python) is
 * missing the result says so with the install command, and the benchmark reports tfjs alone.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchSpec } from './arch';

export const DEFAULT_PYTHON = '/usr/bin/python3';
export const TORCH_INSTALL_HINT = 'apt-get update && apt-get install python3-torch   (Debian; then rerun `npx metaanchor bench`)';

export interface TorchCaseRequest {
  name: string;
  arch: ArchSpec;
  batch: number;
  sizePx: number;
  positiveEvery: number;
  seed?: number;
}

export interface TorchCaseResult {
  name: string;
  params: number;
  anchorsPerImage: number;
  stepMs: number[];
  medianMs: number;
  minMs: number;
  loss: number;
}

export type TorchRun =
  { available: true; torch: string; threads: number; python: string; cases: TorchCaseResult[] } | { available: false; reason: string; hint: string };

export function torchScriptPath(): string {
  return path.resolve(__dirname, '../../bench/torch_reference.py');
}

/**
 * Interprets the script's exit: status 3 or ModuleNotFoundError = torch missing; spawn ENOENT =
 * no Python; anything else is a real failure (thrown, with the script's stderr).
 */
export function parseTorchOutput(python: string, status: number | null, stdout: string, stderr: string, spawnError?: NodeJS.ErrnoException): TorchRun {
  if (spawnError) {
    if (spawnError.code === 'ENOENT')
      return { available: false, reason: `${python} not found`, hint: `apt-get install python3 python3-torch, or pass --python <interpreter with torch>` };
    throw spawnError;
  }
  const last = stdout.trim().split('\n').pop() ?? '';
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(last) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  if (status === 3 || (parsed && parsed.available === false)) {
    const err = parsed && typeof parsed.error === 'string' ? parsed.error : 'torch is not installed';
    return { available: false, reason: `${python}: ${err}`, hint: TORCH_INSTALL_HINT };
  }
  if (status !== 0 || !parsed) {
    throw new Error(`bench/torch_reference.py failed (exit ${status}):\n${stderr.trim().split('\n').slice(-8).join('\n')}`);
  }
  return {
    available: true,
    torch: String(parsed.torch),
    threads: Number(parsed.threads),
    python,
    cases: parsed.cases as TorchCaseResult[],
  };
}

export interface TorchRunOptions {
  python?: string;
  threads: number;
  warmup: number;
  steps: number;
  /** Lines the script writes to stderr (one per case), for progress. */
  onLine?: (line: string) => void;
}

export function runTorchReference(cases: TorchCaseRequest[], o: TorchRunOptions): Promise<TorchRun> {
  const python = o.python ?? DEFAULT_PYTHON;
  if (!fs.existsSync(torchScriptPath())) throw new Error(`missing ${torchScriptPath()}`);
  return new Promise((resolve, reject) => {
    const child = spawn(python, [torchScriptPath()], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // One thread count for every library torch may use. Passive OpenMP waiting: on a shared
      // machine (other processes on the 2 cores) spinning threads made a conv's backward 5-10x
      // slower (measured 136 ms active vs 12-16 ms passive, b4 40x40x64 3x3); honour a user setting.
      env: {
        ...process.env,
        OMP_NUM_THREADS: String(o.threads),
        MKL_NUM_THREADS: String(o.threads),
        OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE',
      },
    });
    let stdout = '';
    let stderr = '';
    let spawnError: NodeJS.ErrnoException | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      for (const line of text.split('\n')) if (line.trim()) o.onLine?.(line.trim());
    });
    child.on('error', (e: NodeJS.ErrnoException) => (spawnError = e));
    child.stdin.on('error', () => undefined); // the script may exit before reading (torch missing)
    child.on('close', (status) => {
      try {
        resolve(parseTorchOutput(python, status, stdout, stderr, spawnError));
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.end(JSON.stringify({ threads: o.threads, warmup: o.warmup, steps: o.steps, cases }));
  });
}
