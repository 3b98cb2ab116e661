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
 * Per step (Sec. 3 / 4 of the paper): the baseline matches against its predefined anchors;
 * MetaAnchor draws the configuration's b_i jittered within +-0.5, builds the anchors those b_i
 * denote, matches against them, and feeds the same b_i to the anchor function generators.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

type NamedTensor = { name: string; tensor: tf.Tensor };
import { AnchorConfig, anchorGrid, anchorsForConfig, jitteredTrainingAnchors, parseAnchorSpec } from '../anchors';
import { initBackend } from '../backend';
import { explainWasmOom } from '../backend/wasm-kernels/memory';
import { buildTargets } from '../box';
import { DetectionLoader } from '../data/pipeline';
import { batchToTensor } from '../data/tensor';
import { ignoreDroppedBoxes } from '../data/stats';
import { DetectionDataset } from '../data/types';
import { derivedRng } from '../data/seeds';
import { RAW_PIXELS, detectDataset } from '../detect/detect';
import { prepareCocoGroundTruth } from '../eval/coco';
import { detectionLoss, initWeightsFrom, loadDetectorWeights, modelConfig, saveDetector } from '../model';
import { AnyDetector, buildAnyDetector, isYoloDetector, priorTermSteps } from '../model/yolo';
import { readWeights, writeWeights } from '../model/weights-file';
import { replaceDirAtomicSync, writeJsonAtomicSync } from '../util/atomic';
import { UserError, fsUserError, isFsError } from '../util/errors';
import { checkWritableDir, withFsErrors } from '../util/files';
import { Progress } from '../util/progress';
import { TrainConfig, inputGeometry, validateTrainConfig } from './config';
import { groundTruthOf, loadDatasetSpec } from './datasets';
import { learningRateAt } from './schedule';
import {
  CHECKPOINT_DIR,
  CONFIG_FILE,
  LOG_FILE,
  METRICS_FILE,
  STATE_FILE,
  checkRunFolder,
  findCheckpointDir,
  lockRunFolder,
  readCheckpointState,
  recoverCheckpoint,
  trimLog,
} from './run-folder';
import { statusStream } from '../util/log';
import { yoloBatchLoss, yoloPredictionsForTargets, yoloStepAnchors } from './yolo-step';
import { prefetch, scalars } from '../backend/read';
import { saveSnapshot } from './snapshots';
import { PRETRAINED_PREFIX } from './pretrain';

export interface StepRecord {
  step: number;
  loss: number;
  cls: number;
  box: number;
  positives: number;
  lr: number;
  gradNorm: number;
  sec: number;
}

export interface EvalRecord {
  step: number;
  /** COCO's 12 summary numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl). */
  stats: number[];
  images: number;
  anchors: string;
  sec: number;
}

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
}

export { CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE };
const OPTIMIZER_DIR = 'optimizer';

interface TrainState {
  step: number;
  history: StepRecord[];
  evals: EvalRecord[];
}

/**
 * A parameter group with its own optimizer state and learning-rate multiplier. MetaAnchor's
 * generator weights (W1, c1, W2, W12) form their own group: with Adam every one of W2's m rows
 * moves by about the learning rate per step and the generated residual W2·h sums m of those moves,
 * so the generated anchor functions would change ~||h||_1 times faster than theta* (see
 * TrainConfig.generatorLrMult).
 */
interface ParamGroup {
  name: 'main' | 'generator';
  optimizer: tf.Optimizer;
  lrMult: number;
  vars: Set<string>;
}

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

/** The run has a checkpoint (possibly one an interrupted swap left aside, see run-folder.ts). */
export function hasCheckpoint(dir: string): boolean {
  return findCheckpointDir(dir) !== null;
}

/** The step, loss history and evaluations of the run's checkpoint; an error if it is unreadable. */
export function readTrainState(dir: string): TrainState {
  return readCheckpointState(findCheckpointDir(dir) ?? path.join(dir, CHECKPOINT_DIR)) as TrainState;
}

