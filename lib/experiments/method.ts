/**
 * The method on a live generator (notebook 01_method): MetaAnchor's anchor function generator
 * (lib/model/heads/metaanchor.ts) built small, so that each equation can be checked by evaluating it.
 *
 *   b = (log(ah / AH_l), log(aw / AW_l))                     Eq. 7, the same b at every level
 *   theta_b = theta* + W2 relu(W1 b + c1)                     Eq. 4 (data-independent)
 *   theta_b = theta* + W2 relu(W11 b + c1 + W12 r(x))          Eq. 6 (data-dependent)
 *
 * W2 = 0 gives theta_b = theta* for every b: RetinaNet with one anchor function shared by all
 * anchors. The "basis" evaluation (m+1 convs, mixed per anchor) equals the "direct" one (one conv
 * with the generated weights), since the conv is linear in theta.
 */
import * as tf from '@tensorflow/tfjs';
import { AnchorConfig, AnchorShape, StandardBox, anchorSizePx } from '../anchors/config';
import { FPN_LEVELS, strideOfLevel } from '../anchors/grid';
import { B_JITTER, encodeB, jitterB, shapesB, standardBoxAtLevel } from '../anchors/metaanchor';
import { AnchorFunctionGenerator, GeneratorOptions } from '../model/heads/metaanchor';
import { ParamStore } from '../model/params';
import { GeneratorKind } from '../model/config';
import { PlotlyFigure, PlotlyTrace } from '../notebook/plotly';
import { Row } from '../notebook/table';
import { makeRng } from '../util/seed';

/** A generator with its own parameters (dispose() frees them). */
export interface LiveGenerator {
  generator: AnchorFunctionGenerator;
  store: ParamStore;
  dispose(): void;
}

/** A small generator: C input channels, K outputs per anchor, m hidden units. `w2InitStd` 0 = W2 = 0. */
export function smallGenerator(kind: GeneratorKind, options: Partial<GeneratorOptions> & { seed?: number } = {}): LiveGenerator {
  const store = new ParamStore(options.seed ?? 1);
  const generator = new AnchorFunctionGenerator(store, 'gen', {
    inChannels: 8,
    outPerAnchor: 3,
    hiddenM: 16,
    kind,
    hiddenBias: true,
    thetaStarStd: 0.01,
    thetaStarBias: 0,
    w2InitStd: 0.05,
    ...options,
  });
  return { generator, store, dispose: () => store.dispose() };
}

function shapeText(s: AnchorShape): string {
  const r = s.ratioHW >= 1 ? String(Number(s.ratioHW.toFixed(2))) : `1/${Number((1 / s.ratioHW).toFixed(2))}`;
  return `scale ${Number(s.scale.toFixed(3))}, h/w ${r}`;
}

/** Eq. 7 per anchor and level: the anchor's size, the standard box, and b (the same at every level). */
export function bRows(shapes: readonly AnchorShape[], standardBoxP3: StandardBox, levels: readonly number[] = [3, 4, 5]): Row[] {
  const rows: Row[] = [];
  for (const shape of shapes) {
    for (const level of levels) {
      const size = anchorSizePx(shape, strideOfLevel(level));
      const std = standardBoxAtLevel(standardBoxP3, level);
      const [bh, bw] = encodeB(size.heightPx, size.widthPx, level, standardBoxP3);
      rows.push({
        anchor: shapeText(shape),
        level: `P${level}`,
        'anchor h x w (px)': `${size.heightPx.toFixed(1)} x ${size.widthPx.toFixed(1)}`,
        'standard box (px)': `${std.heightPx.toFixed(1)} x ${std.widthPx.toFixed(1)}`,
        bh,
        bw,
      });
    }
  }
  return rows;
}

