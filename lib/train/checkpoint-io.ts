/**
 * A run's checkpoint on disk: the detector's weights, each parameter group's optimizer state and
 * the train state (step, loss history, evaluations), swapped in atomically (the swap and its
 * recovery after a kill are run-folder.ts's; docs/CONTRACT.md "Run folders").
 *
 *   checkpoint/model.json + weights    the detector, with the anchor configuration, the Eq. 7
 *                                      frame (standardBoxP3) and the categories as metadata
 *   checkpoint/optimizer[-<group>]/    optimizer slots, plus Adam's running powers
 *   checkpoint/train-state.json        written last: its presence marks a complete checkpoint
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { prefetch } from '../backend/read';
import { loadDetectorWeights, saveDetector } from '../model';
import { AnyDetector } from '../model/yolo';
import { readWeights, writeWeights } from '../model/weights-file';
import { replaceDirAtomicSync } from '../util/atomic';
import { fsUserError, isFsError } from '../util/errors';
import { CHECKPOINT_DIR, STATE_FILE, findCheckpointDir, readCheckpointState } from './run-folder';
import type { CategoryInfo } from '../data/types';
import type { StandardBox } from '../anchors';
import type { TrainState } from './records';

type NamedTensor = { name: string; tensor: tf.Tensor };

const OPTIMIZER_DIR = 'optimizer';

/** The metadata a run's weights carry (checkpoint and snapshots), read back by run-dir.ts. */
export interface CheckpointExtra {
  /** The training anchor configuration's spec. */
  anchors: string;
  /** Eq. 7 frame of the trained generator (the training configuration's standard box). */
  standardBoxP3: StandardBox;
  categories: CategoryInfo[];
}

/**
 * A parameter group with its own optimizer state and learning-rate multiplier. MetaAnchor's
 * generator weights (W1, c1, W2, W12) form their own group: with Adam every one of W2's m rows
 * moves by about the learning rate per step and the generated residual W2·h sums m of those moves,
 * so the generated anchor functions would change ~||h||_1 times faster than theta* (see
 * TrainConfig.generatorLrMult).
 */
export interface ParamGroup {
  name: 'main' | 'generator';
  optimizer: tf.Optimizer;
  lrMult: number;
  vars: Set<string>;
}

/** What a checkpoint holds besides the train state. */
export interface CheckpointParts {
  detector: AnyDetector;
  groups: readonly ParamGroup[];
  extra: CheckpointExtra;
}

/** The run has a checkpoint (possibly one an interrupted swap left aside, see run-folder.ts). */
export function hasCheckpoint(dir: string): boolean {
  return findCheckpointDir(dir) !== null;
}

/** The step, loss history and evaluations of the run's checkpoint; an error if it is unreadable. */
export function readTrainState(dir: string): TrainState {
  return readCheckpointState(findCheckpointDir(dir) ?? path.join(dir, CHECKPOINT_DIR)) as TrainState;
}

function optimizerDir(group: ParamGroup): string {
  return group.name === 'main' ? OPTIMIZER_DIR : `${OPTIMIZER_DIR}-${group.name}`;
}

/** Replace the run's checkpoint by the current state; on a file-system error the previous one is kept. */
export async function saveCheckpoint(dir: string, parts: CheckpointParts, state: TrainState, lastStep: number): Promise<void> {
  const perGroup = await Promise.all(parts.groups.map(async (g) => [...(await g.optimizer.getWeights()), ...optimizerExtraState(g.optimizer)]));
  // The writers below read synchronously (webgpu: from the copies read here).
  await prefetch([...parts.detector.store.entries().map(([, v]) => v), ...perGroup.flat().map((w) => w.tensor)]);
  try {
    replaceDirAtomicSync(path.join(dir, CHECKPOINT_DIR), (staging) => {
      saveDetector(parts.detector, staging, { step: state.step, ...parts.extra });
      parts.groups.forEach((g, gi) => writeOptimizer(path.join(staging, optimizerDir(g)), perGroup[gi]));
      // Written last: a checkpoint folder with a readable state is complete (run-folder.ts).
      fs.writeFileSync(path.join(staging, STATE_FILE), JSON.stringify(state) + '\n');
    });
  } catch (err) {
    if (!isFsError(err)) throw err;
    throw fsUserError(
      err,
      `cannot write the checkpoint of step ${state.step} into ${dir}`,
      `${lastStep > 0 ? `the checkpoint of step ${lastStep} is kept; ` : ''}fix the cause (e.g. free disk space), then continue with --resume`,
    );
  }
}

/** Load the run's checkpoint into the detector and the optimizers; returns its train state. */
export async function restoreCheckpoint(dir: string, detector: AnyDetector, groups: readonly ParamGroup[]): Promise<TrainState> {
  const ckpt = path.join(dir, CHECKPOINT_DIR);
  loadDetectorWeights(detector, ckpt);
  for (const g of groups) await restoreOptimizer(path.join(ckpt, optimizerDir(g)), g.optimizer);
  return readTrainState(dir);
}

function writeOptimizer(dirPath: string, optimizerWeights: NamedTensor[]): void {
  writeWeights(
    dirPath,
    // Float32Array.from: the iteration count is an int32 tensor, whose raw bits must not be
    // stored as float32 (Adam's bias correction depends on it).
    optimizerWeights.map((w) => ({ name: w.name, shape: [...w.tensor.shape], data: Float32Array.from(w.tensor.dataSync()) })),
  );
}

/**
 * Adam's running powers beta^t live outside getWeights(); setWeights recomputes them with pow(),
 * which differs from the repeated products of a continuous run in the last float32 bit. They are
 * checkpointed too, so that a resumed run is bit-identical.
 */
const ADAM_POWERS = ['accBeta1', 'accBeta2'] as const;

function optimizerExtraState(opt: tf.Optimizer): NamedTensor[] {
  const o = opt as unknown as Record<string, tf.Variable | undefined>;
  return ADAM_POWERS.filter((k) => o[k] instanceof tf.Variable).map((k) => ({ name: `__${k}`, tensor: o[k] as tf.Variable }));
}

async function restoreOptimizer(dirPath: string, optimizer: tf.Optimizer): Promise<void> {
  const opt = readWeights(dirPath);
  const extra = new Map<string, Float32Array>();
  const named: NamedTensor[] = [];
  for (const name of opt.names()) {
    const e = opt.get(name)!;
    if (name.startsWith('__')) extra.set(name.slice(2), e.data);
    else named.push({ name, tensor: tf.tensor(e.data, e.shape, 'float32') });
  }
  await optimizer.setWeights(named);
  for (const n of named) if (n.name === 'iter') n.tensor.dispose();
  const o = optimizer as unknown as Record<string, tf.Variable | undefined>;
  for (const [k, data] of extra) {
    const v = o[k];
    if (v instanceof tf.Variable) tf.tidy(() => v.assign(tf.scalar(data[0])));
  }
}
