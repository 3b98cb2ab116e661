/**
 * The results cache's file names are part of its format: runs and evaluations cached before must
 * still be found. The two run folders (quick runs of 8000 steps) and the 'train' evaluation are those of runs in existing
 * caches, the search and train-subset names were computed before the cache code moved to
 * run-cache.ts; the other evaluation names are pinned as they are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { experimentSettings } from '../../lib/experiments/settings';
import { tableSpec } from '../../lib/experiments/tables';
import { evalFileOf, runDirOf, searchFileOf, seededConfig, trainSubsetEvalFileOf } from '../../lib/experiments/run-cache';

test('cache file names and hashes stay the same', () => {
  const s = experimentSettings('quick', {});
  const cell = tableSpec('2', s).cells[0];
  assert.equal(`${cell.row} ${cell.group}`, '0.5/0.4 3x3 baseline');
  const cfg = cell.train;
  const root = path.resolve('/r');
  const names = [
    runDirOf(root, seededConfig(cfg, 0)),
    runDirOf(root, seededConfig(cfg, 2)),
    searchFileOf(root, s.search),
    trainSubsetEvalFileOf(root, s.search),
    evalFileOf(root, cfg, 'train', s),
    evalFileOf(root, cfg, 'search', s),
    evalFileOf(root, cfg, '5x5', s),
    evalFileOf(root, cfg, 'train', s, tableSpec('5', s).evaluation),
  ].map((p) => path.relative(root, p));
  assert.deepEqual(names, [
    'baseline-3x3-iou0.5-0.4-quick-seed0-946ad68afe1b',
    'baseline-3x3-iou0.5-0.4-quick-seed2-1a79c0824294',
    'search-b8d2df62a5f6.json',
    'table-evals/train-subset-3f0a9e45598f.json',
    'table-evals/train-1bc4bdfea49e.json',
    'table-evals/search-75dab5ee29a8.json',
    'table-evals/5x5-6f8ac6beba0a.json',
    'table-evals/voc-train-7d898788470a.json',
  ]);
});