/** theta_b (kernel and bias, flattened) of each anchor b (rows of `b`, A x 2), and theta*. */
export function generatedThetas(gen: AnchorFunctionGenerator, b: Float32Array): { thetas: Float32Array[]; thetaStar: Float32Array } {
  return tf.tidy(() => {
    const A = b.length / 2;
    const { kernel, bias } = gen.generate(tf.tensor2d(b, [A, 2]));
    const K = gen.outPerAnchor;
    const taps = kernel.shape[0] * kernel.shape[1] * kernel.shape[2];
    const k = kernel.reshape([taps, A, K]).arraySync() as number[][][];
    const bs = bias.reshape([A, K]).arraySync() as number[][];
    const thetas = Array.from({ length: A }, (_, a) => Float32Array.from([...k.flatMap((tap) => tap[a]), ...bs[a]]));
    const thetaStar = Float32Array.from([...(gen.thetaStarKernel.reshape([taps * K]).arraySync() as number[]), ...(gen.thetaStarBias.arraySync() as number[])]);
    return { thetas, thetaStar };
  });
}

function l2(a: Float32Array, b?: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - (b ? b[i] : 0)) ** 2;
  return Math.sqrt(s);
}

/** Eq. 4 for two or more anchors: |theta_b − theta*| per anchor and |theta_b1 − theta_b2|, as rows. */
export function thetaRows(gen: AnchorFunctionGenerator, shapes: readonly AnchorShape[], standardBoxP3: StandardBox): Row[] {
  const b = shapesB(shapes, standardBoxP3);
  const { thetas, thetaStar } = generatedThetas(gen, b);
  return shapes.map((s, i) => ({
    anchor: shapeText(s),
    bh: b[2 * i],
    bw: b[2 * i + 1],
    '|θ_b − θ*|': l2(thetas[i], thetaStar),
    '|θ*|': l2(thetaStar),
    [`|θ_b − θ_b(${shapeText(shapes[0])})|`]: l2(thetas[i], thetas[0]),
    parameters: thetas[i].length,
  }));
}

/** Largest |direct − basis| of the generator's outputs on random features x [n, h, w, C] for anchors b. */
export function basisVsDirect(gen: AnchorFunctionGenerator, b: Float32Array, seed = 3): { maxAbsDiff: number; maxAbs: number } {
  return tf.tidy(() => {
    const x = tf.randomNormal([2, 6, 6, gen.inChannels], 0, 1, 'float32', seed) as tf.Tensor4D;
    const bt = tf.tensor2d(b, [b.length / 2, 2]);
    const direct = gen.applyDirect(x, bt);
    const [cache] = gen.basis([x]);
    const mixed = gen.mix(cache, bt);
    return { maxAbsDiff: tf.max(tf.abs(tf.sub(direct, mixed))).arraySync() as number, maxAbs: tf.max(tf.abs(direct)).arraySync() as number };
  });
}

/**
 * Eq. 6: the data-dependent generator gives one anchor different weights on two inputs, because r(x)
 * (the input's average) enters its hidden layer: |theta_b(x1) − theta_b(x2)| per anchor.
 */
export function dataDependentThetaDiff(gen: AnchorFunctionGenerator, b: Float32Array, seed = 5): number[] {
  return tf.tidy(() => {
    const x1 = tf.randomNormal([1, 6, 6, gen.inChannels], 0, 1, 'float32', seed) as tf.Tensor4D;
    const x2 = tf.add(tf.randomNormal([1, 6, 6, gen.inChannels], 0, 1, 'float32', seed + 1), 0.5) as tf.Tensor4D;
    const bt = tf.tensor2d(b, [b.length / 2, 2]);
    const [t1, t2] = [x1, x2].map((x) => {
      const h = tf.squeeze(gen.hidden(bt, gen.summarize(x)), [0]) as tf.Tensor2D;
      const { kernel, bias } = gen.weightsFromHidden(h);
      const A = b.length / 2;
      return tf.concat([tf.transpose(tf.reshape(kernel, [-1, A, gen.outPerAnchor]), [1, 0, 2]).reshape([A, -1]), tf.reshape(bias, [A, -1])], 1);
    });
    return tf.sqrt(tf.sum(tf.square(tf.sub(t1, t2)), 1)).arraySync() as number[];
  });
}

function rectangle(cx: number, cy: number, h: number, w: number): { x: number[]; y: number[] } {
  return { x: [cx - w / 2, cx + w / 2, cx + w / 2, cx - w / 2, cx - w / 2], y: [cy - h / 2, cy - h / 2, cy + h / 2, cy + h / 2, cy - h / 2] };
}

