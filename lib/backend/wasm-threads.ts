/**
 * Opt-in multi-threaded wasm backend for Node (env METAANCHOR_WASM_THREADS=n or
 * `initBackend({ wasmThreads: n })`), built at run time from the files tfjs-backend-wasm 4.22 ships;
 * nothing in node_modules is modified.
 *
 * Why tfjs itself never uses threads in Node, precisely:
 * 1. The flag WASM_HAS_MULTITHREAD_SUPPORT returns false whenever IS_NODE (tfjs issue #3830).
 * 2. Forcing the flag to true is not enough: tfjs' init() hands emscripten a worker script as a
 *    Blob URL ("blob:nodedata:..."), and Node's worker_threads reject it:
 *    `TypeError [ERR_WORKER_PATH]: The worker script or module filename must be an absolute path
 *    or a relative path starting with './' or '../'`, thrown from allocateUnusedWorker while the
 *    module starts; setBackend('wasm') then returns false. The pthread workers would also load the
 *    main script from a Blob (importScripts(blob URL)), which fails the same way in Node.
 * 3. Even with workers running, the C++ side caps the pool at emscripten_num_logical_cores() / 2
 *    (it assumes two hyper-threads per core): init_with_threads_count(n) creates
 *    min(n, cores / 2, 8) threads, i.e. ONE thread on a 2-core machine whatever n is.
 *
 * What this module does instead, before the wasm backend is first initialised:
 * - re-registers the 'wasm' backend with a factory that loads the package's own emscripten module
 *   `wasm-out/tfjs-backend-wasm-threaded-simd.js` (the same build as dist/*.wasm) with file paths:
 *   the pthread workers run lib/backend/wasm-threads-worker.js, which evaluates the worker source
 *   the package ships, and load the main script from its path;
 * - instantiates the wasm itself (emscripten's `instantiateWasm` hook) with the import
 *   `emscripten_num_logical_cores` answering 2 * n, so that the cap above becomes n;
 * - builds tfjs' own `BackendWasm` on that module, after `setThreadsCount(n)`; all kernels
 *   (tfjs' and the project's) are the same JavaScript and the same wasm code as single-threaded.
 * - makes `Module.HEAPU8` follow heap growth done by any thread (tfjs reads that view directly;
 *   emscripten refreshes it only on the thread that grew the memory).
 * XNNPACK then splits convolutions, GEMMs and elementwise ops over n threads (emscripten starts 8
 * idle workers whatever n is, its compiled PTHREAD_POOL_SIZE). Results are the same to float32
 * rounding (`METAANCHOR_WASM_THREADS=2 node test/run.js wasm-kernels` runs the kernel checks with 2
 * threads; all pass).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors';

/** The largest pool tfjs' C++ accepts (and the number of workers emscripten pre-starts). */
export const MAX_WASM_THREADS = 8;

/**
 * Threads requested by `option` or else env METAANCHOR_WASM_THREADS: undefined when neither is set
 * (or it is '1' / '' — the stock single-threaded build). Throws a UserError for anything else
 * than an integer 1..8.
 */
export function requestedWasmThreads(option?: number | string): number | undefined {
  const raw = option ?? process.env.METAANCHOR_WASM_THREADS;
  if (raw === undefined || String(raw).trim() === '') return undefined;
  const n = Number(String(raw).trim());
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new UserError(
      `invalid wasm thread count "${raw}"`,
      `set METAANCHOR_WASM_THREADS (or the wasmThreads option) to an integer from 1 to ${MAX_WASM_THREADS}, e.g. 2 on a 2-core machine`,
    );
  }
  return n === 1 ? undefined : n;
}

/**
 * The WebAssembly API as used here, declared locally: the notebook kernel (tslab) compiles lib/
 * without the WebAssembly lib types, so naming `WebAssembly.Memory` would fail every notebook.
 */
interface WasmModuleHandle {
  readonly __wasmModule?: never;
}
interface WasmInstanceHandle {
  exports: unknown;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModuleHandle>;
  Instance: new (module: WasmModuleHandle, imports: Record<string, unknown>) => WasmInstanceHandle;
}
const wasmApi = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface EmscriptenModule {
  cwrap: (name: string, ret: string | null, args: string[]) => (...a: number[]) => number;
  wasmMemory: { buffer: ArrayBuffer };
  HEAPU8: Uint8Array;
  tfjs?: unknown;
  /** emscripten's pthread bookkeeping (Module.PThread in the threaded build). */
  PThread?: { runningWorkers: { unref?: () => void }[] };
}

