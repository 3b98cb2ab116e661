import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RETINANET_MATCHER } from '../../lib/box/matcher';
import { buildTargets } from '../../lib/box/targets';
import { UserError } from '../../lib/util/errors';
import { ANCHORS, CLASSES, EXPECTED, FLAGS, GT } from './scene';

test('buildTargets: labels are class indices for positives, -1 background, -2 ignore', () => {
  const t = buildTargets(ANCHORS, { boxes: GT, classIdx: CLASSES, ignore: FLAGS }, { ...RETINANET_MATCHER, numClasses: 8 });
  const expectedLabels = EXPECTED.map((g) => (g >= 0 ? CLASSES[g] : g));
  // a0,a1 -> g0 (class 3); a6,a7 -> g1 (class 1); a9,a10 -> g3 (class 0); a18 -> g6 (class 7)
  assert.deepEqual(Array.from(t.labels), expectedLabels);
  assert.deepEqual(
    expectedLabels.filter((l) => l >= 0),
    [3, 3, 1, 1, 0, 0, 7],
  );
  assert.equal(t.numPositive, 7);
  assert.equal(t.numIgnored, 7);
});

test('buildTargets: box targets for positives, zeros elsewhere', () => {
  const t = buildTargets(ANCHORS, { boxes: GT, classIdx: CLASSES, ignore: FLAGS });
  const row = (a: number) => Array.from(t.boxTargets.slice(4 * a, 4 * a + 4));
  const near = (xs: number[], ys: number[]) => xs.forEach((x, i) => assert.ok(Math.abs(x - ys[i]) < 1e-6, `${xs} vs ${ys}`));
  near(row(0), [0, 0, 0, 0]); // identical box
  // a1 [0,0,20,10]: centre (10,5), 20x10; g0: centre (5,5), 10x10 -> (-5/20, 0, ln 0.5, ln 1)
  near(row(1), [-0.25, 0, Math.log(0.5), 0]);
  // a9 [300,0,320,20]: centre (310,10), 20x20; g3 [300,0,320,9]: centre (310,4.5), 20x9
  // -> (0, -5.5/20, 0, ln 0.45)
  near(row(9), [0, -0.275, 0, -0.7985076962]);
  // a6 [200,0,220,20] -> g1 [200,0,230,30]: centre (210,10) -> (215,15), 20 -> 30: (0.25, 0.25, ln 1.5, ln 1.5)
  near(row(6), [0.25, 0.25, 0.4054651081, 0.4054651081]);
  for (const a of [2, 4, 11, 15, 19]) near(row(a), [0, 0, 0, 0]);
});

test('buildTargets: inconsistent instances are UserErrors', () => {
  assert.throws(() => buildTargets(ANCHORS, { boxes: GT, classIdx: new Int32Array(3) }), UserError);
  assert.throws(
    () => buildTargets(ANCHORS, { boxes: GT, classIdx: CLASSES }, { ...RETINANET_MATCHER, numClasses: 5 }),
    /class index 5 but there are 5 classes/,
  );
  const bad = GT.slice();
  bad[0] = NaN;
  assert.throws(() => buildTargets(ANCHORS, { boxes: bad, classIdx: CLASSES }), /non-finite/);
});
