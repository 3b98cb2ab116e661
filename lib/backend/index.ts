/**
 * Backend selection. Order (first that loads wins):
 *   explicit override (option `backend`, else env METAANCHOR_BACKEND)
 *   -> tfjs-node-gpu -> webgpu (hardware adapter) -> tfjs-node -> wasm -> cpu.
 * webgpu (lib/backend/webgpu.ts) uses a software adapter (llvmpipe) only when asked for: option
 * `webgpuSoftware` or METAANCHOR_WEBGPU_SOFTWARE=1, with webgpu requested explicitly.
 * One line says what was chosen and why the others were skipped.
 *
 * Facts this relies on (docs/DESIGN.md section 4):
 * - The native packages are optional: when their install could not download libtensorflow they are
 *   absent (MODULE_NOT_FOUND) or present without a binding (require throws).
 * - Never load both native packages in one process: once tfjs-node-gpu's module is found, tfjs-node
 *   is not tried.
 * - danfojs-node's dependency on @tensorflow/tfjs-node is aliased to plain @tensorflow/tfjs, so a
 *   module of that name may load without registering the native 'tensorflow' backend.
 * - wasm cannot train conv nets out of the box; the project's kernels are registered when it is chosen.
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { UserError } from '../util/errors';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { requestedWasmThreads, useThreadedWasm, wasmThreadsInUse } from './wasm-threads';
import { statusStream } from '../util/log';
import { packageDirAbove } from '../util/package-dir';
import { activateWebGPU, AdapterReport, formatAdapter, softwareAdapterAllowed } from './webgpu';

export type BackendKind = 'gpu' | 'webgpu' | 'node' | 'wasm' | 'cpu';

export interface BackendChoice {
  /** Which kind won. */
  kind: BackendKind;
  /** The tfjs backend name now active ('tensorflow', 'webgpu', 'wasm', 'cpu'). */
  tfBackend: string;
  /** Candidates skipped before the winner, with the reason. */
  skipped: { kind: BackendKind; reason: string; hint?: string }[];
  /** Extra facts: wasm SIMD/threads, kernels registered, GPU libraries missing, the WebGPU adapter. */
  details: string[];
  /** webgpu: the adapter in use. */
  adapter?: AdapterReport;
  /** The one-line report. */
  line: string;
}

export interface BackendOptions {
  /** 'gpu' | 'webgpu' | 'node' | 'wasm' | 'cpu' (aliases: tfjs-node-gpu, tensorflow-gpu, dawn, tfjs-node, tensorflow). */
  backend?: string;
  /** webgpu: accept a software adapter (llvmpipe; for tests). Default: env METAANCHOR_WEBGPU_SOFTWARE=1. */
  webgpuSoftware?: boolean;
  /** Print the one-line report to stderr (default true unless METAANCHOR_QUIET=1). */
  log?: boolean;
  /**
   * wasm only: XNNPACK threads (1-8; default env METAANCHOR_WASM_THREADS, else 1). More than 1 runs
   * tfjs-backend-wasm's threaded build in Node (lib/backend/wasm-threads.ts; opt-in).
   */
  wasmThreads?: number;
}

const ORDER: BackendKind[] = ['gpu', 'webgpu', 'node', 'wasm', 'cpu'];

