import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { configB, encodeBCells, parseAnchorSpec, YOLOV2_COCO_ANCHORS_CELLS, YOLOV2_STANDARD_BOX_CELLS } from '../../../lib/anchors';
import { modelConfig } from '../../../lib/model/config';
import {
  YOLOV2_REGION,
  anchorCellsFromB,
  anchorCellsOf,
  MetaAnchorRegionFunction,
  buildYoloDetector,
  regionLoss,
  regionTargets,
  maxPool2x2,
  reorg2,
  yoloSearchCandidateShapes,
} from '../../../lib/model/yolo';
import { assertClose, maxRelDiff, pseudoRandom, silent, useCpu } from '../helpers';
import { registerWasmTrainingKernels } from '../../../lib/backend/wasm-kernels';

function tinyYolo(method: 'baseline' | 'metaanchor', generator: 'independent' | 'dependent' = 'independent') {
  return modelConfig('smoke', {
    detector: 'yolov2',
    numClasses: 3,
    numAnchors: 2,
    method,
    generator,
    hiddenM: 4,
    gnGroups: 2,
    yolo: { widths: [2, 4, 4, 4, 4, 6], depths: [1, 1, 1, 1, 3, 1], headWidth: 6, headConvsBefore: 1, passthroughWidth: 2, leakySlope: 0.1 },
  });
}

test("yolov2 anchor spec: darknet's COCO anchors in cells, Eq. 7 with the (4.18, 4.69) standard box", () => {
  const cfg = parseAnchorSpec('yolov2');
  assert.equal(cfg.shapes.length, 5);
  const cells = anchorCellsOf(cfg);
  YOLOV2_COCO_ANCHORS_CELLS.forEach((a, i) => {
    assert.ok(Math.abs(cells[2 * i] - a.widthCells) < 1e-6 && Math.abs(cells[2 * i + 1] - a.heightCells) < 1e-6, `anchor ${i}`);
  });
  const b = configB(cfg);
  YOLOV2_COCO_ANCHORS_CELLS.forEach((a, i) => {
    const [bh, bw] = encodeBCells(a.heightCells, a.widthCells, YOLOV2_STANDARD_BOX_CELLS);
    assert.ok(Math.abs(b[2 * i] - bh) < 1e-6 && Math.abs(b[2 * i + 1] - bw) < 1e-6, `b of anchor ${i}`);
  });
  assertClose(anchorCellsFromB(b, cfg.standardBoxP3), cells, 1e-5, 0, 'cells from b');
  // The search grid: 20 scales x 23 ratios around the standard box, 0.63 .. 8.9 cells.
  const grid = yoloSearchCandidateShapes();
  assert.equal(grid.length, 460);
  const sides = anchorCellsOf({ shapes: grid });
  const sqrtWH = Array.from({ length: 460 }, (_, i) => Math.sqrt(sides[2 * i] * sides[2 * i + 1]));
  const side = Math.sqrt(4.18 * 4.69);
  assert.ok(Math.abs(Math.min(...sqrtWH) - side * Math.pow(2, -14 / 5)) < 1e-5 && Math.abs(Math.max(...sqrtWH) - side * 2) < 1e-5);
});

test('reorg2 is space-to-depth by 2 with channel (dy * 2 + dx) * C + c', async () => {
  await useCpu();
  // x[n, y, x, c] = 1000 n + 100 y + 10 x + c.
  const vals: number[] = [];
  for (let n = 0; n < 2; n++) for (let y = 0; y < 4; y++) for (let x = 0; x < 2; x++) for (let c = 0; c < 3; c++) vals.push(1000 * n + 100 * y + 10 * x + c);
  const out = reorg2(tf.tensor4d(vals, [2, 4, 2, 3]));
  assert.deepEqual(out.shape, [2, 2, 1, 12]);
  const d = out.arraySync() as number[][][][];
  for (let n = 0; n < 2; n++) {
    for (let Y = 0; Y < 2; Y++) {
      const want: number[] = [];
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) for (let c = 0; c < 3; c++) want.push(1000 * n + 100 * (2 * Y + dy) + 10 * dx + c);
      assert.deepEqual(d[n][Y][0], want);
    }
  }
  out.dispose();
});

