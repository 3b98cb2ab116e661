/**
 * Timings of the detector on the active backend: forward and training step of a config, and the
 * two exact evaluations of a generated anchor function (direct vs basis, heads/metaanchor.ts) as
 * the number of anchors A grows. Best of `repeats` runs after one warm-up run: on a shared
 * machine the minimum estimates the uncontended cost better than the median.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelConfig } from './config';
import { buildDetector, levelShapes } from './detector';
import { detectionLoss } from './losses';
import { ParamStore } from './params';
import { AnchorFunctionGenerator } from './heads/metaanchor';
import { GeneratorKind } from './config';

function timeIt(fn: () => void, repeats: number): number {
  fn();
  const ts: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return Math.min(...ts);
}

export interface AnchorFunctionModeTiming {
  anchors: number;
  /** Generate A filter sets, one conv with A*K outputs per level. */
  directMs: number;
  /** m+1 basis convs per level, then mixing for A anchors. */
  basisMs: number;
  /** Mixing only, basis responses cached (what each greedy-search candidate costs). */
  mixOnlyMs: number;
  /** max |direct - basis| over all outputs. */
  maxAbsDiff: number;
}

export interface AnchorFunctionBenchOptions {
  /** Tower width C. */
  channels: number;
  /** Outputs per anchor (K classes). */
  numClasses: number;
  hiddenM: number;
  kind?: GeneratorKind;
  /** The five FPN levels of an image of this size. */
  imageSizePx: number;
  batch: number;
  anchorCounts: number[];
  repeats?: number;
}

/** Classification anchor function over all levels, direct vs basis, for each A in `anchorCounts`. */
export function benchAnchorFunctionModes(o: AnchorFunctionBenchOptions): AnchorFunctionModeTiming[] {
  const repeats = o.repeats ?? 3;
  const store = new ParamStore(0);
  const gen = new AnchorFunctionGenerator(store, 'bench', {
    inChannels: o.channels,
    outPerAnchor: o.numClasses,
    hiddenM: o.hiddenM,
    kind: o.kind ?? 'independent',
    hiddenBias: true,
    thetaStarStd: 0.01,
    thetaStarBias: -4.6,
    w2InitStd: 0.01,
  });
  const xs = levelShapes(o.imageSizePx, o.imageSizePx).map(
    (l, i) => tf.randomUniform([o.batch, l.heightCells, l.widthCells, o.channels], 0, 1, 'float32', i + 1) as tf.Tensor4D,
  );
  const rows: AnchorFunctionModeTiming[] = [];
  const cache = gen.basis(xs);
  try {
    for (const A of o.anchorCounts) {
      const b = tf.randomUniform([A, 2], -1, 1, 'float32', A) as tf.Tensor2D;
      const evalSync = (f: () => tf.Tensor[]) => () => {
        const outs = f();
        outs.forEach((t) => t.dataSync());
        tf.dispose(outs);
      };
      const directMs = timeIt(
        evalSync(() => gen.applyLevels(xs, b, 'direct')),
        repeats,
      );
      const basisMs = timeIt(
        evalSync(() => gen.applyLevels(xs, b, 'basis')),
        repeats,
      );
      const mixOnlyMs = timeIt(
        evalSync(() => cache.map((c) => gen.mix(c, b))),
        repeats,
      );
      const maxAbsDiff = tf.tidy(() => {
        const d = gen.applyLevels(xs, b, 'direct');
        const s = gen.applyLevels(xs, b, 'basis');
        return Math.max(...d.map((t, i) => tf.max(tf.abs(tf.sub(t, s[i]))).dataSync()[0]));
      });
      rows.push({ anchors: A, directMs, basisMs, mixOnlyMs, maxAbsDiff });
      b.dispose();
    }
  } finally {
    tf.dispose(xs);
    tf.dispose(cache.map((c) => c.responses));
    tf.dispose(cache.map((c) => c.r).filter((r): r is tf.Tensor2D => !!r));
    store.dispose();
  }
  return rows;
}

export interface DetectorTiming {
  forwardMs: number;
  /** Forward + backward (tf.variableGrads) of the detection loss. */
  trainStepMs: number;
}

/** Forward and training-step time of a config at batch x sizePx x sizePx, A anchors per cell. */
export function benchDetector(cfg: ModelConfig, opts: { batch: number; sizePx: number; anchors: number; repeats?: number }): DetectorTiming {
  const repeats = opts.repeats ?? 3;
  const det = buildDetector(cfg.method === 'baseline' ? { ...cfg, numAnchors: opts.anchors } : cfg, { log: () => undefined });
  const images = tf.randomUniform([opts.batch, opts.sizePx, opts.sizePx, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
  const b = cfg.method === 'metaanchor' ? (tf.randomUniform([opts.anchors, 2], -1, 1, 'float32', 2) as tf.Tensor2D) : undefined;
  const total = levelShapes(opts.sizePx, opts.sizePx).reduce((s, l) => s + l.heightCells * l.widthCells, 0) * opts.anchors;
  const labels = tf.tensor2d(
    new Int32Array(opts.batch * total).map((_, i) => (i % 97 === 0 ? i % cfg.numClasses : -1)),
    [opts.batch, total],
    'int32',
  );
  const targets = tf.zeros([opts.batch, total, 4]);
  try {
    const forwardMs = timeIt(() => {
      const o = det.forward(images, b);
      o.clsLogits.dataSync();
      tf.dispose([o.clsLogits, o.boxDeltas]);
    }, repeats);
    const trainStepMs = timeIt(() => {
      const { value, grads } = tf.variableGrads(() => detectionLoss(det.forward(images, b), labels, targets).total);
      value.dataSync();
      tf.dispose(value);
      tf.dispose(grads);
    }, repeats);
    return { forwardMs, trainStepMs };
  } finally {
    tf.dispose([images, labels, targets]);
    b?.dispose();
    det.dispose();
  }
}
