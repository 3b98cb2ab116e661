import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configHash } from '../../lib/experiments/key';
import { experimentSettings } from '../../lib/experiments/settings';
import { PAPER } from '../../lib/experiments/paper';
import { TABLE5_LEAVE_OUT, TABLE8_ROWS, TableSpec, cellTrainConfigs, parseTableId, tableSpec } from '../../lib/experiments/tables';
import { distinctRuns } from '../../lib/experiments/runner';
import { pickBest } from '../../lib/experiments/run-selection';

const hashOf = (t: TableSpec, row: string, group: string) => {
  const c = t.cells.find((x) => x.row === row && x.group === group);
  assert.ok(c, `no cell (${row}, ${group}) in Table ${t.id}`);
  return configHash(c.train);
};

for (const profile of ['smoke', 'quick', 'full'] as const) {
  test(`Tables 5 and 8 (${profile}) are built from Table 2's and Table 6's exact training configurations`, () => {
    const s = experimentSettings(profile);
    const [t2, t6, t5, t8] = ['2', '6', '5', '8'].map((id) => tableSpec(id, s));

    // Table 5: baseline / MetaAnchor 3x3 at 0.5/0.4, the search column on the MetaAnchor run.
    assert.deepEqual(t5.groups, ['Baseline', 'MetaAnchor', 'MetaAnchor + search']);
    assert.deepEqual(
      t5.cells.map((c) => c.inference),
      ['train', 'train', 'search'],
    );
    const row5 = t5.rows[0];
    assert.equal(hashOf(t5, row5, 'Baseline'), hashOf(t2, '0.5/0.4 3x3', 'baseline'));
    assert.equal(hashOf(t5, row5, 'MetaAnchor'), hashOf(t2, '0.5/0.4 3x3', 'MetaAnchor'));
    assert.equal(hashOf(t5, row5, 'MetaAnchor + search'), hashOf(t2, '0.5/0.4 3x3', 'MetaAnchor'));
    assert.deepEqual(t5.evaluation, { kind: 'voc-transfer', target: 'mnist-det-shifted', leaveOut: ['4'], metric: 'voc07' });
    assert.deepEqual(t5.metrics, ['VOC mAP50']);

    // Table 8: rows and their runs.
    assert.deepEqual(t8.rows, [...TABLE8_ROWS]);
    assert.equal(hashOf(t8, 'RetinaNet 3x3/3x3', ''), hashOf(t2, '0.5/0.4 3x3', 'baseline'));
    assert.equal(hashOf(t8, 'MetaAnchor 3x3/3x3', ''), hashOf(t2, '0.5/0.4 3x3', 'MetaAnchor'));
    assert.equal(hashOf(t8, 'MetaAnchor 9x9/search', ''), hashOf(t6, 'search', 'data-independent'));
    assert.equal(hashOf(t8, 'MetaAnchor data-dependent 9x9/search', ''), hashOf(t6, 'search', 'data-dependent'));
    // Table 6's data-independent 9x9 is Table 2's MetaAnchor 0.6/0.5 9x9.
    assert.equal(hashOf(t6, 'search', 'data-independent'), hashOf(t2, '0.6/0.5 9x9', 'MetaAnchor'));
    assert.deepEqual(
      t8.cells.map((c) => c.inference),
      ['train', 'train', 'train', 'search', 'search'],
    );
    // RetinaNet*: the eight Table 2 baseline runs, in Table 2's row order, labelled by its rows.
    const star = t8.cells.find((c) => c.row === 'RetinaNet* search/search')!;
    assert.equal(star.select?.rule, 'train-subset-mmAP');
    assert.deepEqual(
      star.select!.candidates.map((c) => c.label),
      t2.rows,
    );
    assert.deepEqual(
      star.select!.candidates.map((c) => configHash(c.train)),
      t2.rows.map((r) => hashOf(t2, r, 'baseline')),
    );
    assert.deepEqual(
      cellTrainConfigs(star).map(configHash),
      t2.rows.map((r) => hashOf(t2, r, 'baseline')),
    );

    // Neither table adds a training run to Tables 2, 3, 4 and 6.
    const four = ['2', '3', '4', '6'].map((id) => tableSpec(id, s));
    const all = distinctRuns(four, s).map(configHash).sort();
    assert.deepEqual(
      distinctRuns([...four, t5, t8], s)
        .map(configHash)
        .sort(),
      all,
    );
    // One run per seed. Quick: the headline configurations (Table 2's 3x3 and 9x9) have 3 seeds, so
    // Table 5's two 3x3 runs are 6; in Table 8 RetinaNet 3x3, MetaAnchor 3x3 and MetaAnchor 9x9 have
    // 3 each, the data-dependent 9x9 one, and RetinaNet* picks among the eight baselines over the
    // profile's seed 0 (7 runs more).
    assert.equal(distinctRuns([t5], s).length, profile === 'quick' ? 6 : 2 * s.seeds.length);
    assert.equal(distinctRuns([t8], s).length, profile === 'quick' ? 3 + 7 + 3 + 3 + 1 : 11 * s.seeds.length);
  });
}

test('Tables 5 and 8 show the paper numbers of tables.json', () => {
  const s = experimentSettings('smoke');
  const t5 = tableSpec('5', s);
  assert.deepEqual(
    t5.groups.map((g) => t5.paper(t5.rows[0], g, 'VOC mAP50')),
    [82.5, 83.1, 83.3],
  );
  assert.equal(t5.paper(t5.rows[0], 'Baseline', 'mmAP'), undefined);
  const t8 = tableSpec('8', s);
  assert.deepEqual(
    t8.rows.map((r) => t8.paper(r, '', 'mmAP')),
    [35.8, 36.9, 36.8, 37.5, 37.9],
  );
  assert.equal(PAPER.table8OriginalRetinaNet, 34.0);
  assert.deepEqual(TABLE5_LEAVE_OUT, ['4']);
  assert.equal(parseTableId('table 8'), '8');
  assert.throws(() => parseTableId('7x'), /no table "7x"/);
});

test('RetinaNet* rule: highest training-subset mmAP, earlier candidate on ties, NaN last', () => {
  assert.equal(pickBest([0.1, 0.3, 0.2]), 1);
  assert.equal(pickBest([0.1, 0.3, 0.3, 0.2]), 1);
  assert.equal(pickBest([0.2]), 0);
  assert.equal(pickBest([NaN, 0.05, 0.01]), 1);
  assert.equal(pickBest([-1, 0, -1]), 1);
  assert.throws(() => pickBest([]), /no candidates/);
});
