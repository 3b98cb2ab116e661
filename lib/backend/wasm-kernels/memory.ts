/**
 * The wasm heap: how big it is now, and what to tell the user when it runs out.
 *
 * The wasm backend keeps every tensor in one WebAssembly memory of at most 4 GiB (65536 pages
 * minus one, emscripten's getHeapMax()). It grows on demand and never shrinks. Running past the
 * cap shows up, depending on which allocation fails, as (all observed with tfjs-backend-wasm 4.22):
 *   - `RangeError: offset is out of bounds` (copying data into a failed allocation),
 *   - `RuntimeError: memory access out of bounds` (a kernel writing through a null pointer),
 *   - `RuntimeError: Aborted()` (malloc aborting inside a kernel).
 * After the second kind the backend's memory is corrupt and the process must be restarted.
 *
 * Worse, emscripten's malloc returns address 0 when the heap cannot grow, and tfjs-backend-wasm
 * does not check: the new tensor then aliases the bottom of the heap, and writing it silently
 * corrupts memory (seen as wrong numbers or a later crash); and a single tensor of 4 GiB or more
 * wraps malloc's 32-bit size argument. `guardWasmAllocations` makes every
 * allocation the backend requests from JavaScript (all tensor outputs) throw
 * `RangeError: offset is out of bounds ...` instead, before anything is written.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../util/errors';

/** emscripten's heap limit for the wasm backend binaries (4 GiB minus one 64 KiB page). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

interface WasmModuleLike {
  HEAPU8?: Uint8Array;
}

/**
 * Current size of the wasm heap in bytes (it only grows), or undefined when the wasm backend
 * has not been initialised in this process.
 */
export function wasmHeapBytes(): number | undefined {
  const registered = tf.engine().registry['wasm'] as { wasm?: WasmModuleLike } | undefined;
  const heap = registered?.wasm?.HEAPU8;
  return heap ? heap.byteLength : undefined;
}

interface WasmModuleWithMalloc {
  _malloc: (bytes: number) => number;
  asm?: { malloc?: (bytes: number) => number };
  metaanchorMallocGuard?: boolean;
}

function guardModule(module: WasmModuleWithMalloc): void {
  if (module.metaanchorMallocGuard) return;
  // The raw export: Module._malloc starts as a stub that replaces itself on first call.
  const raw = module.asm?.malloc ?? module._malloc;
  module._malloc = (bytes: number) => {
    // malloc takes a 32-bit size: a request of 4 GiB or more would silently wrap around.
    if (bytes > WASM_HEAP_MAX_BYTES) {
      throw new RangeError(`offset is out of bounds: one tensor of ${bytes} bytes exceeds the 4 GiB wasm heap`);
    }
    const ptr = raw(bytes);
    if (ptr === 0 && bytes > 0) {
      throw new RangeError(`offset is out of bounds: the wasm heap (4 GiB at most) could not allocate ${bytes} more bytes`);
    }
    return ptr;
  };
  module.metaanchorMallocGuard = true;
}

/**
 * Makes the wasm backend's allocations fail loudly (see the module comment). Idempotent; applies to
 * wasm backends created before or after the call. Needs @tensorflow/tfjs-backend-wasm loaded.
 */
export function guardWasmAllocations(): void {
  const { BackendWasm } = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  const proto = BackendWasm.prototype as unknown as {
    move: (...args: unknown[]) => void;
    metaanchorMoveGuard?: boolean;
  };
  if (proto.metaanchorMoveGuard) return;
  const move = proto.move;
  // move() is where every tensor allocation (write, makeOutput) calls malloc.
  proto.move = function guardedMove(this: { wasm: WasmModuleWithMalloc }, ...args: unknown[]) {
    guardModule(this.wasm);
    return move.apply(this, args);
  };
  proto.metaanchorMoveGuard = true;
}

/** True for the errors the wasm backend throws when its heap cannot grow any more. */
export function isWasmOutOfMemory(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const msg = err.message ?? '';
  if (err instanceof RangeError && /offset is out of bounds/i.test(msg)) return true;
  if (err.name === 'RuntimeError' && /memory access out of bounds|Aborted\(|\bOOM\b|Cannot enlarge memory/i.test(msg)) {
    return true;
  }
  return false;
}

export interface WasmOomContext {
  /** What was running, e.g. "training step" or "evaluation". */
  what?: string;
  /** Images per batch at the time of the failure. */
  batchSize?: number;
  /** Input image side (or longer side) in pixels. */
  imageSizePx?: number;
}

/**
 * Turns a wasm out-of-memory error into a UserError that names the setting to reduce; any other
 * error is returned unchanged. Use as `catch (e) { throw explainWasmOom(e, { batchSize, imageSizePx }) }`.
 */
export function explainWasmOom(err: unknown, context: WasmOomContext = {}): unknown {
  if (!isWasmOutOfMemory(err)) return err;
  const heap = wasmHeapBytes();
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  const where = context.what ? ` during ${context.what}` : '';
  const setting: string[] = [];
  if (context.batchSize !== undefined) setting.push(`batch size ${context.batchSize}`);
  if (context.imageSizePx !== undefined) setting.push(`image size ${context.imageSizePx} px`);
  const message =
    `the wasm backend ran out of memory${where}` +
    (setting.length ? ` at ${setting.join(', ')}` : '') +
    ` (heap ${heap !== undefined ? gib(heap) : '?'} GiB of at most ${gib(WASM_HEAP_MAX_BYTES)} GiB; ` +
    `${(err as Error).name}: ${(err as Error).message.split('\n')[0]})`;
  const reduce: string[] = [];
  if (context.batchSize !== undefined) {
    reduce.push(
      context.batchSize > 1 ? `reduce the batch size (now ${context.batchSize}, e.g. to ${Math.floor(context.batchSize / 2)})` : 'reduce the batch size',
    );
  }
  if (context.imageSizePx !== undefined) {
    // Activation memory scales with the pixel count: 1/sqrt(2) of the side halves it.
    const smaller = Math.max(32, Math.floor(context.imageSizePx / Math.SQRT2 / 32) * 32);
    reduce.push(`reduce the image size (now ${context.imageSizePx} px, e.g. to ${smaller} px)`);
  }
  if (!reduce.length) reduce.push('reduce the batch size or the image size');
  const hint =
    `${reduce.join(' or ')}, then restart the process (or notebook kernel): the wasm heap never ` +
    'shrinks and may be corrupt after this error. A native backend (tfjs-node) has no 4 GiB cap.';
  const userError = new UserError(message, hint);
  (userError as Error & { cause?: unknown }).cause = err;
  return userError;
}
