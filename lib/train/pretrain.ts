/**
 * Backbone pretraining by digit classification: for the small CPU backbone, what the paper's
 * ImageNet-pretrained ResNet-50 is for its detectors (Sec. 4: "ResNet-50 pretrained on ImageNet").
 *
 * The task is broader than the detection data, as ImageNet is broader than COCO: all ten MNIST
 * digits (the detection presets use some of them), each stretched to a sampled size and aspect
 * ratio on a noisy 64 px canvas (the MNIST-Det renderer with one object per image), labelled with its
 * digit. Only digit samples of the training split are used (lib/data/mnist-digits.ts): a detection
 * validation image never shows a sample the backbone saw. A linear classifier on globally pooled C5
 * is trained with the backbone and thrown away; the backbone's weights are kept.
 *
 * Pretrained weights are made once per (backbone sizes, pretraining config) and cached under
 * data/pretrained/<name>-<hash>/ like the generated datasets (staged, then renamed into place);
 * a run uses them through TrainConfig.initFrom { weights: 'pretrained:mnist-digits', prefixes:
 * ['backbone.'] }. Measured effect: docs/quick-proxy.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { dataRoot, mnistDetConfig, renderImage } from '../data/mnist-det';
import { digitSplit, loadMnistDigits } from '../data/mnist-digits';
import { derivedRng } from '../data/seeds';
import { configHash } from '../experiments/key';
import { ModelConfig } from '../model/config';
import { ParamStore, heStd } from '../model/params';
import { buildSmallBackbone } from '../model/backbones/small';
import { readWeights, writeWeights } from '../model/weights-file';
import { Rng, shuffle } from '../util/seed';
import { UserError } from '../util/errors';
import { Progress } from '../util/progress';
import { LrScheduleConfig, learningRateAt } from './schedule';

export const PRETRAINED_PREFIX = 'pretrained:';
/** Bump when the pretraining's output changes for an unchanged config (cached weights are rebuilt). */
export const PRETRAIN_VERSION = 1;

export interface PretrainConfig {
  task: 'mnist-digits';
  /** Small backbone sizes (ModelConfig.smallWidths, gnGroups): the weights fit only this shape. */
  widths: number[];
  gnGroups: number;
  pixelMeanRGB: [number, number, number];
  pixelStdRGB: [number, number, number];
  imageSizePx: number;
  batchSize: number;
  steps: number;
  lr: LrScheduleConfig;
  seed: number;
  /** Held-out samples (validation digits) the accuracy is measured on. */
  testImages: number;
}

/** The pretraining of the backbone of `model` (a small backbone with GroupNorm). */
export function pretrainConfig(
  model: Pick<ModelConfig, 'backbone' | 'smallWidths' | 'gnGroups' | 'backboneNorm' | 'pixelMeanRGB' | 'pixelStdRGB'>,
  task = 'mnist-digits',
): PretrainConfig {
  if (task !== 'mnist-digits') throw new UserError(`unknown pretraining "${task}"`, `use ${PRETRAINED_PREFIX}mnist-digits`);
  if (model.backbone !== 'small' || model.backboneNorm === 'none') {
    throw new UserError(
      `${PRETRAINED_PREFIX}${task} pretrains the small GroupNorm backbone, not "${model.backbone}" (${model.backboneNorm})`,
      'ResNets take ImageNet weights instead (model.backboneWeights)',
    );
  }
  return {
    task: 'mnist-digits',
    widths: [...model.smallWidths],
    gnGroups: model.gnGroups,
    pixelMeanRGB: [...model.pixelMeanRGB],
    pixelStdRGB: [...model.pixelStdRGB],
    imageSizePx: 64,
    batchSize: 32,
    steps: 1500,
    lr: { baseLr: 0.002, warmupSteps: 50, warmupFactor: 0.01, decaySteps: [1100, 1350], gamma: 0.1 },
    seed: 0,
    testImages: 1000,
  };
}

/** One canvas with one stretched digit: the MNIST-Det renderer's shapes, larger relative to the canvas. */
function sampleRenderer(cfg: PretrainConfig) {
  return mnistDetConfig({
    imageSizePx: cfg.imageSizePx,
    boxes: { objectsMin: 1, objectsMax: 1, sizeMedianFrac: 0.55, sizeLogSigma: 0.3, sizeMinFrac: 0.25, sizeMaxFrac: 0.95 },
  });
}

/** A batch of rendered digits: pixels [N, S, S, 3] in 0..255 and labels 0..9. */
function renderBatch(cfg: PretrainConfig, rng: Rng, pool: Int32Array, n: number): { x: Float32Array; labels: Int32Array } {
  const digits = loadMnistDigits();
  const render = sampleRenderer(cfg);
  const S = cfg.imageSizePx;
  const x = new Float32Array(n * S * S * 3);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const index = pool[Math.floor(rng() * pool.length)];
    const img = renderImage(render, digits, rng, () => index);
    labels[i] = digits.labels[index];
    for (let p = 0; p < S * S; p++) {
      const v = img.pixels[p];
      x[(i * S * S + p) * 3] = v;
      x[(i * S * S + p) * 3 + 1] = v;
      x[(i * S * S + p) * 3 + 2] = v;
    }
  }
  return { x, labels };
}

export interface PretrainResult {
  dir: string;
  /** Top-1 accuracy on `testImages` held-out samples. */
  accuracy: number;
  seconds: number;
}