type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

let configuredThreads: number | undefined;

/** The thread count the wasm backend was set up with by `useThreadedWasm`, if any. */
export function wasmThreadsConfigured(): number | undefined {
  return configuredThreads;
}

function packageDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
}

/** Keeps `Module.HEAPU8` a view of the whole current heap, whichever thread grew it. */
function followHeapGrowth(mod: EmscriptenModule): void {
  let view = mod.HEAPU8;
  Object.defineProperty(mod, 'HEAPU8', {
    configurable: true,
    enumerable: true,
    get: () => {
      const buffer = mod.wasmMemory.buffer;
      if (view.buffer.byteLength !== buffer.byteLength) view = new Uint8Array(buffer);
      return view;
    },
    set: (v: Uint8Array) => {
      view = v;
    },
  });
}

async function createThreadedModule(threads: number): Promise<EmscriptenModule> {
  const dir = packageDir();
  const mainScript = path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const wasmFile = path.join(dir, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm');
  const workerScript = path.join(__dirname, 'wasm-threads-worker.js');
  const factory = require(mainScript) as Factory;
  const compiled = await wasmApi().compile(fs.readFileSync(wasmFile));
  const mod = await factory({
    locateFile: (file: string, prefix: string) => {
      if (file.endsWith('.worker.js')) return workerScript;
      if (file.endsWith('.wasm')) return wasmFile;
      return prefix + file;
    },
    // What each pthread worker loads (by path; tfjs passes a Blob, which Node cannot import).
    mainScriptUrlOrBlob: mainScript,
    // Synchronous; an exception here rejects the module's promise (emscripten catches it).
    instantiateWasm: (
      info: { env: Record<string, unknown> } & Record<string, unknown>,
      receive: (instance: WasmInstanceHandle, module: WasmModuleHandle) => void,
    ) => {
      // tfjs' C++ uses cores / 2 threads at most; report 2n cores so that n threads are allowed.
      const env = { ...info.env, emscripten_num_logical_cores: () => 2 * threads };
      const instance = new (wasmApi().Instance)(compiled, { ...info, env, wasi_snapshot_preview1: env });
      receive(instance, compiled);
      return instance.exports;
    },
  });
  followHeapGrowth(mod);
  // The same bindings tfjs' init() adds (backend_wasm.ts).
  mod.tfjs = {
    init: mod.cwrap('init', null, []),
    initWithThreadsCount: mod.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: mod.cwrap('get_threads_count', 'number', []),
    registerTensor: mod.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: mod.cwrap('dispose_data', null, ['number']),
    dispose: mod.cwrap('dispose', null, []),
  };
  return mod;
}

/**
 * Makes the next `tf.setBackend('wasm')` create a `threads`-thread backend (see the module
 * comment). Must run before the wasm backend is first initialised in this process; throws
 * otherwise (tfjs cannot re-create it). `threads` 1 leaves the stock backend.
 */
export function useThreadedWasm(threads: number): void {
  if (threads === 1) return;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new Error(`wasm threads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${threads}`);
  }
  if (configuredThreads === threads) return;
  const wasmPkg = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  if ((tf.engine().registry as Record<string, unknown>)['wasm']) {
    throw new UserError(
      'the wasm backend is already running single-threaded in this process',
      'set METAANCHOR_WASM_THREADS before the first tfjs call (restart the process or notebook kernel)',
    );
  }
  const priority = 2; // tfjs-backend-wasm's WASM_PRIORITY
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      const mod = await createThreadedModule(threads);
      wasmPkg.setThreadsCount(threads);
      const backend = new wasmPkg.BackendWasm(mod as unknown as ConstructorParameters<typeof wasmPkg.BackendWasm>[0]);
      // The constructor started XNNPACK's pool (init_with_threads_count). Its threads live as long
      // as the process and wait for work; emscripten keeps such running workers ref'd, so Node would
      // never exit on its own (a test runner hung after its last test). Unref them: they still run
      // while the process has anything else to do.
      for (const worker of mod.PThread?.runningWorkers ?? []) worker.unref?.();
      return backend;
    },
    priority,
  );
  configuredThreads = threads;
}

/** XNNPACK's thread count of the running wasm backend (1 for the stock build). */
export function wasmThreadsInUse(): number {
  const wasmPkg = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  return wasmPkg.getThreadsCount();
}
