import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchorSizePx, tableOneConfig } from '../../lib/anchors/config';
import { anchorGrid, anchorsForConfig, featureLevels, levelStarts } from '../../lib/anchors/grid';

const nearAll = (a: ArrayLike<number>, b: number[], tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `[${i}] ${a[i]} != ${b[i]}`);
};
const box = (anchors: Float32Array, i: number) => anchors.slice(4 * i, 4 * i + 4);

test('featureLevels: ceil(size / stride) per level', () => {
  // 600 x 800: P3 75x100, P4 ceil(37.5)=38 x 50, P5 ceil(18.75)=19 x 25, P6 ceil(9.375)=10 x ceil(12.5)=13,
  // P7 ceil(4.6875)=5 x ceil(6.25)=7
  const lv = featureLevels(600, 800);
  assert.deepEqual(
    lv.map((l) => [l.level, l.stride, l.heightCells, l.widthCells]),
    [
      [3, 8, 75, 100],
      [4, 16, 38, 50],
      [5, 32, 19, 25],
      [6, 64, 10, 13],
      [7, 128, 5, 7],
    ],
  );
});

test('3x3 anchors on a 64x64 image: first anchors of P3, P4 and P7 (offset 0.5)', () => {
  const { anchors, starts } = anchorsForConfig(tableOneConfig('3x3'), 64, 64);
  // cells: P3 8x8, P4 4x4, P5 2x2, P6 1x1, P7 1x1 -> (64 + 16 + 4 + 1 + 1) · 9 = 774 anchors
  assert.deepEqual(Array.from(starts), [0, 576, 720, 756, 765, 774]);
  assert.equal(anchors.length, 4 * 774);
  // P3 cell (0,0), centre (4,4).
  // a0 = (2^0, 1/2): h = 32·sqrt(1/2) = 22.627417, w = 32/sqrt(1/2) = 45.254834
  nearAll(box(anchors, 0), [4 - 22.627417, 4 - 11.313708, 4 + 22.627417, 4 + 11.313708]);
  nearAll(box(anchors, 1), [-12, -12, 20, 20]); // a1 = (2^0, 1): 32x32
  nearAll(box(anchors, 2), [4 - 11.313708, 4 - 22.627417, 4 + 11.313708, 4 + 22.627417]); // a2 = (2^0, 2)
  // a3 = (2^(1/3), 1/2): side 32·2^(1/3) = 40.317474; h = 28.508759, w = 57.017518
  nearAll(box(anchors, 3), [4 - 28.508759, 4 - 14.254379, 4 + 28.508759, 4 + 14.254379]);
  nearAll(box(anchors, 10), [-4, -12, 28, 20]); // (y0, x1, a1): centre (12, 4) -- x before y
  nearAll(box(anchors, 73), [-12, -4, 20, 28]); // (y1, x0, a1): index (1·8 + 0)·9 + 1, centre (4, 12)
  nearAll(box(anchors, 577), [-24, -24, 40, 40]); // P4 (0,0) a1: centre (8,8), 64x64
  nearAll(box(anchors, 766), [-192, -192, 320, 320]); // P7 a1: centre (64,64), 512x512
});

test('offset 0 reproduces detectron2 (centres on cell corners)', () => {
  const { anchors } = anchorsForConfig(tableOneConfig('3x3'), 64, 64, { offset: 0 });
  nearAll(box(anchors, 1), [-16, -16, 16, 16]);
  nearAll(box(anchors, 10), [-8, -16, 24, 16]);
  nearAll(box(anchors, 766), [-256, -256, 256, 256]);
});

test('ORDER equals the head output [N,H,W,A*K] -> [N,H*W*A,K] reshape, on a non-square image', () => {
  const config = tableOneConfig('5x5');
  const levels = featureLevels(40, 72); // P3 5x9, P4 3x5, P5 2x3, P6 1x2, P7 1x1
  const sizes = levels.map((lv) => config.shapes.map((s) => anchorSizePx(s, lv.stride)));
  const anchors = anchorGrid(levels, sizes);
  const A = 25;
  const K = 3;
  const starts = levelStarts(levels, A);
  for (let l = 0; l < levels.length; l++) {
    const { stride, heightCells: H, widthCells: W } = levels[l];
    // Walk the NHWC output buffer of this level: flat = ((y·W + x)·A + a)·K + k; its row is flat / K.
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let a = 0; a < A; a++) {
          const flat = ((y * W + x) * A + a) * K + (K - 1);
          const row = starts[l] + Math.floor(flat / K);
          const b = box(anchors, row);
          assert.ok(Math.abs((b[0] + b[2]) / 2 - (x + 0.5) * stride) < 1e-3, `level ${l} x ${x}`);
          assert.ok(Math.abs((b[1] + b[3]) / 2 - (y + 0.5) * stride) < 1e-3, `level ${l} y ${y}`);
          assert.ok(Math.abs(b[2] - b[0] - sizes[l][a].widthPx) < 1e-3);
          assert.ok(Math.abs(b[3] - b[1] - sizes[l][a].heightPx) < 1e-3);
        }
  }
  assert.equal(anchors.length / 4, starts[levels.length]);
  assert.equal(starts[levels.length], (45 + 15 + 6 + 2 + 1) * 25);
});

test('anchorGrid: per-level anchor counts may differ; mismatched inputs throw', () => {
  const levels = [
    { stride: 8, heightCells: 1, widthCells: 2 },
    { stride: 16, heightCells: 1, widthCells: 1 },
  ];
  const g = anchorGrid(levels, [
    [{ heightPx: 8, widthPx: 4 }],
    [
      { heightPx: 16, widthPx: 16 },
      { heightPx: 2, widthPx: 2 },
    ],
  ]);
  nearAll(g, [2, 0, 6, 8, /**/ 10, 0, 14, 8, /**/ 0, 0, 16, 16, /**/ 7, 7, 9, 9]);
  assert.throws(() => anchorGrid(levels, [[]]), /2 levels but 1 size lists/);
});
