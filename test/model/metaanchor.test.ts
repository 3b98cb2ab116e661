/**
 * MetaAnchor's anchor function generators (lib/model/heads/metaanchor.ts): Eq. 4 / Eq. 6 weights
 * against a hand computation, basis == direct evaluation, the zero-W2 start equal to a shared-head
 * RetinaNet, and gradients against central finite differences (cpu backend).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../../lib/model/params';
import { AnchorFunctionGenerator } from '../../lib/model/heads/metaanchor';
import { buildDetector } from '../../lib/model/detector';
import { UserError } from '../../lib/util/errors';
import { benchAnchorFunctionModes } from '../../lib/model/bench';
import { assertClose, pseudoRandom, silent, tinyConfig, useCpu, values } from './helpers';

before(useCpu);

function setAll(gen: AnchorFunctionGenerator, seed: number, scale = 1): void {
  const vars = [gen.thetaStarKernel, gen.thetaStarBias, gen.w1, gen.b1, gen.w12, gen.w2Kernel, gen.w2Bias];
  vars.forEach((v, i) => {
    if (v) v.assign(tf.tensor(pseudoRandom(v.size, seed + i, -scale, scale), v.shape));
  });
}

/** 3x3 'same' conv of one image [H][W][C] with kernel(ky, kx, c) and bias, by loops. */
function convByHand(x: Float32Array, H: number, W: number, C: number, tap: (ky: number, kx: number, c: number) => number, bias: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < H; y++)
    for (let xx = 0; xx < W; xx++) {
      let s = bias;
      for (let ky = 0; ky < 3; ky++)
        for (let kx = 0; kx < 3; kx++) {
          const yy = y + ky - 1;
          const xs = xx + kx - 1;
          if (yy < 0 || yy >= H || xs < 0 || xs >= W) continue;
          for (let c = 0; c < C; c++) s += x[(yy * W + xs) * C + c] * tap(ky, kx, c);
        }
      out.push(s);
    }
  return out;
}

describe('generated weights match a hand computation (C=2, K=2, m=3)', () => {
  const C = 2,
    K = 2,
    m = 3,
    H = 4,
    W = 5;
  const bRows = [
    [0.5, -1],
    [-0.3, 0.8],
    [0, 0],
  ];
  const x = pseudoRandom(2 * H * W * C, 11, 0, 2);

  for (const kind of ['independent', 'dependent'] as const) {
    test(`${kind}: theta_b = theta* + W2 relu(W1 b + c1${kind === 'dependent' ? ' + W12 r(x)' : ''})`, () => {
      const store = new ParamStore(0);
      const gen = new AnchorFunctionGenerator(store, 'g', {
        inChannels: C,
        outPerAnchor: K,
        hiddenM: m,
        kind,
        hiddenBias: true,
        thetaStarStd: 0.01,
        thetaStarBias: 0,
        w2InitStd: 0,
      });
      setAll(gen, 100);
      const get = (v: tf.Variable | undefined) => values(v as tf.Variable);
      const [tsK, tsB, w1, c1, w2K, w2B] = [gen.thetaStarKernel, gen.thetaStarBias, gen.w1, gen.b1, gen.w2Kernel, gen.w2Bias].map(get);
      const w12 = kind === 'dependent' ? get(gen.w12) : undefined;
      const xT = tf.tensor4d(x, [2, H, W, C]);
      const bT = tf.tensor2d(bRows);
      const out = values(gen.applyDirect(xT, bT)); // [2, H, W, A*K]
      const A = bRows.length;
      for (let n = 0; n < 2; n++) {
        // r(x): per-image global average over H, W of the input feature.
        const r = [0, 0];
        for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) r[c] += x[(n * H * W + p) * C + c] / (H * W);
        for (let a = 0; a < A; a++) {
          const h: number[] = [];
          for (let j = 0; j < m; j++) {
            let pre = bRows[a][0] * w1[0 * m + j] + bRows[a][1] * w1[1 * m + j] + c1[j];
            if (w12) for (let c = 0; c < C; c++) pre += r[c] * w12[c * m + j];
            h.push(Math.max(0, pre));
          }
          for (let k = 0; k < K; k++) {
            // theta_b kernel tap (ky, kx, c) for output k; W2 row j laid out as [3, 3, C, K].
            const tap = (ky: number, kx: number, c: number) => {
              const t = ((ky * 3 + kx) * C + c) * K + k;
              let v = tsK[t];
              for (let j = 0; j < m; j++) v += h[j] * w2K[j * 9 * C * K + t];
              return v;
            };
            let bias = tsB[k];
            for (let j = 0; j < m; j++) bias += h[j] * w2B[j * K + k];
            const want = convByHand(x.subarray(n * H * W * C, (n + 1) * H * W * C), H, W, C, tap, bias);
            const got: number[] = [];
            for (let p = 0; p < H * W; p++) got.push(out[(n * H * W + p) * A * K + a * K + k]);
            assertClose(got, want, 1e-5, 1e-5, `n=${n} a=${a} k=${k}`);
          }
        }
      }
      if (kind === 'independent') {
        // generate(b) exposes the same filters: kernel[ky, kx, c, a*K + k], bias[a*K + k].
        const { kernel, bias } = gen.generate(bT);
        assert.deepEqual(kernel.shape, [3, 3, C, A * K]);
        assert.deepEqual(bias.shape, [A * K]);
      }
      tf.dispose([xT, bT]);
      store.dispose();
    });
  }
});

