/**
 * The training loop: RetinaNet (baseline) or MetaAnchor, on any dataset the loaders read.
 *
 * A run lives in one directory (docs/CONTRACT.md "Run folders"; the rules that keep it from losing
 * work are in run-folder.ts):
 *   config.json      the resolved TrainConfig (a resumed run must match it)
 *   checkpoint/      model weights + optimizer state + step + loss history, replaced atomically
 *   metrics.json     validation results (COCO stats) per evaluation, written atomically
 *   log.jsonl        one line per step, appended as training goes: loss parts, learning rate, positives, seconds
 *   training.lock    the pid of the trainer writing the run
 *
 * Resume continues exactly: the data order and flips are functions of (seed, epoch), MetaAnchor's
 * anchor jitter is a function of (seed, step), and the optimizer's momentum is checkpointed, so an
 * interrupted run resumed from its last checkpoint reproduces the same loss curve.
 *
 * The loop is family-independent: a step (step.ts; RetinaNet's in retinanet-step.ts, YOLOv2's in
 * yolo-step.ts) turns a batch into a loss, update.ts turns its gradients into new weights, and
 * checkpoint-io.ts writes and restores the checkpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { AnchorConfig, parseAnchorSpec } from '../anchors';
import { initBackend } from '../backend';
import { explainWasmOom } from '../backend/wasm-kernels/memory';
import { DetectionLoader } from '../data/pipeline';
import { batchToTensor } from '../data/tensor';
import { ignoreDroppedBoxes } from '../data/box-drop';
import { DetectionDataset } from '../data/types';
import { RAW_PIXELS } from '../detect/detect';
import { cocoScore } from '../detect/score';
import { prepareCocoGroundTruth } from '../eval/coco';
import { initWeightsFrom, modelConfig } from '../model';
import { AnyDetector, buildAnyDetector, isYoloDetector } from '../model/yolo';
import { writeJsonAtomicSync } from '../util/atomic';
import { UserError } from '../util/errors';
import { checkWritableDir, withFsErrors } from '../util/files';
import { Progress } from '../util/progress';
import { CheckpointExtra, ParamGroup, hasCheckpoint, readTrainState, restoreCheckpoint, saveCheckpoint } from './checkpoint-io';
import { TrainConfig, inputGeometry, validateTrainConfig } from './config';
import { groundTruthOf, loadDatasetSpec } from './datasets';
import { EvalRecord, StepRecord, TrainState } from './records';
import { retinaNetStep } from './retinanet-step';
import { learningRateAt } from './schedule';
import {
  CHECKPOINT_DIR,
  CONFIG_FILE,
  LOG_FILE,
  METRICS_FILE,
  checkRunFolder,
  lockHolder,
  lockRunFolder,
  recoverCheckpoint,
  touchRunLock,
  trimLog,
} from './run-folder';
import { statusStream } from '../util/log';
import { prefetch, scalars } from '../backend/read';
import { TrainingStep } from './step';
import { applyGradients, makeOptimizer, setLearningRates } from './update';
import { yoloStep } from './yolo-step';
import { saveSnapshot } from './snapshots';
import { PRETRAINED_PREFIX } from './pretrain';
import { Interrupted } from '../util/interrupt';

export type { EvalRecord, StepRecord } from './records';
export { hasCheckpoint, readTrainState } from './checkpoint-io';

export interface TrainResult {
  dir: string;
  steps: number;
  history: StepRecord[];
  evals: EvalRecord[];
  /** Seconds spent in this call (not counting earlier, resumed parts). */
  seconds: number;
  resumedFrom: number;
}

export interface TrainOptions {
  /** Continue from the run directory's checkpoint (error if its config differs). */
  resume?: boolean;
  /** Stop after this many steps of this call (for tests of resume), without the final evaluation. */
  stopAfter?: number;
  /** Progress lines (default: on unless METAANCHOR_QUIET=1). */
  quiet?: boolean;
  /** Called after every step. */
  onStep?: (r: StepRecord) => void;
  /** Receives the status lines (resume, recovered checkpoint, lock taken over ...) in addition to the console. */
  onLog?: (line: string) => void;
  /**
   * Asked after every step: true stops the run there (an interrupt, lib/util/interrupt.ts): a
   * checkpoint of that step is saved and `Interrupted` thrown, saying where and how to continue.
   */
  shouldStop?: () => boolean;
}

export { CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE };

/** Everything a run needs besides its config: datasets, model, anchors, optimizers. */
interface RunParts {
  train: DetectionDataset;
  val: DetectionDataset;
  detector: AnyDetector;
  anchors: AnchorConfig;
  groups: ParamGroup[];
}

