/**
 * Training-step timing on tfjs, the same step bench/torch_reference.py times in PyTorch: forward,
 * lib/model detectionLoss (sigmoid focal + smooth-L1, / #positives) on synthetic targets,
 * tf.variableGrads over the trainable variables (as lib/train/trainer.ts), one Adam update.
 */
import * as tf from '@tensorflow/tfjs';
import { Detector, ParamStore, detectionLoss } from '../model';
import { ArchSpec, addArchParams, archForward } from './arch';
import { makeRng, normal } from '../util/seed';
import { LABEL_BACKGROUND, LABEL_IGNORE } from '../box/labels';

/**
 * Labels for `n` images of `anchors` anchors (flat index i over the batch): positive of class
 * floor(i / every) mod K when i mod every = 0, ignored (-2) when i mod every = floor(every / 2),
 * background (-1) otherwise. The Python side computes the same rule.
 */
export function syntheticLabels(n: number, anchors: number, numClasses: number, every: number): Int32Array {
  if (!(Number.isInteger(every) && every >= 2)) throw new Error(`positiveEvery must be an integer >= 2, got ${every}`);
  const labels = new Int32Array(n * anchors).fill(LABEL_BACKGROUND);
  const half = Math.floor(every / 2);
  for (let i = 0; i < labels.length; i++) {
    const r = i % every;
    if (r === 0) labels[i] = Math.floor(i / every) % numClasses;
    else if (r === half) labels[i] = LABEL_IGNORE;
  }
  return labels;
}

export interface StepTiming {
  /** Milliseconds of each timed step (after warm-up). */
  stepMs: number[];
  /** Loss of the last step (a finite number shows the step computed something). */
  loss: number;
  params: number;
  anchorsPerImage: number;
}

export interface StepCase {
  batch: number;
  sizePx: number;
  /** Positive anchors: one in `positiveEvery` (see syntheticLabels). */
  positiveEvery: number;
  warmup: number;
  steps: number;
  seed?: number;
  onStep?: (done: number, total: number) => void;
  /** Called around each timed step (lib/bench/kernel-profile.ts counts kernels in between). */
  profiler?: { begin(): void; end(): void };
}

/** The net to train: a forward function over a store's variables. */
export interface TrainableNet {
  store: ParamStore;
  forward(images: tf.Tensor4D): { clsLogits: tf.Tensor3D; boxDeltas: tf.Tensor3D };
  numClasses: number;
}

export function detectorNet(det: Detector): TrainableNet {
  return { store: det.store, forward: (x) => det.forward(x), numClasses: det.config.numClasses };
}

/** A net built from a layer list with fresh parameters (dispose its store when done). */
export function archNet(spec: ArchSpec, seed = 0): TrainableNet {
  const store = new ParamStore(seed);
  addArchParams(spec, store);
  return { store, forward: (x) => archForward(spec, store, x), numClasses: spec.numClasses };
}

/** Times `warmup + steps` training steps; returns the timed ones. Everything created is disposed. */
export async function timeTrainSteps(net: TrainableNet, c: StepCase): Promise<StepTiming> {
  const rng = makeRng(c.seed ?? 0);
  const size = c.batch * c.sizePx * c.sizePx * 3;
  const pixels = new Float32Array(size);
  for (let i = 0; i < size; i++) pixels[i] = 255 * rng();
  const images = tf.tensor4d(pixels, [c.batch, c.sizePx, c.sizePx, 3]);
  const anchors = tf.tidy(() => net.forward(images).clsLogits.shape[1]);
  const labels = tf.tensor2d(syntheticLabels(c.batch, anchors, net.numClasses, c.positiveEvery), [c.batch, anchors], 'int32');
  const targetValues = new Float32Array(c.batch * anchors * 4);
  for (let i = 0; i < targetValues.length; i++) targetValues[i] = 0.5 * normal(rng);
  const targets = tf.tensor3d(targetValues, [c.batch, anchors, 4]);
  const vars = net.store.trainableVariables();
  const optimizer: tf.Optimizer = tf.train.adam(1e-3);
  const stepMs: number[] = [];
  let loss = NaN;
  try {
    const total = c.warmup + c.steps;
    for (let it = 0; it < total; it++) {
      const timed = it >= c.warmup;
      if (timed) c.profiler?.begin();
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(() => detectionLoss(net.forward(images), labels, targets).total, vars);
      optimizer.applyGradients(grads);
      // Asynchronous reads: webgpu cannot read synchronously in Node (same cost elsewhere).
      loss = (await value.data())[0];
      // Reading one updated variable waits for the update (a no-op on synchronous backends).
      await vars[0].data();
      const ms = performance.now() - t0;
      if (timed) c.profiler?.end();
      tf.dispose([value, ...Object.values(grads)]);
      if (timed) stepMs.push(ms);
      c.onStep?.(it + 1, total);
    }
  } finally {
    optimizer.dispose();
    tf.dispose([images, labels, targets]);
  }
  return { stepMs, loss, params: net.store.count({ trainableOnly: true }), anchorsPerImage: anchors };
}
