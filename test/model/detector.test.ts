/**
 * Detector assembly: output shapes and anchor counts per level for several image sizes (cross-checked
 * with lib/anchors' grid), the anchor order of docs/CONTRACT.md, ResNet backbones, and the parameter
 * counts of the presets against the architecture written out as arithmetic.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { buildDetector, levelShapes } from '../../lib/model/detector';
import { ModelConfig, modelConfig } from '../../lib/model/config';
import { featureLevels, levelStarts } from '../../lib/anchors/grid';
import { UserError } from '../../lib/util/errors';
import { pseudoRandom, silent, tinyConfig, useCpu, values } from './helpers';

before(useCpu);

describe('output shapes and anchors per level', () => {
  const sizes: [number, number][] = [
    [64, 64],
    [100, 76],
    [33, 47],
    [130, 20],
  ];
  for (const method of ['baseline', 'metaanchor'] as const) {
    test(method, () => {
      const det = buildDetector(tinyConfig({ method, numAnchors: 2 }), silent);
      const A = method === 'baseline' ? 2 : 5;
      const b = method === 'metaanchor' ? tf.tensor2d(pseudoRandom(A * 2, 1), [A, 2]) : undefined;
      for (const [h, w] of sizes) {
        const images = tf.tensor4d(pseudoRandom(2 * h * w * 3, h + w, 0, 255), [2, h, w, 3]);
        const out = det.forward(images, b);
        const want = featureLevels(h, w);
        assert.deepEqual(
          out.levels.map((l) => [l.level, l.stride, l.heightCells, l.widthCells]),
          want.map((l) => [l.level, l.stride, l.heightCells, l.widthCells]),
          `${h}x${w}`,
        );
        assert.deepEqual(levelShapes(h, w), out.levels);
        const total = levelStarts(want, A)[5];
        assert.equal(out.anchorsPerCell, A);
        assert.deepEqual(out.clsLogits.shape, [2, total, 3]);
        assert.deepEqual(out.boxDeltas.shape, [2, total, 4]);
        tf.dispose([images, out.clsLogits, out.boxDeltas]);
      }
      // 100x76: P3 13x10, P4 7x5, P5 4x3, P6 2x2, P7 1x1 -> 182 cells.
      assert.equal(
        levelShapes(100, 76).reduce((s, l) => s + l.heightCells * l.widthCells, 0),
        130 + 35 + 12 + 4 + 1,
      );
      b?.dispose();
      det.dispose();
    });
  }
});

test('anchor order is level-major, then y, then x, then anchor a; classes last (docs/CONTRACT.md)', () => {
  const K = 3;
  const A = 2;
  const det = buildDetector(tinyConfig({ method: 'baseline', numAnchors: A, numClasses: K }), silent);
  // An anchor function that copies channel 0 of its input (centre tap) and adds 0.1 a + 0.01 k.
  const C = det.towers.outChannels;
  const kernel = new Float32Array(9 * C * A * K);
  for (let o = 0; o < A * K; o++) kernel[(4 * C + 0) * A * K + o] = 1;
  const bias = new Float32Array(A * K);
  for (let a = 0; a < A; a++) for (let k = 0; k < K; k++) bias[a * K + k] = 0.1 * a + 0.01 * k;
  det.store.get('head.clsScore.weight').assign(tf.tensor4d(kernel, [3, 3, C, A * K]));
  det.store.get('head.clsScore.bias').assign(tf.tensor1d(bias));
  const levels = levelShapes(70, 45);
  // Feature channel 0 encodes (level, y, x).
  const code = (l: number, y: number, x: number) => 1000 * l + 30 * y + x;
  const feats = levels.map((lv, l) => {
    const data = new Float32Array(lv.heightCells * lv.widthCells * C);
    for (let y = 0; y < lv.heightCells; y++) for (let x = 0; x < lv.widthCells; x++) data[(y * lv.widthCells + x) * C] = code(l, y, x);
    return tf.tensor4d(data, [1, lv.heightCells, lv.widthCells, C]);
  });
  const out = det.predict({ cls: feats, box: feats }, levels);
  const logits = values(out.clsLogits);
  let i = 0;
  levels.forEach((lv, l) => {
    for (let y = 0; y < lv.heightCells; y++)
      for (let x = 0; x < lv.widthCells; x++)
        for (let a = 0; a < A; a++, i++)
          for (let k = 0; k < K; k++) {
            const want = code(l, y, x) + 0.1 * a + 0.01 * k;
            assert.ok(Math.abs(logits[i * K + k] - want) < 2e-3, `anchor ${i} (l${l} y${y} x${x} a${a}) k${k}: ${logits[i * K + k]} vs ${want}`);
          }
  });
  assert.equal(i, out.clsLogits.shape[1]);
  tf.dispose([...feats, out.clsLogits, out.boxDeltas]);
  det.dispose();
});

test('ResNet-18 and ResNet-50 backbones: C3..C5 channels, strides, detector outputs', () => {
  for (const [backbone, ch] of [
    ['resnet18', [128, 256, 512]],
    ['resnet50', [512, 1024, 2048]],
  ] as const) {
    const det = buildDetector(tinyConfig({ backbone, gnGroups: 8, fpnChannels: 8 }), silent);
    assert.deepEqual(det.backbone.outChannels, ch);
    const x = tf.tensor4d(pseudoRandom(1 * 34 * 48 * 3, 9, -1, 1), [1, 34, 48, 3]);
    const c = det.backbone.forward(x);
    assert.deepEqual(
      [c.c3.shape, c.c4.shape, c.c5.shape],
      [
        [1, 5, 6, ch[0]],
        [1, 3, 3, ch[1]],
        [1, 2, 2, ch[2]],
      ],
    );
    // Random-init ResNets use trainable GroupNorm; nothing frozen without ImageNet weights.
    assert.equal(det.parameterCounts().trainable, det.parameterCounts().total);
    assert.ok(det.store.has('backbone.layer1.0.gn1.weight'));
    if (backbone === 'resnet18') {
      const b = tf.tensor2d([[0, 0]]);
      const out = det.forward(tf.mul(tf.add(x, 1), 127) as tf.Tensor4D, b);
      assert.deepEqual(out.clsLogits.shape, [1, levelStarts(featureLevels(34, 48), 1)[5], 3]);
      tf.dispose([b, out.clsLogits, out.boxDeltas]);
    }
    tf.dispose([x, c.c3, c.c4, c.c5]);
    det.dispose();
  }
});

/** Parameter count of a config, written out from the architecture. */
function expectedCount(cfg: ModelConfig): { backbone: number; fpn: number; head: number } {
  const conv = (i: number, o: number, k = 3, bias = true) => k * k * i * o + (bias ? o : 0);
  let backbone: number;
  let cOut: [number, number, number];
  if (cfg.backbone === 'small') {
    const [w0, w1, w2, w3, w4] = cfg.smallWidths;
    const gn = (c: number) => 2 * c;
    backbone =
      conv(3, w0, 3, false) +
      conv(w0, w1, 3, false) +
      conv(w1, w2, 3, false) +
      conv(w2, w2, 3, false) +
      conv(w2, w3, 3, false) +
      conv(w3, w3, 3, false) +
      conv(w3, w4, 3, false) +
      conv(w4, w4, 3, false);
    backbone += gn(w0) + gn(w1) + 2 * gn(w2) + 2 * gn(w3) + 2 * gn(w4);
    cOut = [w2, w3, w4];
  } else {
    backbone = 23_508_032; // torchvision resnet50 state_dict minus fc, BN affine counted (GN has the same 2 per channel)
    cOut = [512, 1024, 2048];
  }
  const F = cfg.fpnChannels;
  const fpn = cOut.reduce((s, c) => s + conv(c, F, 1), 0) + 3 * conv(F, F) + conv(cfg.p6From === 'c5' ? cOut[2] : F, F) + conv(F, F);
  const T = cfg.towerWidth;
  const d = cfg.towerDepth;
  let head = 2 * (d > 0 ? conv(F, T) + (d - 1) * conv(T, T) : 0);
  if (cfg.towerNorm === 'gn') head += 2 * d * 2 * T; // gamma and beta after every tower conv
  const K = cfg.numClasses;
  if (cfg.method === 'baseline') head += conv(T, cfg.numAnchors * K) + conv(T, cfg.numAnchors * 4);
  else {
    const m = cfg.hiddenM;
    const gen = (o: number) => conv(T, o) + 2 * m + (cfg.hiddenBias ? m : 0) + m * (9 * T * o + o) + (cfg.generator === 'dependent' ? T * m : 0);
    head += gen(K) + gen(4);
  }
  return { backbone, fpn, head };
}

