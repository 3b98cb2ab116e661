/**
 * Per-kernel breakdown of one training step (forward, focal + smooth-L1, backward, Adam) of the
 * bench's nets on the active backend (normally wasm; METAANCHOR_BACKEND / METAANCHOR_WASM_THREADS
 * apply as for every command).
 *
 *   npx tsx bench/profile-step.ts [--net reference|quick] [--batch 4] [--size 320] [--steps 3] [--warmup 1]
 *     [--by-shape Multiply,Sum]   (list those kernels per input shapes)
 *
 * Prints the backend line, the load average, and per kernel: calls per step, milliseconds per step
 * and share of the (median) step, with the kernels the project's wasm kernels call listed under
 * them (lib/bench/kernel-profile.ts). Timing wraps every kernel call, so a step can run slightly
 * slower than under `npx metaanchor bench`.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { parseAnchorSpec } from '../lib/anchors';
import { buildDetector, modelConfig } from '../lib/model';
import { TRAIN_PRESETS } from '../lib/train/config';
import { referenceNetArch } from '../lib/bench/arch';
import { KernelProfiler, formatKernelProfile } from '../lib/bench/kernel-profile';
import { median } from '../lib/bench/report';
import { archNet, detectorNet, timeTrainSteps, TrainableNet } from '../lib/bench/train-step';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const netName = arg('net', 'reference');
  const batch = Number(arg('batch', '4'));
  const sizePx = Number(arg('size', '320'));
  const steps = Number(arg('steps', '3'));
  const warmup = Number(arg('warmup', '1'));
  if (!['reference', 'quick'].includes(netName)) throw new Error(`--net must be reference or quick, got ${netName}`);
  const choice = await initBackend({ log: false });
  console.log(choice.line);
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${os.cpus().length} cores`,
  );
  let net: TrainableNet;
  let dispose: () => void;
  if (netName === 'reference') {
    net = archNet(referenceNetArch());
    dispose = () => net.store.dispose();
  } else {
    const anchors = parseAnchorSpec(TRAIN_PRESETS.quick.anchors);
    const det = buildDetector(modelConfig('quick', { method: 'baseline', numClasses: 10, numAnchors: anchors.shapes.length }), { log: () => undefined });
    net = detectorNet(det);
    dispose = () => det.dispose();
  }
  const byShape = arg('by-shape', '').split(',').filter(Boolean);
  const profiler = new KernelProfiler(tf.getBackend(), byShape);
  profiler.install();
  try {
    const t = await timeTrainSteps(net, { batch, sizePx, positiveEvery: 50, warmup, steps, profiler });
    console.log(`${netName} net b${batch}@${sizePx}: ${steps} profiled steps ${t.stepMs.map((m) => m.toFixed(0)).join(' / ')} ms (loss ${t.loss.toFixed(4)})`);
    console.log(formatKernelProfile(profiler.result(), median(t.stepMs)));
  } finally {
    profiler.uninstall();
    dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
