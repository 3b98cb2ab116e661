/**
 * Per-kernel time of a training step: which tfjs kernels the step runs, how often and for how long.
 *
 * The wasm and cpu backends run kernels synchronously, so wall time around a kernel function is
 * that kernel's time. `KernelProfiler` wraps every kernel registered for the backend (in place, in
 * tfjs' kernel registry, which the engine reads on every call) with a timer and restores them in
 * `uninstall`. Calls are nested when a kernel calls other kernels (the project's wasm kernels in
 * lib/backend/wasm-kernels call wasm's Conv2D, BatchMatMul, ...): the outer call's time is the
 * kernel's time in `kernels`, and the inner calls are listed under their parent in `inner`, so
 * the top-level figures add up to the step without double counting. What remains of the step
 * (`stepMs` minus the kernel total) is the engine and autodiff bookkeeping in JavaScript.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelStat {
  name: string;
  calls: number;
  ms: number;
}

export interface KernelProfile {
  /** Steps the figures are summed over. */
  steps: number;
  /** Top-level kernels, most expensive first (summed over `steps`). */
  kernels: KernelStat[];
  /** Kernels called from inside another kernel, as 'Parent > Child', most expensive first. */
  inner: KernelStat[];
  /** Sum of `kernels`. */
  kernelMs: number;
}

interface Entry {
  kernelFunc: tf.KernelFunc;
}

export class KernelProfiler {
  private readonly originals = new Map<string, tf.KernelFunc>();
  private readonly top = new Map<string, KernelStat>();
  private readonly nested = new Map<string, KernelStat>();
  private readonly stack: string[] = [];
  private active = false;
  private steps = 0;

  /**
   * Wraps every kernel currently registered for `backendName`. Kernels named in `byShape` are
   * listed per input shapes (e.g. 'Multiply [4,80,80,16] [4,1,1,16]').
   */
  constructor(
    private readonly backendName: string,
    private readonly byShape: string[] = [],
  ) {}

  install(): void {
    for (const config of tf.getKernelsForBackend(this.backendName)) {
      const entry = tf.getKernel(config.kernelName, this.backendName) as unknown as Entry | undefined;
      if (!entry || this.originals.has(config.kernelName)) continue;
      const original = entry.kernelFunc;
      this.originals.set(config.kernelName, original);
      const kernelName = config.kernelName;
      const split = this.byShape.includes(kernelName);
      entry.kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
        if (!this.active) return original(args);
        const name = split
          ? `${kernelName} ${Object.values(args.inputs)
              .filter((t) => t !== undefined)
              .map((t) => `[${(t as tf.TensorInfo).shape.join(',')}]`)
              .join(' ')}`
          : kernelName;
        const parent = this.stack[this.stack.length - 1];
        this.stack.push(name);
        const t0 = performance.now();
        try {
          return original(args);
        } finally {
          const ms = performance.now() - t0;
          this.stack.pop();
          const key = parent === undefined ? name : `${parent} > ${name}`;
          const table = parent === undefined ? this.top : this.nested;
          const stat = table.get(key) ?? { name: key, calls: 0, ms: 0 };
          stat.calls++;
          stat.ms += ms;
          table.set(key, stat);
        }
      }) as tf.KernelFunc;
    }
  }

  /** Restores the kernels wrapped by `install`. */
  uninstall(): void {
    for (const [name, original] of this.originals) {
      const entry = tf.getKernel(name, this.backendName) as unknown as Entry | undefined;
      if (entry) entry.kernelFunc = original;
    }
    this.originals.clear();
  }

  /** Count the kernels of one step (between `begin` and `end`). */
  begin(): void {
    this.active = true;
  }

  end(): void {
    this.active = false;
    this.steps++;
  }

  result(): KernelProfile {
    const sorted = (m: Map<string, KernelStat>) => [...m.values()].sort((a, b) => b.ms - a.ms);
    const kernels = sorted(this.top);
    return { steps: this.steps, kernels, inner: sorted(this.nested), kernelMs: kernels.reduce((a, k) => a + k.ms, 0) };
  }
}

/**
 * The profile as text: one line per kernel with calls and milliseconds per step and the share of
 * the step; inner kernels indented under their parent; `stepMs` is the median step time measured
 * with the profiler installed (which adds two performance.now() reads and a map update per kernel
 * call; the reference step makes ~1,800 calls).
 */
export function formatKernelProfile(p: KernelProfile, stepMs: number, opts: { minShare?: number } = {}): string {
  const minShare = opts.minShare ?? 0.002;
  const per = (x: number) => x / Math.max(1, p.steps);
  const lines: string[] = [];
  const row = (name: string, calls: number, ms: number) =>
    `${name.padEnd(44)} ${per(calls).toFixed(0).padStart(6)} ${per(ms).toFixed(1).padStart(9)} ${((100 * per(ms)) / stepMs).toFixed(1).padStart(6)}%`;
  lines.push(`${'kernel'.padEnd(44)} ${'calls'.padStart(6)} ${'ms/step'.padStart(9)} ${'share'.padStart(7)}`);
  let hidden = 0;
  let hiddenCalls = 0;
  for (const k of p.kernels) {
    if (per(k.ms) < minShare * stepMs) {
      hidden += k.ms;
      hiddenCalls += k.calls;
      continue;
    }
    lines.push(row(k.name, k.calls, k.ms));
    for (const i of p.inner.filter((s) => s.name.startsWith(`${k.name} > `))) {
      if (per(i.ms) >= minShare * stepMs) lines.push(row(`  ${i.name.slice(k.name.length + 3)}`, i.calls, i.ms));
    }
  }
  if (hidden > 0) lines.push(row('(other kernels)', hiddenCalls, hidden));
  lines.push(
    row(
      'all kernels',
      p.kernels.reduce((a, k) => a + k.calls, 0),
      p.kernelMs,
    ),
  );
  const outside = stepMs - per(p.kernelMs);
  lines.push(
    `${'outside kernels (engine, autodiff, JS)'.padEnd(44)} ${''.padStart(6)} ${outside.toFixed(1).padStart(9)} ${((100 * outside) / stepMs).toFixed(1).padStart(6)}%`,
  );
  lines.push(`${'step (median)'.padEnd(44)} ${''.padStart(6)} ${stepMs.toFixed(1).padStart(9)}`);
  return lines.join('\n');
}