test('preset parameter counts equal the architecture arithmetic', () => {
  const seen: string[] = [];
  for (const preset of ['smoke', 'quick', 'full'] as const) {
    for (const method of ['baseline', 'metaanchor'] as const) {
      const cfg = modelConfig(preset, { method, numClasses: 10 });
      const det = buildDetector(cfg, silent);
      const c = det.parameterCounts();
      const e = expectedCount(cfg);
      assert.deepEqual({ backbone: c.backbone, fpn: c.fpn, head: c.head }, e, `${preset} ${method}`);
      assert.equal(c.total, e.backbone + e.fpn + e.head);
      seen.push(`${preset}/${method}=${c.total}`);
      det.dispose();
    }
  }
  for (const towerNorm of ['none', 'gn'] as const) {
    const cfg = modelConfig('smoke', { method: 'metaanchor', numClasses: 4, towerNorm });
    const det = buildDetector(cfg, silent);
    assert.equal(det.parameterCounts().head, expectedCount(cfg).head, `towerNorm ${towerNorm}`);
    assert.equal(det.store.names().filter((n) => /Tower\.\d+\.gn\.(weight|bias)$/.test(n)).length, towerNorm === 'gn' ? 4 * cfg.towerDepth : 0);
    det.dispose();
  }
  // The CPU presets' sizes promised in lib/model/config.ts.
  const quick = expectedCount(modelConfig('quick', { method: 'baseline', numClasses: 10 }));
  const full = expectedCount(modelConfig('full', { method: 'baseline', numClasses: 10 }));
  assert.ok(Math.abs(quick.backbone + quick.fpn + quick.head - 0.25e6) < 0.02e6, seen.join(' '));
  assert.ok(Math.abs(full.backbone + full.fpn + full.head - 0.95e6) < 0.1e6, seen.join(' '));
  // The paper's RetinaNet (ResNet-50-FPN, 4x256, 9 anchors, 80 classes) by the same arithmetic: 37.97 M.
  const paper = expectedCount(modelConfig('paper', { method: 'baseline' }));
  assert.equal(paper.backbone + paper.fpn + paper.head, 37_968_692);
});