/** Generator parameters (lib/model/heads/metaanchor.ts): everything but theta*. */
export function isGeneratorParam(name: string): boolean {
  return /Generator\.(?!thetaStar)/.test(name);
}

function stableJson(v: unknown): string {
  return JSON.stringify(v);
}

/** The step of the detector's family (step.ts). */
function trainingStep(cfg: TrainConfig, detector: AnyDetector, anchors: AnchorConfig): TrainingStep {
  return isYoloDetector(detector) ? yoloStep(cfg, detector, anchors) : retinaNetStep(cfg, detector, anchors);
}

/** Build the datasets, model and optimizer of a config. */
async function buildRun(cfg: TrainConfig, log: (s: string) => void, quiet: boolean): Promise<RunParts> {
  let train = await loadDatasetSpec(cfg.train, 'train');
  const val = await loadDatasetSpec(cfg.val, 'val');
  for (const [ds, role, why] of [
    [train, 'training', 'nothing to learn'],
    [val, 'validation', 'nothing to score against (mmAP would print as -100)'],
  ] as const) {
    if (!ds.images.some((im) => im.classIdx.length > 0)) {
      throw new UserError(`the ${role} set ${ds.name} has no boxes: ${why}`, 'use an annotated dataset');
    }
  }
  if (stableJson(train.categories.map((c) => c.id)) !== stableJson(val.categories.map((c) => c.id))) {
    throw new UserError(`train (${train.name}) and validation (${val.name}) datasets have different categories`, 'use datasets with the same category list');
  }
  if (cfg.dropBoxes) {
    const r = ignoreDroppedBoxes(train, cfg.dropBoxes, { maxSizePx: cfg.imageSizePx, minSizePx: cfg.minSizePx ?? undefined });
    train = r.dataset;
    log(`Table 4 drop: ${r.dropped} training boxes (${(100 * r.fraction).toFixed(1)}%) get no loss`);
  }
  const anchors = parseAnchorSpec(cfg.anchors);
  const model = modelConfig(cfg.preset, {
    ...cfg.model,
    numClasses: train.categories.length,
    method: cfg.method,
    generator: cfg.generator,
    numAnchors: anchors.shapes.length,
    ...(cfg.detector ? { detector: cfg.detector } : {}),
    // The generator learns b in this frame (Eq. 7); detection with any anchors encodes in it.
    ...(cfg.method === 'metaanchor' ? { standardBoxP3: { ...anchors.standardBoxP3 } } : {}),
  });
  const detector = buildAnyDetector(model, { seed: cfg.seed, log });
  if (cfg.initFrom) {
    // Required on use: pretrain-trunk trains a run itself (it imports this module), and a static
    // import cycle is what tslab cannot load.
    const { ensurePretrained } = require('./pretrain-trunk') as typeof import('./pretrain-trunk');
    const source = cfg.initFrom.weights.startsWith(PRETRAINED_PREFIX)
      ? await ensurePretrained(cfg.initFrom.weights, model, { log, quiet })
      : path.resolve(cfg.initFrom.weights);
    const n = initWeightsFrom(detector, source, cfg.initFrom.prefixes);
    log(`initialised ${n} parameters (${cfg.initFrom.prefixes.join(', ')}) from ${cfg.initFrom.weights}`);
  }
  const names = detector.trainableVariables().map((v) => v.name);
  const genNames = new Set(names.filter(isGeneratorParam));
  const groups: ParamGroup[] = [{ name: 'main', optimizer: makeOptimizer(cfg), lrMult: 1, vars: new Set(names.filter((n) => !genNames.has(n))) }];
  if (genNames.size) groups.push({ name: 'generator', optimizer: makeOptimizer(cfg), lrMult: cfg.generatorLrMult, vars: genNames });
  return { train, val, detector, anchors, groups };
}

/**
 * Train (or resume) a run into `dir`. Returns the loss history and validation results.
 */
