/**
 * Weight snapshots of a run: the model at every `snapshotEvery` steps, kept beside the (moving)
 * checkpoint so that a learning curve can be measured afterwards (lib/experiments/curve.ts).
 *
 *   <run>/snapshots/step-000250/   weights + model config + the same metadata as checkpoint/
 *
 * A snapshot holds no optimizer state (a run resumes from checkpoint/ only). Written atomically; a
 * resumed run writes the snapshots after its checkpoint again, and gets the same weights, since
 * resuming is exact.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { saveDetector } from '../model';
import { AnyDetector } from '../model/yolo';
import { replaceDirAtomicSync } from '../util/atomic';
import type { CheckpointExtra } from './checkpoint-io';

export const SNAPSHOTS_DIR = 'snapshots';

export interface SnapshotRef {
  step: number;
  /** Folder of the snapshot's weights (loadable with lib/train/run-dir.ts loadRunAt). */
  dir: string;
}

function snapshotName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** Steps at which a run of `steps` steps keeps a snapshot (the last step is the checkpoint itself). */
export function snapshotSteps(steps: number, snapshotEvery: number): number[] {
  if (!(snapshotEvery > 0)) return [];
  const out: number[] = [];
  for (let s = snapshotEvery; s < steps; s += snapshotEvery) out.push(s);
  return out;
}

export function saveSnapshot(runDir: string, step: number, detector: AnyDetector, extra: CheckpointExtra): void {
  replaceDirAtomicSync(path.join(runDir, SNAPSHOTS_DIR, snapshotName(step)), (staging) => saveDetector(detector, staging, { ...extra, step }));
}

/** The run's snapshots, by step (complete ones only: a snapshot is renamed into place when written). */
export function listSnapshots(runDir: string): SnapshotRef[] {
  const root = path.join(runDir, SNAPSHOTS_DIR);
  if (!fs.existsSync(root)) return [];
  const out: SnapshotRef[] = [];
  for (const name of fs.readdirSync(root)) {
    const m = /^step-(\d+)$/.exec(name);
    if (m && fs.existsSync(path.join(root, name, 'weights.json'))) out.push({ step: Number(m[1]), dir: path.join(root, name) });
  }
  return out.sort((a, b) => a.step - b.step);
}