describe("'auto' evaluation: per level the form with fewer multiply-adds, same outputs", () => {
  test('costs by hand; data-dependent: direct on a 6x5 level, basis on a 1x1 level; data-independent: direct', () => {
    // C = 5, K = 3, m = 6, 3x3 kernel: k2C = 45, k2C*K = 135, one anchor's weights A*m*(135 + 3).
    for (const kind of ['independent', 'dependent'] as const) {
      const store = new ParamStore(2);
      const gen = new AnchorFunctionGenerator(store, 'g', {
        inChannels: 5,
        outPerAnchor: 3,
        hiddenM: 6,
        kind,
        hiddenBias: true,
        thetaStarStd: 0.01,
        thetaStarBias: -4.6,
        w2InitStd: 0.05,
      });
      // N = 2 images, 30 cells, A = 2. direct: 2*30*45*2*3 = 16200 conv + generation 2*6*138 = 1656
      // (per image when data-dependent: x2); basis: 2*30*(135*7 + 3*7*2) = 59220.
      const c = gen.evaluationCost(2, 30, 2);
      assert.equal(c.direct, kind === 'dependent' ? 16200 + 2 * 1656 : 16200 + 1656);
      assert.equal(c.basis, 59220);
      const xs = [tf.tensor4d(pseudoRandom(2 * 6 * 5 * 5, 5, 0, 1), [2, 6, 5, 5]), tf.tensor4d(pseudoRandom(2 * 5, 6, 0, 1), [2, 1, 1, 5])];
      // 1x1 level, data-dependent: direct 2*135*2 + 2*1656 = 3852 > basis 2*(945 + 42) = 1974.
      assert.deepEqual(gen.basisLevels(xs, 2), kind === 'dependent' ? [false, true] : [false, false]);
      const b = tf.tensor2d([0.4, -0.2, -1.1, 0.7], [2, 2]);
      const direct = gen.applyLevels(xs, b, 'direct');
      const auto = gen.applyLevels(xs, b, 'auto');
      direct.forEach((d, i) => {
        assert.deepEqual(auto[i].shape, d.shape);
        assertClose(values(auto[i]), values(d), 1e-5, 1e-5, `${kind} level ${i}`);
      });
      tf.dispose([b, ...xs, ...direct, ...auto]);
      store.dispose();
    }
  });
});

describe('basis formulation equals direct generation', () => {
  for (const kind of ['independent', 'dependent'] as const) {
    test(`${kind}: m+1 basis convs mixed by [1, h_b] == one generated conv with A*K outputs`, () => {
      const store = new ParamStore(1);
      const gen = new AnchorFunctionGenerator(store, 'g', {
        inChannels: 5,
        outPerAnchor: 3,
        hiddenM: 6,
        kind,
        hiddenBias: true,
        thetaStarStd: 0.01,
        thetaStarBias: -4.6,
        w2InitStd: 0.05,
      });
      const xs = [tf.tensor4d(pseudoRandom(2 * 6 * 5 * 5, 3, 0, 1), [2, 6, 5, 5]), tf.tensor4d(pseudoRandom(2 * 3 * 3 * 5, 4, 0, 1), [2, 3, 3, 5])];
      for (const A of [1, 7]) {
        const b = tf.tensor2d(pseudoRandom(A * 2, 10 + A, -1.5, 1.5), [A, 2]);
        const direct = gen.applyLevels(xs, b, 'direct');
        const basis = gen.applyLevels(xs, b, 'basis');
        direct.forEach((d, i) => {
          assert.deepEqual(basis[i].shape, d.shape);
          assertClose(values(basis[i]), values(d), 1e-5, 1e-5, `A=${A} level ${i}`);
        });
        // Cached basis responses serve any anchors: the greedy-search use.
        const cache = gen.basis(xs);
        assertClose(values(gen.mix(cache[0], b)), values(direct[0]), 1e-5, 1e-5, `cached A=${A}`);
        tf.dispose([b, ...direct, ...basis, ...cache.map((c) => c.responses), ...cache.map((c) => c.r).filter((r): r is tf.Tensor2D => !!r)]);
      }
      tf.dispose(xs);
      store.dispose();
    });
  }
});