export async function train(cfg: TrainConfig, dir: string, opts: TrainOptions = {}): Promise<TrainResult> {
  validateTrainConfig(cfg);
  const quiet = opts.quiet ?? process.env.METAANCHOR_QUIET === '1';
  const log = (s: string): void => {
    opts.onLog?.(s);
    if (!quiet) statusStream().write(s + '\n');
  };
  // Nothing in the folder is touched before it is known to be a run of this configuration.
  const folder = checkRunFolder(dir, cfg);
  // Another trainer on this folder is the first thing to say (not "pass --resume").
  if (lockHolder(dir) !== null) lockRunFolder(dir, log);
  if (folder.kind === 'same' && !opts.resume && hasCheckpoint(dir)) {
    throw new UserError(
      `${dir} already holds a run (checkpoint at step ${readTrainState(dir).step})`,
      'pass --resume to continue it, or choose a new --out folder',
    );
  }
  const created = !fs.existsSync(dir);
  checkWritableDir(dir, '--out');
  const unlock = lockRunFolder(dir, log);
  let ok = false;
  try {
    const result = await trainLocked(cfg, dir, opts, folder, log, quiet);
    ok = true;
    return result;
  } finally {
    unlock();
    // A run refused before it wrote anything (bad data, ...) leaves no empty folder behind.
    if (!ok && created) removeIfEmpty(dir);
  }
}

function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir); // fails unless empty: anything written there stays
  } catch {
    // not empty, or already gone
  }
}

