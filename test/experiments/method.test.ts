/** The method on a live generator (lib/experiments/method.ts, notebook 01_method). */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { anchorLevelsFigure, basisVsDirect, bRows, dataDependentThetaDiff, jitterFigure, smallGenerator, thetaRows } from '../../lib/experiments/method';
import { shapesB } from '../../lib/anchors/metaanchor';
import { tableOneShapes } from '../../lib/anchors/presets';

const STD = { heightPx: 33.4, widthPx: 37.5 };
const TWO = [
  { scale: 1, ratioHW: 1 / 2 },
  { scale: 1, ratioHW: 2 },
];

before(async () => {
  await tf.setBackend('cpu');
});

test('Eq. 7: one anchor has the same b at every level', () => {
  const rows = bRows(TWO, STD, [3, 4, 5]);
  assert.equal(rows.length, 6);
  for (const k of [0, 3]) {
    assert.ok(Math.abs((rows[k].bh as number) - (rows[k + 2].bh as number)) < 1e-12);
    assert.ok(Math.abs((rows[k].bw as number) - (rows[k + 1].bw as number)) < 1e-12);
  }
  assert.equal(rows[0]['anchor h x w (px)'], '22.6 x 45.3');
  assert.equal(rows[1]['anchor h x w (px)'], '45.3 x 90.5');
});

test('Eq. 4: two anchors get different weights; W2 = 0 gives every anchor theta* (RetinaNet, one shared function)', () => {
  const before = tf.memory().numTensors;
  const live = smallGenerator('independent');
  const rows = thetaRows(live.generator, TWO, STD);
  const between = Object.keys(rows[1]).find((k) => k.startsWith('|θ_b − θ_b('))!;
  assert.ok((rows[0]['|θ_b − θ*|'] as number) > 0.01 && (rows[1][between] as number) > 0.01, JSON.stringify(rows));
  live.dispose();
  const zero = smallGenerator('independent', { w2InitStd: 0 });
  const shared = thetaRows(zero.generator, TWO, STD);
  assert.deepEqual(
    shared.map((r) => [r['|θ_b − θ*|'], r[between]]),
    [
      [0, 0],
      [0, 0],
    ],
  );
  zero.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('basis = direct, and the data-dependent generator (Eq. 6) gives one anchor different weights on different inputs', () => {
  const b = shapesB(tableOneShapes('3x3'), STD);
  for (const kind of ['independent', 'dependent'] as const) {
    const live = smallGenerator(kind);
    const { maxAbsDiff, maxAbs } = basisVsDirect(live.generator, b);
    assert.ok(maxAbs > 0.01 && maxAbsDiff < 1e-5 * Math.max(1, maxAbs), `${kind}: ${maxAbsDiff} of ${maxAbs}`);
    if (kind === 'dependent') assert.ok(dataDependentThetaDiff(live.generator, b).every((d) => d > 1e-3));
    live.dispose();
  }
});

test('figures: one legend entry per level; the jitter stays within ±0.5 of b', () => {
  const levels = anchorLevelsFigure({ name: '3x3', shapes: tableOneShapes('3x3'), standardBoxP3: STD });
  assert.equal(levels.data.length, 5 * 9);
  assert.deepEqual(
    levels.data.filter((t) => t.showlegend).map((t) => t.name),
    ['P3 (stride 8)', 'P4 (stride 16)', 'P5 (stride 32)', 'P6 (stride 64)', 'P7 (stride 128)'],
  );
  const fig = jitterFigure(TWO[0], STD, 30);
  const [b] = [shapesB([TWO[0]], STD)];
  const xs = fig.data[0].x as number[];
  const ys = fig.data[0].y as number[];
  assert.equal(xs.length, 30);
  assert.ok(xs.every((v) => Math.abs(v - b[1]) <= 0.5) && ys.every((v) => Math.abs(v - b[0]) <= 0.5));
  assert.ok(
    xs.some((v) => Math.abs(v - b[1]) > 0.2),
    'the jitter spreads',
  );
});