test('bad configs and inputs are UserErrors that name the field', () => {
  assert.throws(
    () => modelConfig('tiny'),
    (e: unknown) => e instanceof UserError && /unknown model preset "tiny"/.test(e.message),
  );
  assert.throws(
    () => modelConfig('quick', { fpnChannels: 0 }),
    (e: unknown) => e instanceof UserError && /fpnChannels = 0/.test(e.message),
  );
  assert.throws(
    () => modelConfig('quick', { backboneWeights: '/x' }),
    (e: unknown) => e instanceof UserError && /resnet18 \/ resnet50/.test(e.hint ?? ''),
  );
  assert.throws(
    () => modelConfig('quick', { towerDept: 2 } as unknown as Partial<ModelConfig>),
    (e: unknown) => e instanceof UserError && /towerDept/.test(e.message),
  );
  assert.throws(
    () => modelConfig('quick', { smallWidths: [16, 20, 48, 64, 96] }),
    (e: unknown) => e instanceof UserError && /20 is not/.test(e.hint ?? ''),
  );
  assert.throws(
    () => modelConfig('quick', { towerNorm: 'bn' } as unknown as Partial<ModelConfig>),
    (e: unknown) => e instanceof UserError && /towerNorm = "bn"/.test(e.message),
  );
  assert.throws(
    () => modelConfig('quick', { freezeAt: 2 }),
    (e: unknown) => e instanceof UserError && /freezeAt = 2/.test(e.message),
  );
  assert.throws(
    () => modelConfig('paper', { backboneWeights: '/x', backboneNorm: 'gn' }),
    (e: unknown) => e instanceof UserError && /frozen-bn/.test(e.hint ?? ''),
  );
  const det = buildDetector(tinyConfig({ method: 'baseline' }), silent);
  const gray = tf.zeros([1, 32, 32, 1]) as tf.Tensor4D;
  assert.throws(
    () => det.forward(gray),
    (e: unknown) => e instanceof UserError && /\[N, H, W, 3\]/.test(e.message),
  );
  gray.dispose();
  det.dispose();
});
