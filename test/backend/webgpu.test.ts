/**
 * The webgpu backend (Dawn) on the software adapter (Mesa llvmpipe via OpenGL), against cpu and wasm:
 * - every kernel that smoke trainings of each preset call (RetinaNet baseline, MetaAnchor with both
 *   generators, YOLOv2 baseline and MetaAnchor; forward, gradients, Adam; their evaluation: the
 *   detection path) is recorded on wasm and replayed on webgpu and on cpu, outputs compared;
 * - each smoke training on webgpu follows wasm's loss curve;
 * - no tensor and no GPU memory accumulates across training steps;
 * - the project's webgpu kernel fixes (lib/backend/webgpu-kernels) are needed: the stock kernel fails.
 *
 * Tolerances: kernels 1e-4 relative to the largest reference magnitude (both float32; measured
 * worst ~1e-6 except transcendental functions, whose WGSL versions differ from JS Math by ~1e-5);
 * loss curves 2e-4 relative per step (measured ~3e-5 over 3 steps; float32 differences compound
 * through ~20 layers and three Adam steps).
 *
 * Skipped, with the reason, only when no webgpu adapter can be created (no Mesa EGL/OpenGL:
 * `bash scripts/setup.sh` installs it).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../lib/backend';
import { activateWebGPU, formatAdapter, takeWebGPUErrors, WebGPUProbe } from '../../lib/backend/webgpu';
import { registerWebGPUKernelFixes, unregisterWebGPUKernelFixes } from '../../lib/backend/webgpu-kernels';
import { compareKernels, formatComparisons, KernelRecording, recordKernels } from '../../lib/backend/kernel-check';
import { TrainConfig, trainConfig, yoloTrainConfig } from '../../lib/train/config';
import { train, TrainResult } from '../../lib/train/trainer';

const KERNEL_TOL = 1e-4;
const LOSS_TOL = 2e-4;
const STEPS = 3;
const GPU_SLACK = 16 * 1024;

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'webgpu-'));

const RUNS: { name: string; cfg: () => TrainConfig }[] = [
  { name: 'RetinaNet baseline', cfg: () => trainConfig('smoke', { method: 'baseline' }) },
  { name: 'MetaAnchor, data-independent generator', cfg: () => trainConfig('smoke', { method: 'metaanchor', generator: 'independent' }) },
  { name: 'MetaAnchor, data-dependent generator', cfg: () => trainConfig('smoke', { method: 'metaanchor', generator: 'dependent' }) },
  { name: 'YOLOv2 baseline', cfg: () => yoloTrainConfig('smoke', { method: 'baseline' }) },
  { name: 'YOLOv2 MetaAnchor', cfg: () => yoloTrainConfig('smoke', { method: 'metaanchor' }) },
];

function smoke(cfg: TrainConfig): TrainConfig {
  return { ...cfg, steps: STEPS, evalImages: 2, checkpointEvery: STEPS, snapshotEvery: 0 };
}

let probe: WebGPUProbe;
let skipReason: string | undefined;
const recording: KernelRecording = { calls: [], counts: new Map() };

before(async () => {
  // wasm is the reference training backend (chosen as the process's backend, kernels registered);
  // webgpu is switched to explicitly below.
  await initBackend({ backend: 'wasm', log: false });
  probe = await activateWebGPU(true);
  if (!probe.ok) {
    // Only a missing adapter may skip; any other failure is a test failure.
    if (!/no adapter|not installed|failed to load/.test(probe.reason ?? '')) throw new Error(`webgpu: ${probe.reason}`);
    skipReason = `no webgpu adapter here (${probe.reason}); ${probe.hint}`;
  }
  await tf.setBackend('wasm');
});

async function on<T>(backend: string, fn: () => Promise<T>): Promise<T> {
  await tf.setBackend(backend);
  try {
    return await fn();
  } finally {
    await tf.setBackend('wasm');
  }
}

describe('webgpu on the software adapter', () => {
  test('AddN with more inputs than the storage-buffer limit: the stock kernel fails, the fix matches cpu', async (t) => {
    if (skipReason) return t.skip(skipReason);
    t.diagnostic(`adapter: ${formatAdapter(probe.adapter!)}`);
    const n = probe.adapter!.limits.maxStorageBuffersPerShaderStage + 9;
    const values = Array.from({ length: n }, (_, i) => tf.tensor1d([i + 1, -2 * i, 0.5 * i]));
    const expected = [((n + 1) * n) / 2, -n * (n - 1), 0.25 * n * (n - 1)];
    await on('webgpu', async () => {
      takeWebGPUErrors();
      unregisterWebGPUKernelFixes();
      try {
        const stock = tf.addN(values);
        const got = Array.from(await stock.data());
        stock.dispose();
        const errors = takeWebGPUErrors();
        assert.ok(errors.length > 0 || got.some((v, i) => Math.abs(v - expected[i]) > 1e-3), 'the stock AddN worked: the fix may be dropped');
      } finally {
        registerWebGPUKernelFixes();
      }
      const fixed = tf.addN(values);
      assert.deepEqual(Array.from(await fixed.data()), expected);
      fixed.dispose();
      assert.deepEqual(takeWebGPUErrors(), []);
    });
    tf.dispose(values);
  });

  for (const run of RUNS) {
    test(`${run.name}: smoke training on webgpu follows wasm, nothing leaks`, async (t) => {
      if (skipReason) return t.skip(skipReason);
      const cfg = smoke(run.cfg());
      const { result: ref } = await recordKernels(() => train(cfg, path.join(tmp(), 'wasm'), { quiet: true }), recording);
      const memory: tf.MemoryInfo[] = [];
      const t0 = Date.now();
      const got: TrainResult = await on('webgpu', () => train(cfg, path.join(tmp(), 'webgpu'), { quiet: true, onStep: () => memory.push(tf.memory()) }));
      t.diagnostic(`webgpu ${STEPS} steps + eval: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      assert.deepEqual(takeWebGPUErrors(), []);
      assert.equal(got.history.length, STEPS);
      for (let i = 0; i < STEPS; i++) {
        const a = got.history[i];
        const b = ref.history[i];
        for (const k of ['loss', 'cls', 'box'] as const) {
          const rel = Math.abs(a[k] - b[k]) / Math.max(Math.abs(b[k]), 1e-6);
          assert.ok(rel <= LOSS_TOL, `step ${i + 1} ${k}: webgpu ${a[k]} vs wasm ${b[k]} (rel ${rel.toExponential(2)})`);
        }
        assert.equal(a.positives, b.positives, `step ${i + 1} positives`);
      }
      // Step 1 creates the optimizer's moments; from step 2 nothing may accumulate.
      const tensors = memory.slice(1).map((m) => m.numTensors);
      assert.equal(new Set(tensors).size, 1, `tensors per step: ${tensors.join(', ')}`);
      // GPU bytes: uniform and staging buffers are released when the queue finishes, so the count
      // wobbles by a few hundred bytes; a leaked feature map (>= 32 KiB at 64 px) would not.
      const gpuBytes = memory.slice(1).map((m) => (m as tf.MemoryInfo & { numBytesInGPU: number }).numBytesInGPU);
      assert.ok(gpuBytes[gpuBytes.length - 1] - gpuBytes[0] < GPU_SLACK, `GPU bytes in use per step: ${gpuBytes.join(', ')}`);
      const allocated = memory.slice(1).map((m) => (m as tf.MemoryInfo & { numBytesAllocatedInGPU: number }).numBytesAllocatedInGPU);
      assert.ok(allocated[allocated.length - 1] - allocated[0] < GPU_SLACK, `GPU bytes allocated per step: ${allocated.join(', ')}`);
    });
  }

  test('every kernel those trainings and evaluations called matches cpu', async (t) => {
    if (skipReason) return t.skip(skipReason);
    assert.ok(recording.calls.length > 0, 'no kernel calls recorded (the training tests ran?)');
    const t0 = Date.now();
    const results = await compareKernels(recording.calls, 'webgpu', 'cpu');
    const lines = formatComparisons(results, () => KERNEL_TOL);
    t.diagnostic(`${recording.counts.size} kernels, ${results.length} distinct calls checked in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const l of lines) t.diagnostic(l);
    const bad = lines.filter((l) => l.startsWith('FAIL'));
    assert.deepEqual(bad, []);
    // Every kernel name called was checked at least once.
    const checked = new Set(results.map((r) => r.name));
    const unchecked = [...recording.counts.keys()].filter((k) => !checked.has(k));
    assert.deepEqual(unchecked, [], 'kernels called but not recorded (string inputs?)');
    for (const must of ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'Sigmoid']) {
      assert.ok(checked.has(must), `${must} was not exercised`);
    }
  });
});