test('maxPool2x2: the exact gradient on cpu and wasm, tied maxima share it', async () => {
  require('@tensorflow/tfjs-backend-wasm');
  // One image, 2x4, 2 channels; window 1 of channel 0 has a tie (-1, -1), window 2 of channel 1 a triple tie.
  const xv = [
    [
      [-3, 5],
      [-1, 2],
      [0.5, 7],
      [0.25, 7],
    ],
    [
      [-1, 1],
      [-2, 0],
      [0.1, 7],
      [0.4, -9],
    ],
  ].flat(2);
  // dy for windows (0, 0) and (0, 1): channel 0: 2, 3; channel 1: 5, 6.
  const want = [
    [
      [0, 5],
      [1, 0],
      [3, 2],
      [0, 2],
    ],
    [
      [1, 0],
      [0, 0],
      [0, 2],
      [0, 0],
    ],
  ].flat(2);
  // window (0,0) ch0: max -1 at (0,1) and (1,0) -> 1 each; ch1: max 5 at (0,0) -> 5.
  // window (0,1) ch0: max 0.5 at (0,2) -> 3; ch1: max 7 at (0,2), (0,3), (1,2) -> 2 each.
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    await tf.ready();
    if (backend === 'wasm') registerWasmTrainingKernels();
    const x = tf.tensor4d(xv, [1, 2, 4, 2]);
    const dy = tf.tensor4d([2, 5, 3, 6], [1, 1, 2, 2]);
    const y = maxPool2x2(x);
    assert.deepEqual(Array.from(y.dataSync()), [-1, 5, 0.5, 7]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(maxPool2x2(t as tf.Tensor4D), dy)))(x);
    assert.deepEqual(Array.from(g.dataSync()), want, backend);
    tf.dispose([x, dy, y, g]);
  }
  await tf.setBackend('cpu');
});

test('MetaAnchor region conv: generated weights equal the loop over Eq. 4 (and Eq. 6)', async () => {
  await useCpu();
  for (const generator of ['independent', 'dependent'] as const) {
    const det = buildYoloDetector(tinyYolo('metaanchor', generator), silent);
    const gen = (det.anchorFunction as MetaAnchorRegionFunction).generator;
    // Non-zero W2 so the residual matters.
    for (const v of [gen.w2Kernel, gen.w2Bias, gen.b1!]) v.assign(tf.tensor(pseudoRandom(v.size, v.size, -0.5, 0.5), v.shape));
    const C = 6;
    const E = 5 + 3;
    const feat = tf.tensor4d(pseudoRandom(2 * 2 * 3 * C, 11), [2, 2, 3, C]);
    const b = [0.3, -0.2, -1.1, 0.7, 0, 0];
    const out = det.predict(feat, tf.tensor2d(b, [3, 2])).arraySync() as number[][][][];
    const f = feat.arraySync() as number[][][][];
    const W1 = gen.w1.arraySync() as number[][];
    const c1 = gen.b1!.arraySync() as number[];
    const W2k = gen.w2Kernel.arraySync() as number[][];
    const W2b = gen.w2Bias.arraySync() as number[][];
    const ts = (gen.thetaStarKernel.arraySync() as number[][][][])[0][0];
    const tb = gen.thetaStarBias.arraySync() as number[];
    const W12 = generator === 'dependent' ? (gen.w12!.arraySync() as number[][]) : undefined;
    let maxErr = 0;
    for (let n = 0; n < 2; n++) {
      // r(x): global average pool of the image's feature (Eq. 6).
      const r = Array.from({ length: C }, (_, c) => (f[n][0][0][c] + f[n][0][1][c] + f[n][0][2][c] + f[n][1][0][c] + f[n][1][1][c] + f[n][1][2][c]) / 6);
      for (let a = 0; a < 3; a++) {
        const h = W1[0].map((_, j) => {
          let s = b[2 * a] * W1[0][j] + b[2 * a + 1] * W1[1][j] + c1[j];
          if (W12) for (let c = 0; c < C; c++) s += r[c] * W12[c][j];
          return Math.max(0, s);
        });
        for (let y = 0; y < 2; y++) {
          for (let x = 0; x < 3; x++) {
            for (let e = 0; e < E; e++) {
              let v = tb[e] + h.reduce((s, hj, j) => s + hj * W2b[j][e], 0);
              for (let c = 0; c < C; c++) v += f[n][y][x][c] * (ts[c][e] + h.reduce((s, hj, j) => s + hj * W2k[j][c * E + e], 0));
              maxErr = Math.max(maxErr, Math.abs(out[n][y][x][a * E + e] - v));
            }
          }
        }
      }
    }
    assert.ok(maxErr < 1e-5, `${generator}: max |generated - loop| = ${maxErr}`);
    // Basis mode (m + 1 basis convs, mixed per anchor) gives the same numbers.
    const basis = det.predict(feat, tf.tensor2d(b, [3, 2]), { convMode: 'basis' });
    assert.ok(maxRelDiff(basis.dataSync(), new Float32Array(out.flat(3))) < 1e-5);
    det.dispose();
  }
});