function makeOptimizer(cfg: TrainConfig): tf.Optimizer {
  return cfg.optimizer === 'sgd' ? tf.train.momentum(cfg.lr.baseLr, cfg.momentum) : tf.train.adam(cfg.lr.baseLr);
}

function setLearningRate(opt: tf.Optimizer, lr: number): void {
  const o = opt as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Build the datasets, model and optimizer of a config. */
async function buildRun(cfg: TrainConfig, log: (s: string) => void, quiet: boolean): Promise<RunParts> {
  let train = await loadDatasetSpec(cfg.train, 'train');
  const val = await loadDatasetSpec(cfg.val, 'val');
  for (const [ds, role, why] of [[train, 'training', 'nothing to learn'], [val, 'validation', 'nothing to score against (mmAP would print as -100)']] as const) {
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

function optimizerDir(group: ParamGroup): string {
  return group.name === 'main' ? OPTIMIZER_DIR : `${OPTIMIZER_DIR}-${group.name}`;
}

async function saveCheckpoint(dir: string, cfg: TrainConfig, parts: RunParts, state: TrainState, lastStep: number): Promise<void> {
  const perGroup = await Promise.all(parts.groups.map(async (g) => [...(await g.optimizer.getWeights()), ...optimizerExtraState(g.optimizer)]));
  // The writers below read synchronously (webgpu: from the copies read here).
  await prefetch([...parts.detector.store.entries().map(([, v]) => v), ...perGroup.flat().map((w) => w.tensor)]);
  try {
    replaceDirAtomicSync(path.join(dir, CHECKPOINT_DIR), (staging) => {
      saveDetector(parts.detector, staging, { step: state.step, anchors: cfg.anchors, standardBoxP3: parts.anchors.standardBoxP3, categories: parts.train.categories });
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

async function restoreCheckpoint(dir: string, parts: RunParts): Promise<TrainState> {
  const ckpt = path.join(dir, CHECKPOINT_DIR);
  loadDetectorWeights(parts.detector, ckpt);
  for (const g of parts.groups) await restoreOptimizer(path.join(ckpt, optimizerDir(g)), g.optimizer);
  return readTrainState(dir);
}

/** Global L2 norm of the gradients; scales them in place (returned map) when above maxNorm. */
async function clipGradients(grads: tf.NamedTensorMap, maxNorm: number): Promise<{ grads: tf.NamedTensorMap; norm: number }> {
  const normT = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))));
  const norm = (await normT.data())[0];
  normT.dispose();
  if (!(maxNorm > 0) || norm <= maxNorm || !isFinite(norm)) return { grads, norm };
  const scale = maxNorm / (norm + 1e-6);
  const clipped: tf.NamedTensorMap = {};
  for (const [k, g] of Object.entries(grads)) {
    clipped[k] = tf.mul(g, scale);
    g.dispose();
  }
  return { grads: clipped, norm };
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
  if (folder.kind === 'same' && !opts.resume && hasCheckpoint(dir)) {
    throw new UserError(`${dir} already holds a run (checkpoint at step ${readTrainState(dir).step})`, 'pass --resume to continue it, or choose a new --out folder');
  }
  checkWritableDir(dir, '--out');
  const unlock = lockRunFolder(dir, log);
  try {
    return await trainLocked(cfg, dir, opts, folder, log, quiet);
  } finally {
    unlock();
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
    state = await restoreCheckpoint(dir, parts);
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
  const K = detector.config.numClasses;
  const gridCache = new Map<string, ReturnType<typeof anchorsForConfig>>();
  const progress = new Progress({ label: `train ${path.basename(dir)}`, total: cfg.steps, quiet });
  const started = Date.now();
  let stepsThisCall = 0;
  const nb = loader.numBatches;
  const gt = prepareCocoGroundTruth(groundTruthOf(parts.val));

  const evaluate = async (): Promise<EvalRecord> => {
    const t0 = Date.now();
    const maxImages = cfg.evalImages > 0 ? Math.min(cfg.evalImages, parts.val.images.length) : parts.val.images.length;
    const results = await detectDataset(detector, parts.val, {
      anchors,
      standardBoxP3: anchors.standardBoxP3,
      input: inputGeometry(cfg),
      maxImages,
      batchSize: Math.max(1, Math.min(8, cfg.batchSize)),
    });
    const imageIds = parts.val.images.slice(0, maxImages).map((im) => im.id);
    const r = gt.evaluate(results, { imageIds });
    return { step: state.step, stats: r.stats, images: maxImages, anchors: cfg.anchors, sec: (Date.now() - t0) / 1000 };
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
        for (const g of groups) setLearningRate(g.optimizer, lr * g.lrMult);

        let values: number[];
        let gradNorm = 0;
        try {
          const x = batchToTensor(batch);
          const inputs: tf.Tensor[] = [x];
          const parts3: (tf.Scalar | number)[] = [];
          let stepLoss: () => tf.Scalar;
          if (isYoloDetector(detector)) {
            const yolo = detector;
            // YOLOv2 (Table 7): region-layer targets from the step's own predictions (lib/train/yolo-step.ts).
            const ya = yoloStepAnchors(cfg.method, anchors, cfg.seed, state.step, cfg.jitter);
            const bT = ya.b ? tf.tensor2d(ya.b, [ya.b.length / 2, 2], 'float32') : undefined;
            if (bT) inputs.push(bT);
            const priorTerm = state.step < priorTermSteps(cfg.lr.warmupSteps);
            // The region targets depend on the predictions; webgpu cannot read them inside the
            // gradient tape, so it runs the (deterministic) forward pass once more before it.
            const predicted = await yoloPredictionsForTargets(yolo, x, bT);
            stepLoss = () => {
              const l = yoloBatchLoss(yolo, x, bT, batch.items, ya.anchorsWH, priorTerm, predicted);
              parts3.push(tf.keep(l.cls), tf.keep(l.box), l.assigned);
              return l.total;
            };
          } else {
            const retina = detector;
            const [N, H, W] = batch.shape;
            // Anchors of this step: fixed (baseline) or the jittered b_i of Sec. 4 (MetaAnchor).
            const key = `${H}x${W}`;
            let grid = gridCache.get(key);
            if (!grid) gridCache.set(key, (grid = anchorsForConfig(anchors, H, W)));
            let anchorBoxes = grid.anchors;
            let bValues: Float32Array | undefined;
            if (cfg.method === 'metaanchor') {
              const j = jitteredTrainingAnchors(anchors, derivedRng(cfg.seed, 'jitter', state.step), { amplitude: cfg.jitter });
              anchorBoxes = anchorGrid(grid.levels, j.sizesPerLevel);
              bValues = j.b;
            }
            const A = anchorBoxes.length / 4;
            const labels = new Int32Array(N * A);
            const boxTargets = new Float32Array(N * A * 4);
            for (let k = 0; k < N; k++) {
              const item = batch.items[k];
              // item.ignore holds the matcher's GT flags (crowd / dropped), see lib/data/types.ts.
              const t = buildTargets(anchorBoxes, { boxes: item.boxes, classIdx: item.classIdx, ignore: item.ignore }, {
                posIou: cfg.posIou,
                negIou: cfg.negIou,
                allowLowQuality: cfg.allowLowQuality,
                numClasses: K,
              });
              labels.set(t.labels, k * A);
              boxTargets.set(t.boxTargets, k * A * 4);
            }
            const labelsT = tf.tensor2d(labels, [N, A], 'int32');
            const targetsT = tf.tensor3d(boxTargets, [N, A, 4], 'float32');
            const bT = bValues ? tf.tensor2d(bValues, [bValues.length / 2, 2], 'float32') : undefined;
            inputs.push(labelsT, targetsT);
            if (bT) inputs.push(bT);
            stepLoss = () => {
              const out = retina.forward(x, bT);
              const l = detectionLoss(out, labelsT, targetsT, {
                focal: { alpha: cfg.focalAlpha, gamma: cfg.focalGamma },
                box: { kind: cfg.boxLoss, beta: cfg.smoothL1Beta },
              });
              parts3.push(tf.keep(l.cls), tf.keep(l.box), tf.keep(l.numPositives));
              return l.total;
            };
          }
          const { value, grads } = tf.variableGrads(stepLoss, vars);
          const read = await scalars([value, ...parts3.filter((t): t is tf.Scalar => typeof t !== 'number')]);
          values = [read.shift()!, ...parts3.map((t) => (typeof t === 'number' ? t : read.shift()!))];
          tf.dispose([...inputs, value, ...parts3.filter((t): t is tf.Scalar => typeof t !== 'number')]);
          if (!values.every(Number.isFinite)) {
            tf.dispose(Object.values(grads));
            throw new UserError(
              `loss became ${values[0]} at step ${state.step} (cls ${values[1]}, box ${values[2]}); the last good checkpoint (step ${checkpointStep}) is kept`,
              `lower the learning rate (now ${lr.toExponential(2)}) or set clipNorm, then resume with --resume`,
            );
          }
          if (cfg.weightDecay > 0) {
            for (const v of vars) {
              if (!decayed.has(v.name) || !grads[v.name]) continue;
              const g = grads[v.name];
              grads[v.name] = tf.tidy(() => tf.add(g, tf.mul(v, cfg.weightDecay)));
              g.dispose();
            }
          }
          const clipped = await clipGradients(grads, cfg.clipNorm);
          gradNorm = clipped.norm;
          for (const g of groups) {
            const part: tf.NamedTensorMap = {};
            for (const [k, t] of Object.entries(clipped.grads)) if (g.vars.has(k)) part[k] = t;
            if (Object.keys(part).length) g.optimizer.applyGradients(part);
          }
          tf.dispose(Object.values(clipped.grads));
        } catch (err) {
          throw explainWasmOom(err, { batchSize: cfg.batchSize, imageSizePx: cfg.imageSizePx });
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
        withFsErrors(`cannot append to ${logPath}`, () => fs.appendFileSync(logPath, JSON.stringify(rec) + '\n'), `fix the cause (e.g. free disk space), then continue with --resume from the checkpoint of step ${checkpointStep}`);
        opts.onStep?.(rec);
        progress.update(state.step, { loss: rec.loss, cls: rec.cls, box: rec.box, lr });
        if (cfg.evalEvery > 0 && state.step % cfg.evalEvery === 0 && state.step < cfg.steps) {
          state.evals.push(await evaluate());
          writeJsonAtomicSync(path.join(dir, METRICS_FILE), { evals: state.evals });
          log(`eval @${state.step}: mmAP ${(100 * state.evals[state.evals.length - 1].stats[0]).toFixed(1)}`);
        }
        if (cfg.snapshotEvery > 0 && state.step % cfg.snapshotEvery === 0 && state.step < cfg.steps) {
          await prefetch(detector.store.entries().map(([, v]) => v));
          saveSnapshot(dir, state.step, detector, { anchors: cfg.anchors, standardBoxP3: anchors.standardBoxP3, categories: parts.train.categories });
        }
        if (state.step % cfg.checkpointEvery === 0 || state.step === cfg.steps) {
          await saveCheckpoint(dir, cfg, parts, state, checkpointStep);
          checkpointStep = state.step;
        }
      }
      if (opts.stopAfter !== undefined && stepsThisCall >= opts.stopAfter) break;
    }
    if (state.step >= cfg.steps && !(state.evals.length && state.evals[state.evals.length - 1].step === state.step)) {
      state.evals.push(await evaluate());
      writeJsonAtomicSync(path.join(dir, METRICS_FILE), { evals: state.evals });
      await saveCheckpoint(dir, cfg, parts, state, checkpointStep);
      checkpointStep = state.step;
      const s = state.evals[state.evals.length - 1].stats;
      log(`final: mmAP ${(100 * s[0]).toFixed(1)}  AP50 ${(100 * s[1]).toFixed(1)}  AP75 ${(100 * s[2]).toFixed(1)}  (${state.evals[state.evals.length - 1].images} val images)`);
    }
  } finally {
    detector.dispose();
    for (const g of groups) g.optimizer.dispose();
  }
  return { dir, steps: state.step, history: state.history, evals: state.evals, seconds: (Date.now() - started) / 1000, resumedFrom };
}