const ALIASES: Record<string, BackendKind> = {
  gpu: 'gpu',
  'tfjs-node-gpu': 'gpu',
  'tensorflow-gpu': 'gpu',
  webgpu: 'webgpu',
  dawn: 'webgpu',
  node: 'node',
  'tfjs-node': 'node',
  tensorflow: 'node',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** Parse a user-given backend name; throws a UserError naming the accepted values. */
export function parseBackendKind(name: string): BackendKind {
  const kind = ALIASES[name.trim().toLowerCase()];
  if (!kind) {
    throw new UserError(`unknown backend "${name}"`, `use one of: gpu (tfjs-node-gpu), webgpu (Dawn), node (tfjs-node), wasm, cpu`);
  }
  return kind;
}

let current: BackendChoice | undefined;
let pending: Promise<BackendChoice> | undefined;

/** The choice made by `initBackend`, if it ran. */
export function currentBackend(): BackendChoice | undefined {
  return current;
}

/**
 * Pick and activate a backend. Idempotent: later calls return the first choice unless a different
 * explicit backend is requested, which is an error (tfjs cannot unload a native backend).
 */
export function initBackend(options: BackendOptions = {}): Promise<BackendChoice> {
  const requested = options.backend ?? process.env.METAANCHOR_BACKEND;
  if (pending) {
    return pending.then((choice) => {
      if (requested && parseBackendKind(requested) !== choice.kind) {
        throw new UserError(
          `backend already initialised as ${choice.kind}; cannot switch to ${requested} in the same process`,
          'restart the process (or the notebook kernel) with METAANCHOR_BACKEND set',
        );
      }
      return choice;
    });
  }
  const wasmThreads = requestedWasmThreads(options.wasmThreads);
  pending = select(requested, options.log ?? process.env.METAANCHOR_QUIET !== '1', wasmThreads, options.webgpuSoftware);
  pending.then((c) => (current = c)).catch(() => (pending = undefined));
  return pending;
}

async function select(
  requested: string | undefined,
  log: boolean,
  wasmThreads: number | undefined,
  webgpuSoftware: boolean | undefined,
): Promise<BackendChoice> {
  const skipped: { kind: BackendKind; reason: string; hint?: string }[] = [];
  const details: string[] = [];
  let candidates = ORDER;
  let overrideNote = '';
  if (requested && requested.trim() !== '' && requested !== 'auto') {
    const kind = parseBackendKind(requested);
    candidates = [kind];
    overrideNote = ` (requested by ${process.env.METAANCHOR_BACKEND === requested ? 'METAANCHOR_BACKEND' : 'option'})`;
  }
  let nativeModuleFound = false;
  for (const kind of candidates) {
    if (kind === 'node' && nativeModuleFound) {
      skipped.push({ kind, reason: 'not loaded after tfjs-node-gpu (never two native packages in one process)' });
      continue;
    }
    const result = await tryKind(kind, details, wasmThreads, {
      // Automatic choice: a hardware adapter through the native API only; explicit: also OpenGL and,
      // when asked for, the software adapter.
      explicit: candidates.length === 1,
      software: candidates.length === 1 ? softwareAdapterAllowed(webgpuSoftware) : false,
    });
    if (result.moduleFound && kind === 'gpu') nativeModuleFound = true;
    if (result.ok) {
      const choice: BackendChoice = { kind, tfBackend: tf.getBackend(), skipped, details, line: '', adapter: result.adapter };
      choice.line = formatLine(choice, overrideNote);
      if (log) statusStream().write(choice.line + '\n');
      return choice;
    }
    skipped.push({ kind, reason: result.reason, hint: result.hint });
  }
  const why = skipped.map((s) => `${s.kind}: ${s.reason}`).join('; ');
  if (overrideNote) {
    throw new UserError(
      `the requested backend could not be loaded (${why})`,
      candidates[0] === 'gpu'
        ? 'install tfjs-node-gpu as the README\'s "Backends and GPU" section says, or unset METAANCHOR_BACKEND / --backend'
        : candidates[0] === 'webgpu'
          ? `${skipped[0]?.hint ?? 'see the README\'s "Backends and GPU" section'}; or unset METAANCHOR_BACKEND / --backend`
          : 'unset METAANCHOR_BACKEND / --backend to use the first backend that loads',
    );
  }
  throw new UserError(`no TensorFlow.js backend could be loaded (${why})`, 'run `npm ci` in the project folder');
}

function formatLine(choice: BackendChoice, overrideNote: string): string {
  const names: Record<BackendKind, string> = {
    gpu: 'tfjs-node-gpu',
    webgpu: 'webgpu',
    node: 'tfjs-node',
    wasm: 'wasm',
    cpu: 'cpu (pure JS, slow)',
  };
  let line = `backend: ${names[choice.kind]}${overrideNote}`;
  if (choice.details.length) line += ` [${choice.details.join(', ')}]`;
  if (choice.skipped.length) {
    line += `; skipped ${choice.skipped.map((s) => `${names[s.kind]} (${s.reason})`).join(', ')}`;
  }
  return line;
}

interface TryResult {
  ok: boolean;
  moduleFound: boolean;
  reason: string;
  hint?: string;
  adapter?: AdapterReport;
}

function isModuleNotFound(err: unknown, name: string): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'MODULE_NOT_FOUND' && (e.message ?? '').includes(name);
}

function shortMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].slice(0, 160);
}

async function tryKind(
  kind: BackendKind,
  details: string[],
  wasmThreads: number | undefined,
  webgpu: { explicit: boolean; software: boolean },
): Promise<TryResult> {
  switch (kind) {
    case 'webgpu':
      return tryWebGPU(details, webgpu);
    case 'gpu':
      return tryNative('@tensorflow/tfjs-node-gpu', true, details);
    case 'node':
      return tryNative('@tensorflow/tfjs-node', false, details);
    case 'wasm':
      return tryWasm(details, wasmThreads);
    case 'cpu':
      await tf.setBackend('cpu');
      await tf.ready();
      return { ok: true, moduleFound: true, reason: '' };
  }
}

