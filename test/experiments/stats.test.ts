import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareCells, formatDifference, formatMeanSd, meanSd } from '../../lib/experiments/stats';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('meanSd: sample standard deviation (n - 1)', () => {
  const m = meanSd([0.2, 0.22, 0.24]);
  close(m.mean, 0.22);
  close(m.sd, 0.02); // sqrt((0.0004 + 0 + 0.0004) / 2)
  assert.equal(m.n, 3);
  const one = meanSd([0.3]);
  assert.equal(one.mean, 0.3);
  assert.ok(Number.isNaN(one.sd));
  assert.equal(meanSd([]).n, 0);
});

test('compareCells: |diff| < 2 sqrt(sd1² + sd2²) is within noise', () => {
  const a = meanSd([0.2, 0.22, 0.24]); // sd 0.02
  const near = meanSd([0.23, 0.25, 0.27]); // +0.03, sd 0.02 -> noise 2*sqrt(0.0008) = 0.0566
  const d1 = compareCells(a, near);
  close(d1.diff, 0.03);
  close(d1.noise, 2 * Math.sqrt(0.0008));
  assert.equal(d1.verdict, 'within noise');
  const far = meanSd([0.28, 0.3, 0.32]); // +0.08 > 0.0566
  assert.equal(compareCells(a, far).verdict, 'beyond noise');
  assert.equal(compareCells(far, a).verdict, 'beyond noise');
  close(compareCells(far, a).diff, -0.08);
  assert.equal(compareCells(meanSd([0.2]), meanSd([0.5])).verdict, 'single seed');
  assert.equal(compareCells(a, meanSd([0.5])).verdict, 'single seed');
});

test('formatting in percent points', () => {
  assert.equal(formatMeanSd(meanSd([0.2, 0.22, 0.24])), '22.0 ± 2.0');
  assert.equal(formatMeanSd(meanSd([0.219])), '21.9');
  assert.equal(formatMeanSd(undefined), '');
  assert.equal(formatDifference(compareCells(meanSd([0.2, 0.22, 0.24]), meanSd([0.28, 0.3, 0.32]))), '+8.0 (beyond noise)');
  assert.equal(formatDifference(compareCells(meanSd([0.25]), meanSd([0.214]))), '-3.6 (single seed)');
});
