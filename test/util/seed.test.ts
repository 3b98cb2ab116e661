import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRng, seedEverything, nextSeed, shuffle, normal } from '../../lib/util/seed';

test('makeRng: same seed gives the same sequence, another seed another one', () => {
  const a = makeRng(42);
  const b = makeRng(42);
  const c = makeRng(43);
  const sa = Array.from({ length: 5 }, () => a());
  const sb = Array.from({ length: 5 }, () => b());
  const sc = Array.from({ length: 5 }, () => c());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  for (const x of sa) assert.ok(x >= 0 && x < 1);
});

test('seedEverything resets the process-wide stream', () => {
  seedEverything(7);
  const first = [nextSeed(), nextSeed(), nextSeed()];
  seedEverything(7);
  assert.deepEqual([nextSeed(), nextSeed(), nextSeed()], first);
  for (const s of first) assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 31);
});

test('shuffle is a seeded permutation', () => {
  const xs = shuffle(
    Array.from({ length: 20 }, (_, i) => i),
    makeRng(1),
  );
  assert.deepEqual(
    [...xs].sort((p, q) => p - q),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.deepEqual(
    shuffle(
      Array.from({ length: 20 }, (_, i) => i),
      makeRng(1),
    ),
    xs,
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 20 }, (_, i) => i),
  );
});

test('normal draws have mean ~0 and variance ~1', () => {
  const rng = makeRng(3);
  const n = 20000;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = normal(rng);
    s += x;
    s2 += x * x;
  }
  const mean = s / n;
  const variance = s2 / n - mean * mean;
  // 5 standard errors: 5/sqrt(n) ~ 0.035 for the mean, ~0.05 for the variance.
  assert.ok(Math.abs(mean) < 0.035, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
});