test('a YOLOv2 training-step gradient on wasm equals the cpu backend', async () => {
  require('@tensorflow/tfjs-backend-wasm');
  const grads: Record<string, Float32Array>[] = [];
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    await tf.ready();
    if (backend === 'wasm') registerWasmTrainingKernels();
    const det = buildYoloDetector(tinyYolo('metaanchor'), { ...silent, seed: 5 });
    const gen = (det.anchorFunction as MetaAnchorRegionFunction).generator;
    gen.w2Kernel.assign(tf.tensor(pseudoRandom(gen.w2Kernel.size, 2, -0.1, 0.1), gen.w2Kernel.shape));
    const x = tf.tensor4d(pseudoRandom(2 * 64 * 64 * 3, 9, 0, 255), [2, 64, 64, 3]);
    const bT = tf.tensor2d([0.2, -0.4, -0.8, 0.5], [2, 2]);
    const anchors = anchorCellsFromB(new Float32Array([0.2, -0.4, -0.8, 0.5]), parseAnchorSpec('yolov2').standardBoxP3);
    const gt = { boxes: new Float32Array([4, 8, 40, 30, 30, 20, 60, 62]), classIdx: new Int32Array([2, 0]) };
    const { value, grads: g } = tf.variableGrads(() => {
      const raw = det.forward(x, bT);
      const data = raw.dataSync();
      const per = data.length / 2;
      const shape = { gridH: 2, gridW: 2, numAnchors: 2, numClasses: 3 };
      const t = [0, 1].map((k) => regionTargets(data.subarray(k * per, (k + 1) * per), shape, anchors, gt, 32, YOLOV2_REGION, true));
      return regionLoss(raw, t, 2, 3).total;
    }, det.trainableVariables());
    assert.ok(Number.isFinite(value.dataSync()[0]));
    const named: Record<string, Float32Array> = {};
    const byVar = new Map(det.store.entries().map(([name, v]) => [v.name, name]));
    for (const [k, t] of Object.entries(g)) named[byVar.get(k)!] = t.dataSync() as Float32Array;
    grads.push(named);
    tf.dispose([value, x, bT, ...Object.values(g)]);
    det.dispose();
  }
  await tf.setBackend('cpu');
  const names = Object.keys(grads[0]);
  assert.ok(names.length > 20 && names.some((n) => n.includes('passthrough')) && names.some((n) => n.includes('regionGenerator.w1')));
  for (const n of names) {
    const d = maxRelDiff(grads[1][n], grads[0][n]);
    assert.ok(d < 1e-4, `${n}: wasm vs cpu max rel diff ${d}`);
  }
});
