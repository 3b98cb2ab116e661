/**
 * Pretrained weights a run can start from (TrainConfig.initFrom.weights = 'pretrained:<task>'):
 *
 *   pretrained:mnist-digits     the small backbone, trained to classify all ten digits
 *                               (lib/train/pretrain.ts): the analogue of the paper's ImageNet
 *                               initialisation.
 *   pretrained:mnist-det-trunk  backbone + FPN + head towers of a RetinaNet trained to detect six
 *                               *other* digits (3, 5, 6, 7, 8, 9: MNIST-Det preset "pretrain",
 *                               the default preset's box distribution) with one square anchor per
 *                               location, starting from pretrained:mnist-digits. A detection
 *                               pretraining on other classes, as detectors are pretrained on one
 *                               dataset and fine-tuned on another. The anchor functions (the part
 *                               the paper's methods differ in) always start fresh; one square
 *                               anchor favours none of Table 1's configurations. Measured effect:
 *                               docs/quick-proxy.md.
 *
 * Each is made once per model size and recipe and cached under data/pretrained/ (the trunk as an
 * ordinary run folder, so an interrupted pretraining resumes); the table runner makes them before
 * its training workers start (runner.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dataRoot } from '../data/mnist-det';
import { configHash } from '../experiments/key';
import { ModelConfig } from '../model/config';
import { UserError } from '../util/errors';
import { TrainConfig, trainConfig } from './config';
import { PRETRAINED_PREFIX, ensurePretrainedBackbone } from './pretrain';
import { CHECKPOINT_DIR, lockHolder } from './run-folder';
import { hasCheckpoint, readTrainState, train } from './trainer';
import { beginStoppable, interruptMark, interruptedSince } from '../util/interrupt';

export const PRETRAINED_TASKS = ['mnist-digits', 'mnist-det-trunk'] as const;
export type PretrainedTask = (typeof PRETRAINED_TASKS)[number];

/** Bump when the trunk recipe changes (its cached weights are then made again). */
export const TRUNK_VERSION = 1;

/** The model fields a trunk is shaped by (the towers included); the rest is the trunk's own. */
function trunkModel(model: ModelConfig): Partial<ModelConfig> {
  return {
    backbone: model.backbone,
    smallWidths: [...model.smallWidths],
    gnGroups: model.gnGroups,
    backboneNorm: model.backboneNorm,
    fpnChannels: model.fpnChannels,
    p6From: model.p6From,
    towerDepth: model.towerDepth,
    towerWidth: model.towerWidth,
    towerNorm: model.towerNorm,
    pixelMeanRGB: [...model.pixelMeanRGB],
    pixelStdRGB: [...model.pixelStdRGB],
  };
}

/** The training run that makes pretrained:mnist-det-trunk for a model of `model`'s sizes. */
export function trunkTrainConfig(model: ModelConfig): TrainConfig {
  const steps = 4000;
  return trainConfig('quick', {
    method: 'baseline',
    anchors: 's:1,r:1',
    posIou: 0.5,
    negIou: 0.4,
    dropBoxes: null,
    train: { kind: 'mnist-det', preset: 'pretrain' },
    val: { kind: 'mnist-det', preset: 'pretrain' },
    imageSizePx: 96,
    batchSize: 8,
    steps,
    lr: { baseLr: 0.002, warmupSteps: 50, warmupFactor: 0.01, decaySteps: [3000, 3667], gamma: 0.1 },
    evalEvery: 0,
    evalImages: 200,
    checkpointEvery: 250,
    snapshotEvery: 0,
    seed: 0,
    model: trunkModel(model),
    initFrom: { weights: `${PRETRAINED_PREFIX}mnist-digits`, prefixes: ['backbone.'] },
  });
}

export function trunkDir(cfg: TrainConfig): string {
  return path.join(dataRoot(), 'pretrained', `mnist-det-trunk-${configHash({ cfg, version: TRUNK_VERSION })}`);
}

function trunkComplete(dir: string, cfg: TrainConfig): boolean {
  return hasCheckpoint(dir) && readTrainState(dir).step >= cfg.steps;
}

/** The task of a 'pretrained:<task>' spec (UserError for anything else). */
export function pretrainedTask(spec: string): PretrainedTask {
  const task = spec.startsWith(PRETRAINED_PREFIX) ? spec.slice(PRETRAINED_PREFIX.length) : '';
  if (!(PRETRAINED_TASKS as readonly string[]).includes(task)) {
    throw new UserError(
      `unknown pretrained weights "${spec}"`,
      `use ${PRETRAINED_TASKS.map((t) => PRETRAINED_PREFIX + t).join(' or ')}, or a folder of weights`,
    );
  }
  return task as PretrainedTask;
}

/**
 * The folder holding the weights of `spec` for `model`, made on first use: the digit classifier's
 * backbone (about two minutes on one core) or the detection trunk (4000 steps, about ten minutes).
 */
export async function ensurePretrained(spec: string, model: ModelConfig, options: { quiet?: boolean; log?: (s: string) => void } = {}): Promise<string> {
  const task = pretrainedTask(spec);
  if (task === 'mnist-digits') return ensurePretrainedBackbone(spec, model, options);
  const cfg = trunkTrainConfig(model);
  const dir = trunkDir(cfg);
  // Another process (the main job, or a worker beside it) is making it: wait, then use theirs.
  for (let holder = lockHolder(dir), said = false; holder !== null; holder = lockHolder(dir)) {
    if (!said) options.log?.(`process ${holder} is pretraining the detection trunk; waiting for it`);
    said = true;
    await new Promise((r) => setTimeout(r, 10_000));
  }
  if (!trunkComplete(dir, cfg)) {
    options.log?.(`pretraining the detection trunk (backbone, FPN, towers) on MNIST-Det "pretrain" (digits 3 5 6 7 8 9), ${cfg.steps} steps -> ${dir}`);
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    // An interrupt (notebook kernel) stops it after the current step, checkpointed (lib/util/interrupt.ts).
    const endStoppable = beginStoppable();
    const mark = interruptMark();
    let r: Awaited<ReturnType<typeof train>>;
    try {
      r = await train(cfg, dir, { resume: true, quiet: options.quiet, shouldStop: () => interruptedSince(mark) });
    } finally {
      endStoppable();
    }
    const last = r.evals[r.evals.length - 1];
    options.log?.(`detection trunk pretrained: mmAP ${(100 * last.stats[0]).toFixed(1)} on its own validation images`);
  }
  return path.join(dir, CHECKPOINT_DIR);
}
