import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchorSizePx, tableOneConfig } from '../../lib/anchors/config';
import {
  B_JITTER,
  configB,
  decodeB,
  encodeB,
  encodeBCells,
  jitterB,
  jitteredTrainingAnchors,
  sizesFromB,
  standardBoxAtLevel,
} from '../../lib/anchors/metaanchor';
import { YOLOV2_COCO_ANCHORS_CELLS, YOLOV2_STANDARD_BOX_CELLS } from '../../lib/anchors/presets';
import { makeRng } from '../../lib/util/seed';

const near = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('Eq. 7: b for known boxes; AH_{l+1} = 2 AH_l makes b level-independent', () => {
  const std3 = { heightPx: 44, widthPx: 44 }; // 3x3
  // 32x32 at P3: b = (ln(32/44), ln(32/44)) = (-0.3184537, -0.3184537)
  const [bh, bw] = encodeB(32, 32, 3, std3);
  near(bh, -0.3184537311);
  near(bw, -0.3184537311);
  // the same shape at P5 is 128x128 and AH_5 = 4·44 = 176: same b
  const [bh5] = encodeB(128, 128, 5, std3);
  near(bh5, -0.3184537311);
  assert.deepEqual(standardBoxAtLevel({ heightPx: 45, widthPx: 47 }, 4), { heightPx: 90, widthPx: 94 });
  // 90x60 at P4 with 5x5's (45, 47): AH_4 = 90, AW_4 = 94 -> (ln 1, ln(60/94)) = (0, -0.4489502)
  const b = encodeB(90, 60, 4, { heightPx: 45, widthPx: 47 });
  near(b[0], 0);
  near(b[1], -0.44895022);
  const size = decodeB(b[0], b[1], 4, { heightPx: 45, widthPx: 47 });
  near(size.heightPx, 90, 1e-9);
  near(size.widthPx, 60, 1e-9);
  assert.throws(() => encodeB(0, 10, 3, std3), /positive/);
});

test('configB: 3x3 rows; sizes from b reproduce the anchors at every level', () => {
  const c = tableOneConfig('3x3');
  const b = configB(c);
  assert.equal(b.length, 18);
  // shape 0 = (2^0, 1/2): h = 32/sqrt 2 -> bh = ln(32/44) - ln(2)/2 = -0.6650273; bw = ln(32/44) + ln(2)/2 = 0.0281199
  near(b[0], -0.6650273, 1e-6);
  near(b[1], 0.0281199, 1e-6);
  const sizes = sizesFromB(b, c.standardBoxP3);
  for (let l = 0; l < 5; l++) {
    c.shapes.forEach((shape, i) => {
      const want = anchorSizePx(shape, Math.pow(2, l + 3));
      near(sizes[l][i].heightPx / want.heightPx, 1, 1e-6);
      near(sizes[l][i].widthPx / want.widthPx, 1, 1e-6);
    });
  }
  // Inference anchors encoded with the training standard box (Sec. 4.1.2): 9x9's 2^0:1 shape under 3x3's box.
  const b9 = configB(tableOneConfig('9x9'), c.standardBoxP3);
  near(b9[2 * 4], -0.3184537, 1e-6); // shape 4 of 9x9 is (2^0, 1)
});

test('jitter: every component moves by an independent uniform draw in [-0.5, 0.5)', () => {
  const c = tableOneConfig('5x5');
  const base = configB(c);
  const j = jitteredTrainingAnchors(c, makeRng(42));
  // Same seed, same sequence: component i gets -0.5 + u_i (uniform(rng, -0.5, 0.5) = -0.5 + u).
  const rng = makeRng(42);
  for (let i = 0; i < base.length; i++) assert.equal(j.b[i], Math.fround(base[i] + (-0.5 + rng())));
  // Sizes follow the jittered b at every level: h_l = AH_3 · 2^(l-3) · e^bh.
  for (let l = 0; l < 5; l++) {
    for (let i = 0; i < 25; i++) {
      near(j.sizesPerLevel[l][i].heightPx, 45 * Math.pow(2, l) * Math.exp(j.b[2 * i]), 1e-6 * Math.pow(2, l) * 500);
      near(j.sizesPerLevel[l][i].widthPx, 47 * Math.pow(2, l) * Math.exp(j.b[2 * i + 1]), 1e-6 * Math.pow(2, l) * 500);
    }
  }
  // Over many draws the offsets fill [-0.5, 0.5) evenly.
  const r = makeRng(1);
  let lo = Infinity,
    hi = -Infinity,
    sum = 0,
    n = 0;
  for (let it = 0; it < 400; it++) {
    const jb = jitterB(base, r);
    for (let i = 0; i < base.length; i++) {
      const d = jb[i] - base[i];
      lo = Math.min(lo, d);
      hi = Math.max(hi, d);
      sum += d;
      n++;
    }
  }
  assert.equal(B_JITTER, 0.5);
  assert.ok(lo >= -0.5 - 1e-6 && lo < -0.499, `min ${lo}`);
  assert.ok(hi < 0.5 + 1e-6 && hi > 0.499, `max ${hi}`);
  assert.ok(Math.abs(sum / n) < 0.01, `mean ${sum / n}`); // 20000 draws: sd of the mean 0.002
  // Amplitude 0 is the unjittered configuration.
  assert.deepEqual(Array.from(jitteredTrainingAnchors(c, makeRng(3), { amplitude: 0 }).b), Array.from(base));
});

test('YOLOv2 b (Table 7): darknet anchors under the (4.18, 4.69) standard box', () => {
  const a = YOLOV2_COCO_ANCHORS_CELLS[4]; // 9.77052 wide, 9.16828 high
  const [bh, bw] = encodeBCells(a.heightCells, a.widthCells, YOLOV2_STANDARD_BOX_CELLS);
  near(bh, Math.log(9.16828 / 4.18)); // ln 2.193368 = 0.785438
  near(bh, 0.7854385, 1e-6);
  near(bw, Math.log(9.77052 / 4.69)); // ln 2.083266 = 0.733937
  near(bw, 0.7339371, 1e-6);
});
