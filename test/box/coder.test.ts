import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOG_SCALE_CLAMP, decodeDeltas, encodeDeltas } from '../../lib/box/coder';
import { makeRng } from '../../lib/util/seed';

const f32 = (xs: number[]) => Float32Array.from(xs);
const nearAll = (a: ArrayLike<number>, b: number[], tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `[${i}] ${a[i]} != ${b[i]}`);
};

// anchor [0,0,32,32]: centre (16,16), 32x32.  gt [8,4,56,28]: centre (32,16), 48x24.
const anchor = f32([0, 0, 32, 32]);
const gt = f32([8, 4, 56, 28]);

test('encodeDeltas: hand-computed RetinaNet deltas', () => {
  // dx = (32-16)/32 = 0.5, dy = (16-16)/32 = 0, dw = ln(48/32) = ln 1.5, dh = ln(24/32) = ln 0.75
  nearAll(encodeDeltas(anchor, gt), [0.5, 0, 0.4054651081, -0.2876820725]);
});

test('encodeDeltas with Faster R-CNN weights (10, 10, 5, 5) scales each component', () => {
  nearAll(encodeDeltas(anchor, gt, [10, 10, 5, 5]), [5, 0, 2.0273255405, -1.4384103623]);
  nearAll(decodeDeltas(anchor, f32([5, 0, 2.0273255405, -1.4384103623]), [10, 10, 5, 5]), [8, 4, 56, 28], 1e-4);
});

test('decodeDeltas inverts encodeDeltas (random boxes, within the clamp)', () => {
  const rng = makeRng(7);
  const n = 500;
  const anchors = new Float32Array(4 * n);
  const boxes = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const ax = rng() * 600,
      ay = rng() * 600,
      aw = 8 + rng() * 500,
      ah = 8 + rng() * 500;
    anchors.set([ax, ay, ax + aw, ay + ah], 4 * i);
    // targets up to 8x larger/smaller than the anchor: |log| <= ln 8 < ln(1000/16)
    const gw = aw * Math.exp((rng() - 0.5) * 2 * Math.log(8));
    const gh = ah * Math.exp((rng() - 0.5) * 2 * Math.log(8));
    const gx = ax + (rng() - 0.5) * 2 * aw,
      gy = ay + (rng() - 0.5) * 2 * ah;
    boxes.set([gx, gy, gx + gw, gy + gh], 4 * i);
  }
  const back = decodeDeltas(anchors, encodeDeltas(anchors, boxes));
  // The arithmetic is float64; only the float32 storage of deltas and boxes rounds (~6e-8 relative),
  // so errors are measured against the scale of the coordinates involved.
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const scale = Math.max(...Array.from(anchors.slice(4 * i, 4 * i + 4), Math.abs), ...Array.from(boxes.slice(4 * i, 4 * i + 4), Math.abs));
    for (let c = 0; c < 4; c++) worst = Math.max(worst, Math.abs(back[4 * i + c] - boxes[4 * i + c]) / scale);
  }
  assert.ok(worst < 1e-6, `worst relative error ${worst}`);
});

test('decodeDeltas clamps log dw, log dh at ln(1000/16) (upper side only)', () => {
  assert.ok(Math.abs(LOG_SCALE_CLAMP - 4.1351665567) < 1e-9);
  // dw = 10 is clamped to ln 62.5: width 32 * 62.5 = 2000 around centre 16 -> [-984, 1016]
  // dh = -10 is not clamped: height 32 * e^-10 = 0.0014529 around centre 16
  const h = 32 * Math.exp(-10);
  nearAll(decodeDeltas(anchor, f32([0, 0, 10, -10])), [-984, 16 - h / 2, 1016, 16 + h / 2], 1e-3);
  // custom clamp ln 2: width 64 around 16 -> [-16, 48]
  nearAll(decodeDeltas(anchor, f32([0.25, 0, 5, 0]), undefined, Math.log(2)), [-8, 0, 56, 32]);
});

test('degenerate boxes are rejected by the encoder, not turned into -Infinity', () => {
  assert.throws(() => encodeDeltas(anchor, f32([5, 5, 5, 9])), /target box 0 is degenerate/);
  assert.throws(() => encodeDeltas(f32([0, 0, 0, 0]), gt), /anchor 0 is degenerate/);
  assert.throws(() => encodeDeltas(anchor, f32([0, 0, 1, 1, 0, 0, 1, 1])), /1 anchors but 2/);
  assert.throws(() => encodeDeltas(anchor, gt, [1, 1, 0, 1]), /positive/);
});