async function trainLocked(
  cfg: TrainConfig,
  dir: string,
  opts: TrainOptions,
  folder: ReturnType<typeof checkRunFolder>,
  log: (s: string) => void,
  quiet: boolean,
): Promise<TrainResult> {
  await initBackend();
  // A run that never checkpointed may still hold the staging folder of a swap killed mid-write.
  const recovered = folder.kind === 'new' ? null : recoverCheckpoint(dir, log);
  if (folder.kind === 'restart') {
    log(`${dir}: the run there never reached a checkpoint; starting it again with the new settings (${folder.changed.join('; ')})`);
  }
  // The datasets load (and fail) before config.json is written, so a bad --data leaves no run behind.
  const parts = await buildRun(cfg, log, quiet);
  writeJsonAtomicSync(path.join(dir, CONFIG_FILE), cfg);
  let state: TrainState = { step: 0, history: [], evals: [] };
  const logPath = path.join(dir, LOG_FILE);
  if (opts.resume && recovered) {
    state = await restoreCheckpoint(dir, parts.detector, parts.groups);
    const dropped = trimLog(dir, state.step);
    log(`resuming ${dir} at step ${state.step}/${cfg.steps}${dropped ? ` (${dropped} log line(s) after the checkpoint dropped)` : ''}`);
  } else {
    if (opts.resume) log(`${dir} has no checkpoint yet: training from step 0`);
    withFsErrors(`cannot start the run in ${dir}`, () => {
      fs.writeFileSync(logPath, '');
      fs.rmSync(path.join(dir, METRICS_FILE), { force: true });
    });
  }
  const resumedFrom = state.step;
  let checkpointStep = state.step;
  const { detector, anchors, groups } = parts;
  const loader = new DetectionLoader(parts.train, {
    ...inputGeometry(cfg),
    ...RAW_PIXELS,
    batchSize: Math.min(cfg.batchSize, parts.train.images.length),
    shuffle: true,
    flipProb: cfg.flipProb,
    dropLast: true,
    seed: cfg.seed,
  });
  const vars = detector.trainableVariables();
  const decayed = new Set(vars.filter((v) => v.shape.length >= 2).map((v) => v.name));
  const step = trainingStep(cfg, detector, anchors);
  const extra: CheckpointExtra = { anchors: cfg.anchors, standardBoxP3: anchors.standardBoxP3, categories: parts.train.categories };
  const checkpoint = { detector, groups, extra };
  const progress = new Progress({ label: `train ${path.basename(dir)}`, total: cfg.steps, quiet });
  const started = Date.now();
  let stepsThisCall = 0;
  let lockTouched = Date.now();
  const nb = loader.numBatches;
  const gt = prepareCocoGroundTruth(groundTruthOf(parts.val));

  const evaluate = async (): Promise<EvalRecord> => {
    const t0 = Date.now();
    const r = await cocoScore(detector, parts.val, {
      anchors,
      input: inputGeometry(cfg),
      maxImages: cfg.evalImages,
      batchSize: Math.max(1, Math.min(8, cfg.batchSize)),
      gt,
    });
    return { step: state.step, stats: r.stats, images: r.images, anchors: cfg.anchors, sec: (Date.now() - t0) / 1000 };
  };

  try {
    while (state.step < cfg.steps) {
      const epoch = Math.floor(state.step / nb);
      const skip = state.step % nb;
      let i = 0;
      for await (const batch of loader.batches(epoch)) {
        if (i++ < skip) continue;
        if (state.step >= cfg.steps || (opts.stopAfter !== undefined && stepsThisCall >= opts.stopAfter)) break;
        const t0 = Date.now();
        const lr = learningRateAt(cfg.lr, state.step);
        setLearningRates(groups, lr);

        let values: number[];
        let gradNorm = 0;
        const x = batchToTensor(batch);
        const stepLoss = await step.prepare(batch, x, state.step);
        try {
          const { value, grads } = tf.variableGrads(stepLoss.loss, vars);
          const [loss] = await scalars([value]);
          values = [loss, ...(await stepLoss.parts())];
          value.dispose();
          if (!values.every(Number.isFinite)) {
            tf.dispose(Object.values(grads));
            throw new UserError(
              `loss became ${values[0]} at step ${state.step} (cls ${values[1]}, box ${values[2]}); the last good checkpoint (step ${checkpointStep}) is kept`,
              `lower the learning rate (now ${lr.toExponential(2)}) or set clipNorm, then resume with --resume`,
            );
          }
          gradNorm = await applyGradients(grads, vars, decayed, groups, cfg);
        } catch (err) {
          throw explainWasmOom(err, { batchSize: cfg.batchSize, imageSizePx: cfg.imageSizePx });
        } finally {
          tf.dispose([x, ...stepLoss.inputs]);
        }
        state.step += 1;
        stepsThisCall += 1;
        const rec: StepRecord = {
          step: state.step,
          loss: values[0],
          cls: values[1],
          box: values[2],
          positives: values[3],
          lr,
          gradNorm,
          sec: (Date.now() - t0) / 1000,
        };
        state.history.push(rec);
        withFsErrors(
          `cannot append to ${logPath}`,
          () => fs.appendFileSync(logPath, JSON.stringify(rec) + '\n'),
          `fix the cause (e.g. free disk space), then continue with --resume from the checkpoint of step ${checkpointStep}`,
        );
        opts.onStep?.(rec);
        if (Date.now() - lockTouched > 30_000) {
          touchRunLock(dir);
          lockTouched = Date.now();
        }
        progress.update(state.step, { loss: rec.loss, cls: rec.cls, box: rec.box, lr });
        if (cfg.evalEvery > 0 && state.step % cfg.evalEvery === 0 && state.step < cfg.steps) {
          state.evals.push(await evaluate());
          writeJsonAtomicSync(path.join(dir, METRICS_FILE), { evals: state.evals });
          log(`eval @${state.step}: mmAP ${(100 * state.evals[state.evals.length - 1].stats[0]).toFixed(1)}`);
        }
        if (cfg.snapshotEvery > 0 && state.step % cfg.snapshotEvery === 0 && state.step < cfg.steps) {
          await prefetch(detector.store.entries().map(([, v]) => v));
          saveSnapshot(dir, state.step, detector, extra);
        }
        if (state.step % cfg.checkpointEvery === 0 || state.step === cfg.steps) {
          await saveCheckpoint(dir, checkpoint, state, checkpointStep);
          checkpointStep = state.step;
        }
        // A macrotask turn first, so that an interrupt's signal handler has run.
        if (opts.shouldStop) await new Promise((resolve) => setImmediate(resolve));
        if (opts.shouldStop?.() && state.step < cfg.steps) {
          if (checkpointStep < state.step) {
            await saveCheckpoint(dir, checkpoint, state, checkpointStep);
            checkpointStep = state.step;
          }
          throw new Interrupted(
            `training ${path.basename(dir)} interrupted at step ${state.step}/${cfg.steps}; its checkpoint (step ${checkpointStep}) is kept in ${dir}`,
            `run it again to continue from step ${checkpointStep} (in a notebook: rerun the cell)`,
          );
        }
      }
      if (opts.stopAfter !== undefined && stepsThisCall >= opts.stopAfter) break;
    }
    if (state.step >= cfg.steps && !(state.evals.length && state.evals[state.evals.length - 1].step === state.step)) {
      state.evals.push(await evaluate());
      writeJsonAtomicSync(path.join(dir, METRICS_FILE), { evals: state.evals });
      await saveCheckpoint(dir, checkpoint, state, checkpointStep);
      checkpointStep = state.step;
      const s = state.evals[state.evals.length - 1].stats;
      log(
        `final: mmAP ${(100 * s[0]).toFixed(1)}  AP50 ${(100 * s[1]).toFixed(1)}  AP75 ${(100 * s[2]).toFixed(1)}  (${state.evals[state.evals.length - 1].images} val images)`,
      );
    }
  } finally {
    detector.dispose();
    for (const g of groups) g.optimizer.dispose();
  }
  return { dir, steps: state.step, history: state.history, evals: state.evals, seconds: (Date.now() - started) / 1000, resumedFrom };
}
