import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TABLE_NOTEBOOKS, allNotebooks } from '../../lib/experiments/main-job';
import { experimentSettings } from '../../lib/experiments/settings';
import { TABLE_IDS, selectCells, tableSpec } from '../../lib/experiments/tables';
import { distinctRuns, runTables, tableOrder } from '../../lib/experiments/runner';
import { configHash } from '../../lib/experiments/key';
import { estimatedStepSeconds } from '../../lib/experiments/parallel';

test('every table has notebooks, and they exist', () => {
  const all = allNotebooks();
  for (const id of TABLE_IDS) {
    assert.ok(TABLE_NOTEBOOKS[id].length > 0, `Table ${id}`);
    for (const nb of TABLE_NOTEBOOKS[id]) assert.ok(all.includes(nb), `${nb}.ipynb is not in notebooks/`);
  }
});

test('tableOrder: whole tables one after another, cheapest remaining first, each run once, longest first within a table', () => {
  const s = experimentSettings('quick');
  const tables = TABLE_IDS.map((id) => tableSpec(id, s));
  const order = tableOrder(tables, s);
  const all = distinctRuns(tables, s);
  assert.deepEqual(order.map(configHash).sort(), all.map(configHash).sort());
  // Where each table's last run sits: tables finish in the order their runs are scheduled.
  const pos = new Map(order.map((c, i) => [configHash(c), i] as const));
  const last = tables.map((t) => Math.max(...distinctRuns([t], s).map((c) => pos.get(configHash(c))!)));
  const cost = (cfgs: ReturnType<typeof distinctRuns>) => cfgs.reduce((a, c) => a + estimatedStepSeconds(c) * c.steps, 0);
  // The first table to finish is the cheapest one on its own.
  const first = last.indexOf(Math.min(...last));
  const costs = tables.map((t) => cost(distinctRuns([t], s)));
  assert.equal(costs[first], Math.min(...costs), `first finished: Table ${tables[first].id}`);
  // Table 5 reuses Table 2's runs: it finishes no later than Table 2.
  assert.ok(last[TABLE_IDS.indexOf('5')] <= last[TABLE_IDS.indexOf('2')]);
});

test('onTableTrained: each table is announced once, as soon as its own runs are trained', async () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'main-job-'));
  const s = experimentSettings('smoke');
  const t2 = selectCells(tableSpec('2', s), { rows: ['0.5/0.4 3x3'] });
  const t5 = tableSpec('5', s);
  const t3 = selectCells(tableSpec('3', s), { rows: ['3x3'], groups: ['3x3'] });
  const announced: { id: string; runs: number }[] = [];
  await runTables([t2, t5, t3], s, {
    runsDir,
    jobs: 1,
    quiet: true,
    onTableTrained: (t) => announced.push({ id: t.id, runs: fs.readdirSync(runsDir).length }),
  });
  assert.deepEqual(announced.map((a) => a.id).sort(), ['2', '3', '5']);
  // Table 3's one run is the cheapest table: it trains first and is announced at once; Tables 2 and
  // 5 share their two runs and follow when both are done.
  assert.deepEqual(announced, [
    { id: '3', runs: 1 },
    { id: '2', runs: 3 },
    { id: '5', runs: 3 },
  ]);
});