test('with W2 = 0 (the default init) the MetaAnchor detector equals a shared-head RetinaNet with the same theta*', () => {
  const A = 3;
  const meta = buildDetector(tinyConfig({ method: 'metaanchor' }), { seed: 5, ...silent });
  const base = buildDetector(tinyConfig({ method: 'baseline', numAnchors: A }), { seed: 5, ...silent });
  // Same names + same seed => identical backbone, FPN and towers.
  for (const name of meta.store.names().filter((n) => !n.startsWith('head.clsGenerator') && !n.startsWith('head.boxGenerator'))) {
    assert.deepEqual(Array.from(values(meta.store.get(name))), Array.from(values(base.store.get(name))), name);
  }
  // Shared head: every anchor's filters are theta* (tile over anchors: channel a*K + k).
  for (const [gen, conv] of [
    ['clsGenerator', 'clsScore'],
    ['boxGenerator', 'boxDelta'],
  ]) {
    base.store.get(`head.${conv}.weight`).assign(tf.tile(meta.store.get(`head.${gen}.thetaStarKernel`), [1, 1, 1, A]));
    base.store.get(`head.${conv}.bias`).assign(tf.tile(meta.store.get(`head.${gen}.thetaStarBias`), [A]));
  }
  assert.ok(tf.max(tf.abs(meta.store.get('head.clsGenerator.w2Kernel'))).dataSync()[0] === 0);
  const images = tf.tensor4d(pseudoRandom(2 * 40 * 56 * 3, 7, 0, 255), [2, 40, 56, 3]);
  const b = tf.tensor2d([
    [0.4, -0.2],
    [-1, 1],
    [0.1, 0.3],
  ]);
  const m = meta.forward(images, b);
  const r = base.forward(images);
  assertClose(values(m.clsLogits), values(r.clsLogits), 1e-5, 1e-5, 'cls');
  assertClose(values(m.boxDeltas), values(r.boxDeltas), 1e-5, 1e-5, 'box');
  // ... and logits start at the focal-loss prior, as in RetinaNet.
  const mean = tf.mean(m.clsLogits).dataSync()[0];
  assert.ok(Math.abs(mean - Math.log(0.01 / 0.99)) < 0.05, `mean logit ${mean}`);
  tf.dispose([images, b, m.clsLogits, m.boxDeltas, r.clsLogits, r.boxDeltas]);
  meta.dispose();
  base.dispose();
});

