import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  readableAnchorSpec,
  anchorSizePx,
  formatAnchorSpec,
  meanStandardBoxP3,
  parseAnchorSpec,
  parseSpecNumber,
  tableOneConfig,
} from '../../lib/anchors/config';
import { UserError } from '../../lib/util/errors';

const near = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('Table 1 configurations: counts, scale-major order, printed standard boxes', () => {
  const expected: Record<string, [number, number, number]> = {
    '3x3': [9, 44, 44],
    '5x5': [25, 45, 47],
    '7x7': [49, 48, 50],
    '9x9': [81, 53, 53],
  };
  for (const name of ['3x3', '5x5', '7x7', '9x9'] as const) {
    const c = tableOneConfig(name);
    assert.equal(c.shapes.length, expected[name][0]);
    assert.deepEqual(c.standardBoxP3, { heightPx: expected[name][1], widthPx: expected[name][2] });
  }
  const c3 = tableOneConfig('3x3');
  // scale-major: (2^0, 1/2), (2^0, 1), (2^0, 2), (2^(1/3), 1/2), ...
  assert.deepEqual(
    c3.shapes.slice(0, 4).map((s) => [s.scale, s.ratioHW]),
    [
      [1, 0.5],
      [1, 1],
      [1, 2],
      [Math.pow(2, 1 / 3), 0.5],
    ],
  );
  const c9 = tableOneConfig('9x9');
  near(c9.shapes[80].scale, Math.pow(2, 8 / 9));
  assert.equal(c9.shapes[80].ratioHW, 5);
  assert.equal(c9.shapes[2].ratioHW, 1 / 3);
});

test('anchorSizePx: 5x5 anchors at P4 (stride 16, base 64 px)', () => {
  const c = tableOneConfig('5x5');
  // shape 0 = (2^0, 1/3): h = 64·sqrt(1/3) = 36.950417, w = 64·sqrt(3) = 110.851252
  let s = anchorSizePx(c.shapes[0], 16);
  near(s.heightPx, 36.950417);
  near(s.widthPx, 110.851252);
  // shape 12 = (2^(2/5), 1): 64·2^0.4 = 84.448506 square
  s = anchorSizePx(c.shapes[12], 16);
  near(s.heightPx, 84.448506);
  near(s.widthPx, 84.448506);
  // shape 24 = (2^(4/5), 3): h = 64·2^0.8·sqrt 3 = 193.003239, w = 64·2^0.8/sqrt 3 = 64.334413
  s = anchorSizePx(c.shapes[24], 16);
  near(s.heightPx, 193.003239);
  near(s.widthPx, 64.334413);
  // area is (4·stride·scale)^2 for every ratio
  near(s.heightPx * s.widthPx, Math.pow(64 * Math.pow(2, 0.8), 2), 1e-6);
});

test('parseSpecNumber: decimals, fractions, powers', () => {
  assert.equal(parseSpecNumber('0.5'), 0.5);
  assert.equal(parseSpecNumber('1/3'), 1 / 3);
  assert.equal(parseSpecNumber('2^(1/3)'), Math.pow(2, 1 / 3));
  assert.equal(parseSpecNumber('2^0.5'), Math.SQRT2);
  assert.equal(parseSpecNumber('.25'), 0.25);
  assert.ok(Number.isNaN(parseSpecNumber('abc')));
  assert.ok(Number.isNaN(parseSpecNumber('1/2/3')));
});

