/**
 * Kernel-by-kernel checks of one backend against another (webgpu against cpu): record every kernel
 * call that some code makes (the engine's runKernel: forward ops, gradient ops, optimizer updates),
 * with its inputs and attributes, then replay each distinct call on both backends and compare.
 *
 * Recording is what makes "every kernel training and inference use" checkable: the list comes from
 * running the real code (smoke trainings of each preset, with their evaluation), not from a list
 * kept by hand. Used by test/backend/webgpu.test.ts and scripts/gpu-check.sh.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelCall {
  name: string;
  /** Inputs as given to runKernel: an array (AddN, Concat, Pack) or a named map. */
  isArray: boolean;
  inputs: { key: string; shape: number[]; dtype: tf.DataType; values: tf.TypedArray }[];
  attrs: Record<string, unknown>;
  signature: string;
}

export interface KernelRecording {
  calls: KernelCall[];
  /** Calls per kernel name (all of them, including the ones not kept). */
  counts: Map<string, number>;
}

export interface RecordOptions {
  /** Distinct signatures kept per kernel name (default 3; the smallest inputs win). */
  perKernel?: number;
}

function sizeOf(c: KernelCall): number {
  return c.inputs.reduce((s, i) => s + i.values.length, 0);
}

/**
 * Run `fn` with every runKernel call recorded. The inputs are read synchronously: record on a
 * backend that can (cpu, wasm).
 */
export async function recordKernels<T>(
  fn: () => Promise<T>,
  into?: KernelRecording,
  opts: RecordOptions = {},
): Promise<{ result: T; recording: KernelRecording }> {
  const recording: KernelRecording = into ?? { calls: [], counts: new Map() };
  const perKernel = opts.perKernel ?? 3;
  const seen = new Set(recording.calls.map((c) => c.signature));
  const engine = tf.engine() as unknown as { runKernel: (name: string, inputs: Record<string, tf.Tensor>, attrs?: Record<string, unknown>) => unknown };
  const original = engine.runKernel;
  engine.runKernel = function (this: unknown, name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}) {
    recording.counts.set(name, (recording.counts.get(name) ?? 0) + 1);
    try {
      const entries = Object.entries(inputs ?? {}).filter(([, t]) => t != null);
      const signature = `${name} ${entries.map(([k, t]) => `${k}:${t.dtype}[${t.shape}]`).join(' ')} ${safeJson(attrs)}`;
      if (!seen.has(signature) && entries.every(([, t]) => t.dtype !== 'string' && t.dtype !== 'complex64')) {
        seen.add(signature);
        const call: KernelCall = {
          name,
          isArray: Array.isArray(inputs),
          inputs: entries.map(([key, t]) => ({ key, shape: [...t.shape], dtype: t.dtype, values: (t.dataSync() as tf.TypedArray).slice() })),
          attrs: structuredClone(attrs ?? {}),
          signature,
        };
        const same = recording.calls.filter((c) => c.name === name);
        if (same.length < perKernel) recording.calls.push(call);
        else {
          // Keep the smallest calls: the check is about the kernel, not the size.
          const largest = same.reduce((a, b) => (sizeOf(b) > sizeOf(a) ? b : a));
          if (sizeOf(call) < sizeOf(largest)) recording.calls[recording.calls.indexOf(largest)] = call;
        }
      }
    } catch {
      /* a call we cannot record (e.g. attrs that do not clone) is simply not checked */
    }
    return original.call(this, name, inputs, attrs);
  };
  try {
    const result = await fn();
    return { result, recording };
  } finally {
    engine.runKernel = original;
  }
}

function safeJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    ArrayBuffer.isView(x) ? Array.from(x as unknown as ArrayLike<number>) : typeof x === 'number' && !Number.isFinite(x) ? String(x) : x,
  );
}

export interface KernelComparison {
  name: string;
  signature: string;
  /** max |a - b| / max |b| over all outputs (0 when equal; for bool/int outputs: mismatches / size). */
  relError: number;
  /** Milliseconds on the checked backend (includes shader compilation on first use). */
  ms: number;
  error?: string;
}