const LEVEL_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f'];

/** The anchors of each FPN level of a configuration, centred on one point (pixels, log axes). */
export function anchorLevelsFigure(config: AnchorConfig, levels: readonly number[] = FPN_LEVELS): PlotlyFigure {
  const data: PlotlyTrace[] = [];
  levels.forEach((level, li) => {
    config.shapes.forEach((shape, si) => {
      const s = anchorSizePx(shape, strideOfLevel(level));
      const r = rectangle(0, 0, s.heightPx, s.widthPx);
      data.push({
        type: 'scatter',
        mode: 'lines',
        x: r.x,
        y: r.y,
        name: `P${level} (stride ${strideOfLevel(level)})`,
        legendgroup: `P${level}`,
        showlegend: si === 0,
        line: { color: LEVEL_COLOURS[li % LEVEL_COLOURS.length], width: 1.5 },
        hovertext: `P${level}: ${shapeText(shape)}, ${s.heightPx.toFixed(0)} x ${s.widthPx.toFixed(0)} px`,
        hoverinfo: 'text',
      });
    });
  });
  return {
    data,
    layout: {
      title: { text: `Anchors of ${config.name} at each level, centred (px); the shapes repeat, twice as large per level` },
      xaxis: { title: { text: 'x (px)' }, zeroline: false },
      yaxis: { title: { text: 'y (px)' }, scaleanchor: 'x', zeroline: false },
      legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' },
      margin: { t: 70, r: 20, b: 50, l: 60 },
    },
  };
}

/**
 * Training-time augmentation (Sec. 4): b + U(−0.5, 0.5) per component. Left: the sampled b around
 * the anchor's own; right: the anchors they denote at P3 (outlines), the anchor itself dashed.
 */
export function jitterFigure(shape: AnchorShape, standardBoxP3: StandardBox, samples = 40, seed = 7): PlotlyFigure {
  const b = shapesB([shape], standardBoxP3);
  const rng = makeRng(seed);
  const drawn = Array.from({ length: samples }, () => jitterB(b, rng));
  const std = standardBoxAtLevel(standardBoxP3, 3);
  const data: PlotlyTrace[] = [
    {
      type: 'scatter',
      mode: 'markers',
      x: drawn.map((d) => d[1]),
      y: drawn.map((d) => d[0]),
      name: `jittered b (±${B_JITTER})`,
      marker: { color: '#bab0ac', size: 6 },
    },
    { type: 'scatter', mode: 'markers', x: [b[1]], y: [b[0]], name: `b of ${shapeText(shape)}`, marker: { color: '#e15759', size: 11, symbol: 'x' } },
  ];
  drawn.forEach((d, i) => {
    const r = rectangle(0, 0, std.heightPx * Math.exp(d[0]), std.widthPx * Math.exp(d[1]));
    data.push({
      type: 'scatter',
      mode: 'lines',
      x: r.x,
      y: r.y,
      xaxis: 'x2',
      yaxis: 'y2',
      line: { color: '#bab0ac', width: 1 },
      showlegend: i === 0,
      name: 'their anchors at P3',
    });
  });
  const own = rectangle(0, 0, std.heightPx * Math.exp(b[0]), std.widthPx * Math.exp(b[1]));
  data.push({
    type: 'scatter',
    mode: 'lines',
    x: own.x,
    y: own.y,
    xaxis: 'x2',
    yaxis: 'y2',
    line: { color: '#e15759', width: 2.5, dash: 'dash' },
    name: 'the anchor at P3',
  });
  return {
    data,
    layout: {
      title: { text: `Training jitter: b + U(−${B_JITTER}, ${B_JITTER}) for ${shapeText(shape)}` },
      grid: { rows: 1, columns: 2, pattern: 'independent' },
      xaxis: { title: { text: 'bw = log(aw / AW)' } },
      yaxis: { title: { text: 'bh = log(ah / AH)' } },
      xaxis2: { title: { text: 'x (px)' } },
      yaxis2: { title: { text: 'y (px)' }, scaleanchor: 'x2' },
      legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' },
      margin: { t: 80, r: 20, b: 50, l: 60 },
    },
  };
}