describe('gradients reach theta*, W1, c1, W2 (and W12) and match central finite differences', () => {
  for (const kind of ['independent', 'dependent'] as const) {
    test(kind, () => {
      const store = new ParamStore(2);
      const gen = new AnchorFunctionGenerator(store, 'g', {
        inChannels: 3,
        outPerAnchor: 2,
        hiddenM: 3,
        kind,
        hiddenBias: true,
        thetaStarStd: 0.01,
        thetaStarBias: 0,
        w2InitStd: 0,
      });
      setAll(gen, 200, 0.5);
      const xs = [tf.tensor4d(pseudoRandom(2 * 5 * 4 * 3, 20, 0, 1), [2, 5, 4, 3]), tf.tensor4d(pseudoRandom(2 * 2 * 3 * 3, 21, 0, 1), [2, 2, 3, 3])];
      const b = tf.tensor2d([
        [0.5, -0.7],
        [-0.4, 0.9],
        [1.1, 0.2],
      ]);
      const R = [tf.tensor4d(pseudoRandom(2 * 5 * 4 * 6, 22), [2, 5, 4, 6]), tf.tensor4d(pseudoRandom(2 * 2 * 3 * 6, 23), [2, 2, 3, 6])];
      const loss = () => tf.tidy(() => tf.addN(gen.applyLevels(xs, b, 'direct').map((o, i) => tf.sum(tf.mul(o, R[i])))) as tf.Scalar);
      const named: Record<string, tf.Variable> = {
        thetaStarKernel: gen.thetaStarKernel,
        thetaStarBias: gen.thetaStarBias,
        w1: gen.w1,
        b1: gen.b1!,
        w2Kernel: gen.w2Kernel,
        w2Bias: gen.w2Bias,
      };
      if (kind === 'dependent') named.w12 = gen.w12!;
      const { value, grads } = tf.variableGrads(loss, Object.values(named));
      value.dispose();
      for (const [name, v] of Object.entries(named)) {
        const g = values(grads[v.name]);
        const maxG = Math.max(...Array.from(g, Math.abs));
        assert.ok(maxG > 1e-4, `${name}: gradient is zero`);
        // Three entries per variable, including the largest-gradient one.
        const idx = [0, g.length - 1, Array.from(g, Math.abs).indexOf(maxG)];
        const eps = 1e-2;
        for (const i of idx) {
          const base = values(v).slice();
          const at = (delta: number) => {
            const p = base.slice();
            p[i] += delta;
            v.assign(tf.tensor(p, v.shape));
            const l = loss();
            const out = l.dataSync()[0];
            l.dispose();
            return out;
          };
          const fd = (at(eps) - at(-eps)) / (2 * eps);
          v.assign(tf.tensor(base, v.shape));
          assert.ok(Math.abs(fd - g[i]) <= 2e-3 + 2e-2 * Math.abs(g[i]), `${name}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
        }
      }
      tf.dispose(grads);
      tf.dispose([...xs, b, ...R]);
      store.dispose();
    });
  }

  test('with W2 = 0, W1 and c1 get exactly zero gradient while W2 and theta* learn (step 0 of training)', () => {
    const store = new ParamStore(3);
    const gen = new AnchorFunctionGenerator(store, 'g', {
      inChannels: 3,
      outPerAnchor: 2,
      hiddenM: 3,
      kind: 'independent',
      hiddenBias: true,
      thetaStarStd: 0.01,
      thetaStarBias: 0,
      w2InitStd: 0,
    });
    const x = tf.tensor4d(pseudoRandom(1 * 4 * 4 * 3, 30, 0, 1), [1, 4, 4, 3]);
    const b = tf.tensor2d([
      [0.5, -0.7],
      [-0.4, 0.9],
    ]);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(gen.applyDirect(x, b))) as tf.Scalar,
      [gen.w1, gen.b1!, gen.w2Kernel, gen.thetaStarKernel],
    );
    const maxAbs = (v: tf.Variable) => tf.max(tf.abs(grads[v.name])).dataSync()[0];
    assert.equal(maxAbs(gen.w1), 0);
    assert.equal(maxAbs(gen.b1!), 0);
    assert.ok(maxAbs(gen.w2Kernel) > 0);
    assert.ok(maxAbs(gen.thetaStarKernel) > 0);
    tf.dispose([value, x, b]);
    tf.dispose(grads);
    store.dispose();
  });
});

test('MetaAnchor without anchor boxes, or with b of the wrong shape, is a UserError', () => {
  const det = buildDetector(tinyConfig({ method: 'metaanchor' }), silent);
  const images = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
  assert.throws(
    () => det.forward(images),
    (e: unknown) => e instanceof UserError && /needs the anchor boxes b/.test(e.message),
  );
  const bad = tf.zeros([4, 3]) as tf.Tensor2D;
  assert.throws(
    () => det.forward(images, bad),
    (e: unknown) => e instanceof UserError && /\[A, 2\]/.test(e.message),
  );
  const base = buildDetector(tinyConfig({ method: 'baseline', numAnchors: 2 }), silent);
  const b3 = tf.zeros([3, 2]) as tf.Tensor2D;
  assert.throws(
    () => base.forward(images, b3),
    (e: unknown) => e instanceof UserError && /built for 2 anchors/.test(e.message),
  );
  tf.dispose([images, bad, b3]);
  det.dispose();
  base.dispose();
});

test('benchAnchorFunctionModes reports direct, basis and mix-only timings with equal outputs', () => {
  const rows = benchAnchorFunctionModes({
    channels: 4,
    numClasses: 2,
    hiddenM: 3,
    kind: 'dependent',
    imageSizePx: 64,
    batch: 1,
    anchorCounts: [2, 5],
    repeats: 1,
  });
  assert.deepEqual(
    rows.map((r) => r.anchors),
    [2, 5],
  );
  for (const r of rows) {
    assert.ok(r.directMs > 0 && r.basisMs > 0 && r.mixOnlyMs > 0);
    assert.ok(r.maxAbsDiff < 1e-4, `max |direct - basis| ${r.maxAbsDiff}`);
  }
});
