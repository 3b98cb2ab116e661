import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { archAnchorsPerImage, archConvCount, archForward, archParamCount, ArchSpec, detectorArch, referenceNetArch, validateArch } from '../../lib/bench/arch';
import { buildDetector, modelConfig } from '../../lib/model';
import { UserError } from '../../lib/util/errors';

test('reference net: 19 convs, 843,126 parameters, RetinaNet anchor counts', () => {
  const spec = referenceNetArch();
  assert.equal(archConvCount(spec), 19);
  const conv = (k: number, i: number, o: number, bias: boolean): number => k * k * i * o + (bias ? o : 0);
  const gn = (c: number): number => 2 * c;
  const expected =
    conv(3, 3, 32, false) +
    gn(32) + // stem
    2 * (conv(3, 32, 32, false) + gn(32)) + // residual block
    conv(3, 32, 64, false) +
    gn(64) +
    conv(3, 64, 64, false) +
    gn(64) + // C3
    conv(3, 64, 128, false) +
    gn(128) + // C4
    conv(3, 128, 216, true) + // C5
    conv(1, 216, 64, true) +
    conv(1, 128, 64, true) +
    conv(1, 64, 64, true) + // laterals
    3 * conv(3, 64, 64, true) +
    conv(3, 216, 64, true) +
    conv(3, 64, 64, true) + // outputs, P6, P7
    2 * conv(3, 64, 64, true) +
    conv(3, 64, 90, true) +
    conv(3, 64, 36, true); // head
  assert.equal(expected, 843126);
  assert.equal(archParamCount(spec), expected);
  // P3..P7 of 160 px: 20, 10, 5, 3, 2 cells a side, 9 anchors each.
  assert.equal(archAnchorsPerImage(spec, 160), (400 + 100 + 25 + 9 + 4) * 9);
  assert.equal(archAnchorsPerImage(spec, 320), (1600 + 400 + 100 + 25 + 9) * 9);
});

test('validateArch rejects channel mismatches and unused parameters', () => {
  const spec = referenceNetArch();
  const bad: ArchSpec = { ...spec, params: spec.params.map((p) => (p.name === 'c4.conv' && p.kind === 'conv' ? { ...p, inChannels: 63 } : p)) };
  assert.throws(() => validateArch(bad), /c4\.conv expects 63 channels/);
  const extra: ArchSpec = { ...spec, params: [...spec.params, { kind: 'conv', name: 'spare', kernel: 1, inChannels: 3, outChannels: 3, bias: false }] };
  assert.throws(() => validateArch(extra), /never used: spare/);
});

test('the exported detector layer list reproduces Detector.forward with the same weights', async () => {
  await tf.setBackend('cpu');
  const det = buildDetector(modelConfig('smoke', { method: 'baseline', numClasses: 3, numAnchors: 2 }), { log: () => undefined, seed: 5 });
  try {
    const spec = detectorArch(det);
    assert.equal(archParamCount(spec), det.store.count());
    // 5 backbone stages (1+1+2+2+2 convs), 8 FPN convs, 1-deep towers x 2, 2 anchor-function convs.
    assert.equal(archConvCount(spec), 8 + 8 + 2 + 2);
    const x = tf.randomUniform([2, 40, 48, 3], 0, 255, 'float32', 3) as tf.Tensor4D;
    const a = det.forward(x);
    const b = archForward(spec, det.store, x);
    assert.deepEqual(b.clsLogits.shape, a.clsLogits.shape);
    assert.deepEqual(b.boxDeltas.shape, a.boxDeltas.shape);
    const d = Math.max(tf.max(tf.abs(tf.sub(a.clsLogits, b.clsLogits))).dataSync()[0], tf.max(tf.abs(tf.sub(a.boxDeltas, b.boxDeltas))).dataSync()[0]);
    assert.ok(d < 1e-5, `max difference ${d}`);
    tf.dispose([x, a.clsLogits, a.boxDeltas, b.clsLogits, b.boxDeltas]);
  } finally {
    det.dispose();
  }
});

test('the quick detector (GroupNorm towers) exports too, and its layer list reproduces Detector.forward', async () => {
  await tf.setBackend('cpu');
  const det = buildDetector(modelConfig('quick', { method: 'baseline', numClasses: 3, numAnchors: 2 }), { log: () => undefined, seed: 5 });
  try {
    assert.equal(det.config.towerNorm, 'gn');
    const spec = detectorArch(det);
    assert.equal(archParamCount(spec), det.store.count());
    const x = tf.randomUniform([1, 32, 32, 3], 0, 255, 'float32', 3) as tf.Tensor4D;
    const a = det.forward(x);
    const b = archForward(spec, det.store, x);
    const d = Math.max(tf.max(tf.abs(tf.sub(a.clsLogits, b.clsLogits))).dataSync()[0], tf.max(tf.abs(tf.sub(a.boxDeltas, b.boxDeltas))).dataSync()[0]);
    assert.ok(d < 1e-4, `max difference ${d}`);
    tf.dispose([x, a.clsLogits, a.boxDeltas, b.clsLogits, b.boxDeltas]);
  } finally {
    det.dispose();
  }
});

test('detector export refuses MetaAnchor heads with a UserError', () => {
  const det = buildDetector(modelConfig('smoke', { method: 'metaanchor', numClasses: 3 }), { log: () => undefined });
  try {
    assert.throws(
      () => detectorArch(det),
      (e: unknown) => e instanceof UserError && /baseline detectors with the small backbone/.test(e.message),
    );
  } finally {
    det.dispose();
  }
});