async function tryWebGPU(details: string[], opts: { explicit: boolean; software: boolean }): Promise<TryResult> {
  const probe = await activateWebGPU(opts.software, { nativeOnly: !opts.explicit });
  if (!probe.ok || !probe.adapter) {
    return { ok: false, moduleFound: false, reason: probe.reason ?? 'unavailable', hint: probe.hint };
  }
  details.push(formatAdapter(probe.adapter));
  if (probe.adapter.type === 'software') details.push('software adapter: for correctness checks only, far slower than wasm');
  return { ok: true, moduleFound: false, reason: '', adapter: probe.adapter };
}

async function tryNative(pkg: string, gpu: boolean, details: string[]): Promise<TryResult> {
  let resolved: string;
  try {
    resolved = require.resolve(pkg);
  } catch (err) {
    return { ok: false, moduleFound: false, reason: 'not installed' };
  }
  // danfojs' alias: the folder holds plain @tensorflow/tfjs under the native package's name.
  try {
    const dir = packageDirAbove(path.dirname(resolved));
    if (!dir) throw new Error('package.json not found');
    const pj = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
    if (pj.name !== pkg) {
      return { ok: false, moduleFound: false, reason: `not installed (${pkg} is an alias of ${pj.name})` };
    }
  } catch {
    /* fall through: try to load it */
  }
  try {
    require(pkg);
  } catch (err) {
    if (isModuleNotFound(err, pkg)) return { ok: false, moduleFound: false, reason: 'not installed' };
    return { ok: false, moduleFound: true, reason: `installed but failed to load: ${shortMessage(err)}` };
  }
  if (!tf.findBackend('tensorflow')) {
    return { ok: false, moduleFound: true, reason: 'loaded but registered no native backend' };
  }
  const ok = await tf.setBackend('tensorflow');
  if (!ok) return { ok: false, moduleFound: true, reason: 'native backend failed to initialise' };
  await tf.ready();
  if (gpu) {
    const missing = missingCudaLibraries();
    if (missing.length) {
      // libtensorflow 2.9.1 then silently runs on the CPU (tensorflow/tfjs#8362, #8505, #8187).
      details.push(`GPU NOT in use: ${missing.join(', ')} not found; tfjs-node-gpu 4.22 needs CUDA 11.2 + cuDNN 8.1 (README, "GPU")`);
    } else {
      details.push('CUDA 11 / cuDNN 8 libraries found');
    }
  }
  return { ok: true, moduleFound: true, reason: '' };
}

/** The CUDA 11 / cuDNN 8 shared libraries libtensorflow 2.9.1 opens, minus those the loader can find. */
export function missingCudaLibraries(): string[] {
  const wanted = [
    'libcudart.so.11.0',
    'libcublas.so.11',
    'libcublasLt.so.11',
    'libcufft.so.10',
    'libcurand.so.10',
    'libcusolver.so.11',
    'libcusparse.so.11',
    'libcudnn.so.8',
  ];
  let cache = '';
  try {
    cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    /* no ldconfig: rely on LD_LIBRARY_PATH only */
  }
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return wanted.filter((lib) => !cache.includes(lib) && !dirs.some((d) => fs.existsSync(path.join(d, lib))));
}

async function tryWasm(details: string[], threads: number | undefined): Promise<TryResult> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = require('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    return { ok: false, moduleFound: false, reason: `not loadable: ${shortMessage(err)}` };
  }
  void wasm;
  if (threads) useThreadedWasm(threads);
  try {
    const ok = await tf.setBackend('wasm');
    if (!ok && threads) {
      throw new UserError(
        `the wasm backend with ${threads} threads failed to start (see the error printed above)`,
        'unset METAANCHOR_WASM_THREADS to use the single-threaded wasm backend',
      );
    }
    if (!ok) return { ok: false, moduleFound: true, reason: 'wasm backend failed to initialise' };
    await tf.ready();
  } catch (err) {
    if (err instanceof UserError) throw err;
    return { ok: false, moduleFound: true, reason: `wasm failed to initialise: ${shortMessage(err)}` };
  }
  const names = registerWasmTrainingKernels();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const inUse = wasmThreadsInUse();
  details.push(
    `SIMD ${simd ? 'on' : 'off'}`,
    threads ? `${inUse} threads (METAANCHOR_WASM_THREADS; experimental, see BENCHMARKS.md)` : `${inUse} thread`,
    `${names.length} training kernels registered`,
  );
  return { ok: true, moduleFound: true, reason: '' };
}
