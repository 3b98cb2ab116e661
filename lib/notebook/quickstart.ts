/**
 * The quickstart notebook's workload: a tiny conv net that regresses the box of one bright rectangle
 * on a noisy 24x24 image. Small enough for a few dozen steps on any backend, and it exercises what
 * the detector needs from a backend: conv forward and both conv gradients, dense layers, Adam.
 */
import * as tf from '@tensorflow/tfjs';
import { DataFrame } from 'danfojs-node';
import sharp from 'sharp';
import { drawBoxes } from '../data/draw';
import { UserError } from '../util/errors';
import { makeRng, normal, Rng } from '../util/seed';
import { iouPair } from '../box/iou';
import { LossPoint } from './loss-curve';
import { Interrupted, beginStoppable, interruptMark, interruptedSince } from '../util/interrupt';

export interface QuickstartOptions {
  /** Training steps (one batch each). */
  steps: number;
  /** Default 16. */
  batchSize?: number;
  /** Side of the square input image. Default 24. */
  imageSizePx?: number;
  /** Adam learning rate. Default 0.01. */
  learningRate?: number;
  /** Seeds the data stream and the weight initialisers. Default 0. */
  seed?: number;
  /** Called after every step; training awaits it, so a live plot can redraw. */
  onStep?: (report: StepReport) => void | Promise<void>;
}

export interface StepReport {
  step: number;
  loss: number;
  elapsedMs: number;
}

export interface QuickstartRun {
  /** The tfjs backend that trained (tf.getBackend()). */
  backend: string;
  losses: LossPoint[];
  /** Median wall time of one training step (data + forward + backward + update). */
  msPerStep: number;
  paramCount: number;
  batchSize: number;
  imageSizePx: number;
  seed: number;
  model: tf.LayersModel;
}

export interface BoxBatch {
  /** [n, size, size, 1] row-major, values around 0..1. */
  images: Float32Array;
  /** 4n: x1 y1 x2 y2 in pixels (continuous, width = x2 - x1). */
  boxesPx: Float32Array;
  n: number;
  sizePx: number;
}

/**
 * `n` images of `sizePx`^2: Gaussian noise (sigma 0.1) around 0.1 with one rectangle of side
 * 4..sizePx/2 px at brightness 0.7..1.0, at a random integer position inside the image.
 */
export function makeBoxBatch(rng: Rng, n: number, sizePx: number): BoxBatch {
  const images = new Float32Array(n * sizePx * sizePx);
  const boxesPx = new Float32Array(4 * n);
  const maxSide = Math.max(4, Math.floor(sizePx / 2));
  for (let i = 0; i < n; i++) {
    const w = 4 + Math.floor(rng() * (maxSide - 3));
    const h = 4 + Math.floor(rng() * (maxSide - 3));
    const x1 = Math.floor(rng() * (sizePx - w + 1));
    const y1 = Math.floor(rng() * (sizePx - h + 1));
    const level = 0.7 + 0.3 * rng();
    const base = i * sizePx * sizePx;
    for (let y = 0; y < sizePx; y++) {
      for (let x = 0; x < sizePx; x++) {
        const inside = x >= x1 && x < x1 + w && y >= y1 && y < y1 + h;
        images[base + y * sizePx + x] = (inside ? level : 0.1) + 0.1 * normal(rng);
      }
    }
    boxesPx.set([x1, y1, x1 + w, y1 + h], 4 * i);
  }
  return { images, boxesPx, n, sizePx };
}

function buildModel(sizePx: number, seed: number): tf.LayersModel {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 97 + k });
  // Two stride-2 convs: the pure-JS cpu backend's filter gradient is slow, and this is all the
  // task needs (24 -> 12 -> 6 cells of 8 channels).
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [sizePx, sizePx, 1],
        filters: 8,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(1),
      }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.flatten(),
      // Box as fractions of the image side, so a sigmoid keeps it inside the image.
      tf.layers.dense({ units: 4, activation: 'sigmoid', kernelInitializer: init(3) }),
    ],
  });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

