/**
 * Stopping long work (training) cleanly when a notebook's kernel is interrupted.
 *
 * Jupyter's "interrupt kernel" sends SIGINT to the kernel's process group: the tslab kernel and the
 * training workers it started (lib/experiments/parallel.ts). tslab gives up on the running cell at
 * once; the work would go on in the background (or a worker would die mid-step and its run be
 * reported as failed). Instead:
 *  - a worker (train-worker.ts) and a kernel that trains turn SIGINT into a request to stop, which
 *    the training loop (lib/train/trainer.ts) honours after its current step: it saves a
 *    checkpoint there and throws `Interrupted`, which says where it stopped and how to continue;
 *  - while such work runs in a kernel, `interruptGraceMs()` tells the kernel's cell-error hook
 *    (kernels/tslab/tslab-fixes.js) to wait for the cell to end with that error instead of
 *    printing tslab's "Interrupted asynchronously" and its stack.
 *
 * Only the kernel and the workers listen to SIGINT: in a terminal, Ctrl-C keeps Node's default
 * (the process ends; the run resumes from its last checkpoint next time).
 */
import { UserError } from './errors';

/** Work stopped on an interrupt; the message says where, the hint how to continue. */
export class Interrupted extends UserError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'Interrupted';
  }
}

let requests = 0;
let listening = false;
const listeners = new Set<() => void>();

function onSigint(): void {
  requests += 1;
  for (const f of [...listeners]) f();
}

/**
 * Take over SIGINT in this process (kernel or worker) and return a mark: `interruptedSince(mark)`
 * is true once an interrupt arrived after this call. Calling it again is cheap.
 */
export function watchInterrupts(): number {
  if (!listening) {
    // In the kernel, through the listener kernels/tslab installed at start: one added while a cell
    // runs would leave SIGINT at its default action (the next interrupt would kill the kernel).
    const kernelCallbacks = (globalThis as Record<symbol, unknown>)[Symbol.for('metaanchor.kernel.sigintCallbacks')];
    if (kernelCallbacks instanceof Set) kernelCallbacks.add(onSigint);
    else process.on('SIGINT', onSigint);
    listening = true;
  }
  return requests;
}

/** A mark for `interruptedSince` without taking over SIGINT (interrupts come from elsewhere). */
export function interruptMark(): number {
  return requests;
}

export function interruptedSince(mark: number): boolean {
  return requests !== mark;
}

/** Ask this process's watched work to stop, as a SIGINT would (tests, other front ends). */
export function requestInterrupt(): void {
  onSigint();
}

/** Call `f` on every interrupt until the returned function is called. */
export function onInterrupt(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** True inside a tslab kernel started by kernels/tslab (not the CLI, not unit tests). */
export function inNotebookKernel(): boolean {
  return process.env.METAANCHOR_NOTEBOOK === '1' && typeof (globalThis as { __tslab__?: unknown }).__tslab__ === 'object';
}

let stoppable = 0;
/** How long the kernel's cell-error hook waits for stoppable work to end after an interrupt. */
export const INTERRUPT_GRACE_MS = 60_000;
const GRACE_KEY = Symbol.for('metaanchor.interrupt.graceMs');

/**
 * Mark a stretch of work that stops by itself on an interrupt (it throws `Interrupted`); returns
 * the function that ends the stretch. In a kernel this also takes over SIGINT.
 */
export function beginStoppable(): () => void {
  if (inNotebookKernel()) watchInterrupts();
  stoppable += 1;
  (globalThis as Record<symbol, unknown>)[GRACE_KEY] = interruptGraceMs;
  let ended = false;
  return () => {
    if (!ended) stoppable -= 1;
    ended = true;
  };
}

/** Milliseconds an interrupted cell may take to stop by itself (0 when nothing stoppable runs). */
export function interruptGraceMs(): number {
  return stoppable > 0 ? INTERRUPT_GRACE_MS : 0;
}