async function runOn(backend: string, call: KernelCall): Promise<{ outs: tf.TypedArray[]; dtypes: string[]; ms: number }> {
  await tf.setBackend(backend);
  const made = call.inputs.map((i) => tf.tensor(i.values, i.shape, i.dtype));
  const inputs: Record<string, tf.Tensor> | tf.Tensor[] = call.isArray ? made : Object.fromEntries(call.inputs.map((i, k) => [i.key, made[k]]));
  const engine = tf.engine() as unknown as { runKernel: (name: string, inputs: unknown, attrs: unknown) => tf.Tensor | tf.Tensor[] };
  const t0 = Date.now();
  let out: tf.Tensor | tf.Tensor[] = [];
  try {
    out = engine.runKernel(call.name, inputs, structuredClone(call.attrs));
    const list = Array.isArray(out) ? out : [out];
    const outs = (await Promise.all(list.map((t) => t.data()))) as tf.TypedArray[];
    return { outs, dtypes: list.map((t) => t.dtype), ms: Date.now() - t0 };
  } finally {
    tf.dispose(made);
    tf.dispose(out);
  }
}

function compare(a: tf.TypedArray[], b: tf.TypedArray[], dtypes: string[]): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let o = 0; o < a.length; o++) {
    if (a[o].length !== b[o].length) return Infinity;
    if (dtypes[o] !== 'float32') {
      let bad = 0;
      for (let i = 0; i < a[o].length; i++) if (a[o][i] !== b[o][i]) bad++;
      worst = Math.max(worst, a[o].length ? bad / a[o].length : 0);
      continue;
    }
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < a[o].length; i++) {
      const x = a[o][i];
      const y = b[o][i];
      if (Number.isNaN(x) !== Number.isNaN(y)) return Infinity;
      if (x === y) {
        if (Number.isFinite(y)) scale = Math.max(scale, Math.abs(y));
        continue;
      }
      diff = Math.max(diff, Math.abs(x - y));
      scale = Math.max(scale, Math.abs(y));
    }
    worst = Math.max(worst, diff === 0 ? 0 : diff / Math.max(scale, 1e-30));
  }
  return worst;
}

/** Replay each call on `backend` and on `reference`; one comparison per call. */
export async function compareKernels(calls: readonly KernelCall[], backend: string, reference = 'cpu'): Promise<KernelComparison[]> {
  const before = tf.getBackend();
  const results: KernelComparison[] = [];
  // tfjs-backend-webgpu runs small ops whose inputs are still on the CPU with the cpu backend's code
  // (WEBGPU_CPU_FORWARD); replayed inputs are all on the CPU, so that would compare cpu with cpu.
  const cpuForward = backend === 'webgpu' && tf.env().getBool('WEBGPU_CPU_FORWARD');
  if (cpuForward) tf.env().set('WEBGPU_CPU_FORWARD', false);
  try {
    for (const call of calls) {
      try {
        const ref = await runOn(reference, call);
        const got = await runOn(backend, call);
        results.push({ name: call.name, signature: call.signature, relError: compare(got.outs, ref.outs, ref.dtypes), ms: got.ms });
      } catch (err) {
        results.push({ name: call.name, signature: call.signature, relError: Infinity, ms: 0, error: String((err as Error)?.message ?? err).split('\n')[0] });
      }
    }
  } finally {
    if (cpuForward) tf.env().set('WEBGPU_CPU_FORWARD', true);
    await tf.setBackend(before);
  }
  return results;
}

/** Per-kernel-name summary lines: worst relative error, calls checked, time. */
export function formatComparisons(results: readonly KernelComparison[], tol: (name: string) => number): string[] {
  const byName = new Map<string, KernelComparison[]>();
  for (const r of results) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  return [...byName.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, rs]) => {
      const worst = Math.max(...rs.map((r) => r.relError));
      const ms = rs.reduce((s, r) => s + r.ms, 0);
      const err = rs.find((r) => r.error)?.error;
      return `${worst <= tol(name) ? 'ok  ' : 'FAIL'} ${name.padEnd(34)} ${rs.length} call(s)  max rel err ${worst.toExponential(1)}  ${ms} ms${err ? `  error: ${err}` : ''}`;
    });
}