/** Train the tiny box regressor on the current tfjs backend (call initBackend first). */
export async function trainTinyConvNet(options: QuickstartOptions): Promise<QuickstartRun> {
  const { steps } = options;
  const batchSize = options.batchSize ?? 16;
  const sizePx = options.imageSizePx ?? 24;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(steps) || steps < 1) throw new UserError(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(sizePx) || sizePx < 8) throw new UserError(`imageSizePx must be an integer >= 8, got ${sizePx}`);

  const rng = makeRng(seed);
  const model = buildModel(sizePx, seed);
  const optimizer = tf.train.adam(options.learningRate ?? 0.01);
  const losses: LossPoint[] = [];
  const stepMs: number[] = [];
  const started = Date.now();
  // An interrupt (notebook kernel) stops it after the current step (lib/util/interrupt.ts).
  const endStoppable = beginStoppable();
  const mark = interruptMark();
  try {
    for (let step = 1; step <= steps; step++) {
      // A macrotask turn, so that an interrupt's signal handler runs (awaiting tensor data alone
      // may never leave the microtask queue).
      await new Promise((resolve) => setImmediate(resolve));
      if (interruptedSince(mark)) {
        throw new Interrupted(`the tiny conv net was interrupted at step ${step - 1}/${steps} (it keeps no checkpoint)`, 'rerun the cell to train it again');
      }
      const t0 = Date.now();
      const batch = makeBoxBatch(rng, batchSize, sizePx);
      const xs = tf.tensor4d(batch.images, [batchSize, sizePx, sizePx, 1]);
      const ys = tf.tensor2d(
        batch.boxesPx.map((v) => v / sizePx),
        [batchSize, 4],
      );
      const cost = optimizer.minimize(() => tf.losses.meanSquaredError(ys, model.apply(xs) as tf.Tensor2D) as tf.Scalar, true);
      // Awaiting the value also yields to the event loop, so display updates reach the notebook.
      const loss = cost ? (await cost.data())[0] : NaN;
      tf.dispose(cost ? [xs, ys, cost] : [xs, ys]);
      stepMs.push(Date.now() - t0);
      losses.push({ step, loss });
      if (options.onStep) await options.onStep({ step, loss, elapsedMs: Date.now() - started });
    }
  } finally {
    endStoppable();
    optimizer.dispose();
  }
  return {
    backend: tf.getBackend(),
    losses,
    msPerStep: median(stepMs),
    paramCount: model.countParams(),
    batchSize,
    imageSizePx: sizePx,
    seed,
    model,
  };
}

export interface Predictions {
  batch: BoxBatch;
  /** 4n predicted boxes, pixels. */
  predictedPx: Float32Array;
  /** IoU of each prediction with its ground truth. */
  iou: Float32Array;
}

/** Predict `count` held-out images (a data stream disjoint from training's: seed + 1000003). */
export function predictHeldOut(run: QuickstartRun, count = 64): Predictions {
  const batch = makeBoxBatch(makeRng(run.seed + 1000003), count, run.imageSizePx);
  const predictedPx = tf.tidy(() => {
    const xs = tf.tensor4d(batch.images, [count, run.imageSizePx, run.imageSizePx, 1]);
    return (run.model.predict(xs) as tf.Tensor).mul(run.imageSizePx).dataSync() as Float32Array;
  });
  const iou = new Float32Array(count);
  for (let i = 0; i < count; i++) iou[i] = iouPair(batch.boxesPx, i, predictedPx, i);
  return { batch, predictedPx, iou };
}

/** One row: what ran, how fast, and how well (mean IoU on held-out images). */
export function quickstartSummary(run: QuickstartRun, heldOut = 64): DataFrame {
  const pred = predictHeldOut(run, heldOut);
  const meanIoU = pred.iou.reduce((a, b) => a + b, 0) / pred.iou.length;
  const first = run.losses[0].loss;
  const last = run.losses[run.losses.length - 1].loss;
  return new DataFrame([
    {
      backend: run.backend,
      steps: run.losses.length,
      batch: run.batchSize,
      params: run.paramCount,
      ms_per_step: run.msPerStep,
      first_loss: first,
      last_loss: last,
      heldout_mean_iou: meanIoU,
    },
  ]);
}

/**
 * Held-out images side by side, enlarged `scale` times, with the ground-truth box (label "gt") and the
 * prediction (label = its IoU), drawn by lib/data/draw (an SVG overlay composited by sharp). PNG.
 */
export async function renderPredictions(run: QuickstartRun, options: { count?: number; scale?: number } = {}): Promise<Buffer> {
  const count = options.count ?? 4;
  const scale = options.scale ?? 8;
  const pred = predictHeldOut(run, count);
  const size = run.imageSizePx;
  const tiles: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const pixels = Buffer.alloc(size * size);
    for (let p = 0; p < size * size; p++) {
      pixels[p] = Math.round(255 * Math.min(1, Math.max(0, pred.batch.images[i * size * size + p])));
    }
    const png = await sharp(pixels, { raw: { width: size, height: size, channels: 1 } })
      .png()
      .toBuffer();
    const boxes = [...pred.batch.boxesPx.subarray(4 * i, 4 * i + 4), ...pred.predictedPx.subarray(4 * i, 4 * i + 4)];
    tiles.push(
      await drawBoxes(png, boxes, {
        scale,
        classIdx: [4, 2], // palette green = ground truth, red = prediction
        labels: ['gt', `IoU ${pred.iou[i].toFixed(2)}`],
        fontSizePx: 11,
      }),
    );
  }
  const tilePx = size * scale;
  const gapPx = 6;
  return sharp({
    create: { width: count * tilePx + (count - 1) * gapPx, height: tilePx, channels: 3, background: { r: 255, g: 255, b: 255 } },
  })
    .composite(tiles.map((input, i) => ({ input, left: i * (tilePx + gapPx), top: 0 })))
    .png()
    .toBuffer();
}
