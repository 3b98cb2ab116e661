/**
 * Per-kernel breakdown of real training steps (lib/train/trainer.ts: data loading, target
 * assignment, forward, losses, backward, weight decay, clipping, Adam) of one run configuration.
 *
 *   npx tsx bench/profile-train.ts <run folder or config.json> [--steps 8] [--warmup 2] [--by-shape Conv2D,...]
 *
 * Trains into a temporary folder (deleted afterwards), so the run itself is not touched. A step is
 * timed from the end of the previous one, so its time includes the data loader and everything else
 * the trainer does between kernels ("outside kernels").
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { train } from '../lib/train/trainer';
import { TrainConfig } from '../lib/train/config';
import { KernelProfiler, formatKernelProfile } from '../lib/bench/kernel-profile';
import { median } from '../lib/bench/report';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const target = process.argv[2];
  if (!target || target.startsWith('--')) throw new Error('usage: npx tsx bench/profile-train.ts <run folder or config.json> [--steps 8] [--warmup 2]');
  if (!fs.existsSync(target)) throw new Error(`${target} does not exist: pass a run folder (runs/tables/<run>) or its config.json`);
  const configPath = fs.statSync(target).isDirectory() ? path.join(target, 'config.json') : target;
  const cfg = JSON.parse(fs.readFileSync(configPath, 'utf8')) as TrainConfig;
  const steps = Number(arg('steps', '8'));
  const warmup = Number(arg('warmup', '2'));
  const choice = await initBackend({ log: false });
  console.log(choice.line);
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${os.cpus().length} cores`,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metaanchor-profile-train-'));
  const profiler = new KernelProfiler(tf.getBackend(), arg('by-shape', '').split(',').filter(Boolean));
  profiler.install();
  const stepMs: number[] = [];
  let seen = 0;
  let last = performance.now();
  if (warmup === 0) profiler.begin();
  try {
    await train({ ...cfg, evalEvery: 0, checkpointEvery: 1_000_000 }, dir, {
      quiet: true,
      stopAfter: warmup + steps,
      onStep: () => {
        const now = performance.now();
        if (seen >= warmup) {
          profiler.end();
          stepMs.push(now - last);
        }
        seen++;
        if (seen >= warmup && seen < warmup + steps) profiler.begin();
        last = performance.now();
      },
    });
  } finally {
    profiler.uninstall();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${path.basename(path.dirname(path.resolve(configPath)))}: ${steps} profiled steps ${stepMs.map((m) => m.toFixed(0)).join(' / ')} ms`);
  console.log(formatKernelProfile(profiler.result(), median(stepMs)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