test('parseAnchorSpec: presets, explicit shapes, pixel sizes, standard box', () => {
  assert.deepEqual(parseAnchorSpec('5x5'), tableOneConfig('5x5'));
  assert.equal(parseAnchorSpec(' 9X9 ').name, '9x9');

  const c = parseAnchorSpec('s:1,r:1/2; s:2^(1/3), r:1 ;s:2^(2/3),r:2');
  assert.deepEqual(c.shapes, [
    { scale: 1, ratioHW: 0.5 },
    { scale: Math.pow(2, 1 / 3), ratioHW: 1 },
    { scale: Math.pow(2, 2 / 3), ratioHW: 2 },
  ]);
  // mean standard box at P3: heights 32·sqrt(.5), 32·2^(1/3), 32·2^(2/3)·sqrt 2 -> mean
  const hs = [32 * Math.SQRT1_2, 32 * Math.pow(2, 1 / 3), 32 * Math.pow(2, 2 / 3) * Math.SQRT2];
  near(c.standardBoxP3.heightPx, (hs[0] + hs[1] + hs[2]) / 3);

  // h:32,w:96 at P3: scale = sqrt(32·96)/32 = sqrt 3 = 1.7320508, ratio = 1/3
  const p = parseAnchorSpec('h:32,w:96; height:64,width:64; std:48x60');
  near(p.shapes[0].scale, 1.7320508);
  near(p.shapes[0].ratioHW, 1 / 3);
  near(p.shapes[1].scale, 2);
  assert.deepEqual(p.standardBoxP3, { heightPx: 48, widthPx: 60 });
  near(anchorSizePx(p.shapes[0], 8).widthPx, 96);

  // "s:1,r:1; s:2,r:1": heights 32 and 64 -> standard box 48 x 48 (Sec. 3.2: average size)
  assert.deepEqual(parseAnchorSpec('s:1,r:1; s:2,r:1').standardBoxP3, { heightPx: 48, widthPx: 48 });
  // A preset plus one shape is a new configuration with the mean standard box.
  const u = parseAnchorSpec('3x3; s:1,r:5');
  assert.equal(u.shapes.length, 10);
  assert.deepEqual(u.standardBoxP3, meanStandardBoxP3(u.shapes));
  assert.equal(u.name, '3x3;s:1,r:5');
  assert.deepEqual(parseAnchorSpec('3x3; std:40x40').standardBoxP3, { heightPx: 40, widthPx: 40 });
  assert.equal(parseAnchorSpec('fig2').shapes.length, 5);
  assert.equal(parseAnchorSpec('table8').shapes.length, 161);
});

test('formatAnchorSpec round-trips exactly', () => {
  for (const spec of ['5x5', '9x9', 'h:32,w:96;s:0.7,r:2^(1/3)', 'fig2']) {
    const c = parseAnchorSpec(spec);
    const back = parseAnchorSpec(formatAnchorSpec(c));
    assert.deepEqual(back.shapes, c.shapes);
    assert.deepEqual(back.standardBoxP3, c.standardBoxP3);
  }
});

test('parseAnchorSpec: bad specs are UserErrors that say what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['4x4', /not a Table 1 configuration/],
    ['s:1', /either s and r, or h and w/],
    ['s:1,r:1,h:3', /either s and r/],
    ['s:0,r:1', /must be a positive number/],
    ['s:1,r:-2', /must be a positive number/],
    ['s:1,r:abc', /must be a positive number/],
    ['s:1,r:1;s:1,r:1', /repeats the shape/],
    ['3x3;s:2^(1/3),r:1/2', /repeats the shape/],
    ['foo:1,r:1', /unknown key "foo"/],
    ['s1,r1', /not key:value/],
    ['std:44x44', /no anchor shapes/],
    ['3x3;std:44', /std:<AH>x<AW>/],
    ['3x3;std:44x44;std:40x40', /twice/],
    ['s:1,s:2', /given twice/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(
      () => parseAnchorSpec(spec),
      (e: unknown) => e instanceof UserError && re.test(e.message) && !!e.hint,
      spec,
    );
  }
});

test('readableAnchorSpec: 3 significant digits, a space after each ";"', () => {
  assert.equal(
    readableAnchorSpec('s:1.2599210498948732,r:0.5;s:1,r:2;s:0.7937005259840998,r:0.3333333333333333;std:33.41x37.5'),
    's:1.26,r:0.5; s:1,r:2; s:0.794,r:0.333; std:33.4x37.5',
  );
  assert.equal(readableAnchorSpec('3x3'), '3x3');
});