/** Train backbone + linear classifier; write the backbone's weights (names 'backbone.*') to `dir`. */
export async function pretrainBackbone(cfg: PretrainConfig, dir: string, options: { quiet?: boolean } = {}): Promise<PretrainResult> {
  await initBackend();
  const t0 = Date.now();
  const store = new ParamStore(cfg.seed);
  const backbone = buildSmallBackbone(store, 'backbone', { widths: cfg.widths, norm: 'gn', gnGroups: cfg.gnGroups });
  const c5 = cfg.widths[4];
  const w = store.add('classifier.weight', [c5, 10], { kind: 'normal', std: heStd(c5) });
  const b = store.add('classifier.bias', [10], { kind: 'zeros' });
  const mean = tf.tensor1d(cfg.pixelMeanRGB);
  const invStd = tf.div(1, tf.tensor1d(cfg.pixelStdRGB));
  const S = cfg.imageSizePx;
  const logits = (x: tf.Tensor4D): tf.Tensor2D => {
    const f = backbone.forward(tf.mul(tf.sub(x, mean), invStd) as tf.Tensor4D).c5;
    return tf.add(tf.matMul(tf.mean(f, [1, 2]) as tf.Tensor2D, w), b);
  };
  const split = digitSplit(loadMnistDigits().count);
  const trainPool = Int32Array.from(shuffle(Array.from(split.train), derivedRng(cfg.seed, 'pretrain', 'order')));
  const rng = derivedRng(cfg.seed, 'pretrain', 'train');
  const opt = tf.train.adam(cfg.lr.baseLr);
  const vars = store.entries().map(([, v]) => v);
  const quiet = options.quiet ?? process.env.METAANCHOR_QUIET === '1';
  const progress = new Progress({ label: 'pretrain backbone (digit classification)', total: cfg.steps, quiet });
  try {
    for (let step = 0; step < cfg.steps; step++) {
      (opt as unknown as { learningRate: number }).learningRate = learningRateAt(cfg.lr, step);
      const batch = renderBatch(cfg, rng, trainPool, cfg.batchSize);
      const loss = tf.tidy(() => {
        const x = tf.tensor4d(batch.x, [cfg.batchSize, S, S, 3]);
        const y = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), 10);
        return opt.minimize(() => tf.losses.softmaxCrossEntropy(y, logits(x)) as tf.Scalar, true, vars) as tf.Scalar;
      });
      const value = (await loss.data())[0];
      loss.dispose();
      if (!Number.isFinite(value))
        throw new UserError(`backbone pretraining diverged at step ${step} (loss ${value})`, 'lower its learning rate (lib/train/pretrain.ts pretrainConfig)');
      progress.update(step + 1, { loss: value });
    }
    // Held-out accuracy, on samples of the validation digits.
    const testRng = derivedRng(cfg.seed, 'pretrain', 'test');
    let correct = 0;
    for (let done = 0; done < cfg.testImages; done += 100) {
      const n = Math.min(100, cfg.testImages - done);
      const batch = renderBatch(cfg, testRng, split.val, n);
      const predT = tf.tidy(() => tf.argMax(logits(tf.tensor4d(batch.x, [n, S, S, 3])), 1));
      const pred = await predT.data();
      predT.dispose();
      for (let i = 0; i < n; i++) if (pred[i] === batch.labels[i]) correct++;
    }
    const accuracy = correct / cfg.testImages;
    const kept = store.entries().filter(([name]) => name.startsWith('backbone.'));
    const arrays = await Promise.all(kept.map(async ([name, v]) => ({ name, shape: [...v.shape], data: (await v.data()) as Float32Array })));
    writeWeights(dir, arrays, { meta: { kind: 'pretrained-backbone', version: PRETRAIN_VERSION, config: cfg, accuracy } });
    return { dir, accuracy, seconds: (Date.now() - t0) / 1000 };
  } finally {
    opt.dispose();
    mean.dispose();
    invStd.dispose();
    for (const v of vars) v.dispose();
  }
}

/** Where the weights of `cfg` live: data/pretrained/<task>-<hash>/. */
export function pretrainedDir(cfg: PretrainConfig): string {
  return path.join(dataRoot(), 'pretrained', `${cfg.task}-${configHash({ ...cfg, version: PRETRAIN_VERSION })}`);
}

function isComplete(dir: string): boolean {
  try {
    return readWeights(dir).names().length > 0;
  } catch {
    return false;
  }
}

/**
 * The folder of the pretrained backbone `spec` ("pretrained:mnist-digits") for `model`, pretrained
 * on first use (about two minutes on one core) and reused afterwards.
 */
export async function ensurePretrainedBackbone(
  spec: string,
  model: ModelConfig,
  options: { quiet?: boolean; log?: (s: string) => void } = {},
): Promise<string> {
  if (!spec.startsWith(PRETRAINED_PREFIX)) throw new UserError(`"${spec}" is not a pretrained backbone`, `write ${PRETRAINED_PREFIX}mnist-digits`);
  const cfg = pretrainConfig(model, spec.slice(PRETRAINED_PREFIX.length));
  const dir = pretrainedDir(cfg);
  if (isComplete(dir)) return dir;
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    const r = await pretrainBackbone(cfg, staging, options);
    if (isComplete(dir)) {
      // Another process finished the same pretraining meanwhile: keep theirs (same config, same weights).
      fs.rmSync(staging, { recursive: true, force: true });
    } else {
      fs.mkdirSync(path.dirname(dir), { recursive: true });
      fs.renameSync(staging, dir);
    }
    options.log?.(`pretrained the backbone on digit classification: ${(100 * r.accuracy).toFixed(1)}% held-out accuracy, ${r.seconds.toFixed(0)} s -> ${dir}`);
    return dir;
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}
