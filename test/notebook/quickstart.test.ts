import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { makeBoxBatch, predictHeldOut, quickstartSummary, renderPredictions, trainTinyConvNet } from '../../lib/notebook/quickstart';
import { PALETTE } from '../../lib/data/draw';
import { makeRng } from '../../lib/util/seed';
import { UserError } from '../../lib/util/errors';

test('makeBoxBatch: deterministic, boxes inside the image, rectangle bright and background dark', () => {
  const a = makeBoxBatch(makeRng(5), 8, 24);
  const b = makeBoxBatch(makeRng(5), 8, 24);
  assert.deepEqual(a.boxesPx, b.boxesPx);
  assert.deepEqual(a.images, b.images);
  assert.equal(a.images.length, 8 * 24 * 24);
  for (let i = 0; i < 8; i++) {
    const [x1, y1, x2, y2] = a.boxesPx.subarray(4 * i, 4 * i + 4);
    assert.ok(x1 >= 0 && y1 >= 0 && x2 <= 24 && y2 <= 24, `box ${i} inside`);
    assert.ok(x2 - x1 >= 4 && x2 - x1 <= 12 && y2 - y1 >= 4 && y2 - y1 <= 12, `box ${i} side 4..12`);
    let inSum = 0;
    let inN = 0;
    let outSum = 0;
    let outN = 0;
    for (let y = 0; y < 24; y++) {
      for (let x = 0; x < 24; x++) {
        const v = a.images[i * 576 + y * 24 + x];
        if (x >= x1 && x < x2 && y >= y1 && y < y2) ((inSum += v), inN++);
        else ((outSum += v), outN++);
      }
    }
    // Rectangle level 0.7..1.0, background 0.1, noise sigma 0.1.
    assert.ok(inSum / inN > 0.6 && inSum / inN < 1.1, `inside mean ${inSum / inN}`);
    assert.ok(Math.abs(outSum / outN - 0.1) < 0.03, `outside mean ${outSum / outN}`);
  }
});

test('trainTinyConvNet on cpu: pinned first loss, loss falls, no tensor leak', async () => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const run = await trainTinyConvNet({ steps: 15, seed: 0, onStep: (s) => void seen.push(s.step) });
  assert.deepEqual(
    seen,
    Array.from({ length: 15 }, (_, i) => i + 1),
  );
  assert.equal(run.backend, 'cpu');
  assert.equal(run.paramCount, 8 * 9 + 8 + 8 * 8 * 9 + 8 + 6 * 6 * 8 * 4 + 4);
  // Seed 0: the initial weights and the first batch are fixed, so is the first loss (measured).
  assert.ok(Math.abs(run.losses[0].loss - 0.0761357) < 1e-5, `first loss ${run.losses[0].loss}`);
  const last5 = run.losses.slice(-5).reduce((s, p) => s + p.loss, 0) / 5;
  assert.ok(last5 < 0.5 * run.losses[0].loss, `mean of last 5 losses ${last5} vs first ${run.losses[0].loss}`);
  // Only the model's weights stay: 3 kernels + 3 biases.
  assert.equal(tf.memory().numTensors - before, 6);
  const pred = predictHeldOut(run, 8);
  assert.equal(pred.predictedPx.length, 32);
  assert.ok(pred.iou.every((v) => v >= 0 && v <= 1));
  assert.equal(tf.memory().numTensors - before, 6);

  const df = quickstartSummary(run, 8);
  assert.deepEqual(df.columns, ['backend', 'steps', 'batch', 'params', 'ms_per_step', 'first_loss', 'last_loss', 'heldout_mean_iou']);
  const row = (df.values as unknown[][])[0];
  assert.deepEqual(row.slice(0, 4), ['cpu', 15, 16, run.paramCount]);
  assert.ok(Math.abs((row[7] as number) - pred.iou.reduce((a, b) => a + b, 0) / 8) < 1e-6);

  // 3 tiles of 24 px x 8, 6 px apart; the ground-truth box of tile 0 is drawn in palette green.
  const png = await renderPredictions(run, { count: 3, scale: 8 });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [3 * 192 + 2 * 6, 192]);
  const [x1, , x2, y2] = pred.batch.boxesPx.subarray(0, 4); // same held-out stream: first image matches
  const px = Math.round(((x1 + x2) / 2) * 8);
  const py = Math.min(191, Math.round(y2 * 8)); // on the bottom edge (the stroke straddles it)
  const at = (py * info.width + px) * info.channels;
  const green = PALETTE[4];
  const rgb = [1, 3, 5].map((k) => parseInt(green.slice(k, k + 2), 16));
  assert.deepEqual([data[at], data[at + 1], data[at + 2]], rgb, `pixel at (${px}, ${py})`);
  run.model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('trainTinyConvNet rejects bad settings with a UserError', async () => {
  await assert.rejects(trainTinyConvNet({ steps: 0 }), UserError);
  await assert.rejects(trainTinyConvNet({ steps: 2, imageSizePx: 4 }), UserError);
});
