import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paperCommands, paperSettings } from '../../lib/experiments/paper-commands';
import { cellTrainConfigs, tableSpec } from '../../lib/experiments/tables';
import { trainConfigFromCli } from '../../lib/cli/commands/train';
import { trainConfig } from '../../lib/train/config';

/** The options of one printed `metaanchor train` line, as commander hands them to the action. */
function parseTrainLine(line: string): Parameters<typeof trainConfigFromCli>[0] {
  const tokens = line.replace(/^npx metaanchor train /, '').split(/\s+/);
  const o: Record<string, unknown> = { method: 'baseline', generator: 'independent' };
  for (let i = 0; i < tokens.length; i++) {
    const key = tokens[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (key === 'dropBoxes') o[key] = true;
    else o[key] = key === 'seed' ? Number(tokens[++i]) : tokens[++i];
  }
  return o as unknown as Parameters<typeof trainConfigFromCli>[0];
}

test("Table 8 at the paper's scale: every printed train command builds the cell's paper configuration", () => {
  const table = tableSpec('8', paperSettings());
  const lines = paperCommands(table);
  const trains = lines.filter((l) => l.startsWith('npx metaanchor train '));
  const expected = [...new Map(table.cells.flatMap(cellTrainConfigs).map((c) => [JSON.stringify(c), c])).values()];
  assert.equal(trains.length, 11);
  assert.equal(expected.length, 11);
  trains.forEach((line, i) => {
    const fromCli = trainConfigFromCli(parseTrainLine(line));
    const want = expected[i];
    // Equal except the dataset paths, which the CLI resolves to absolute paths.
    assert.deepEqual({ ...fromCli, train: undefined, val: undefined }, { ...want, train: undefined, val: undefined }, line);
    assert.equal(fromCli.train.kind, 'coco');
    assert.match(JSON.stringify(fromCli.train), /instances_train2017\.json/);
    assert.match(JSON.stringify(fromCli.val), /instances_val2017\.json/);
  });
  assert.equal(paperSettings().base.imageSizePx, trainConfig('paper').imageSizePx);
  assert.ok(
    lines.includes(
      'npx metaanchor search --checkpoint runs/paper/' +
        lines.find((l) => l.includes('--generator dependent'))!.split('runs/paper/')[1] +
        ' --steps 161 --subset 200 --seed 0',
    ),
  );
});

test("Table 5 at the paper's scale: each cell's VOC 2007 evaluation is a command (sofa left out, search anchors for the search cell)", () => {
  const lines = paperCommands(tableSpec('5', paperSettings()));
  const evals = lines.filter((l) => l.startsWith('npx metaanchor evaluate '));
  assert.equal(evals.length, 3);
  for (const l of evals)
    assert.match(l, /^npx metaanchor evaluate --checkpoint runs\/paper\/\S+ --voc data\/VOCdevkit\/VOC2007 --image-set test --leave-out sofa/);
  const [baseline, meta, metaSearch] = evals;
  assert.match(baseline, /runs\/paper\/baseline-3x3-iou0\.5-0\.4-paper-seed0-[0-9a-f]{12} --voc/);
  assert.match(meta, /runs\/paper\/metaanchor-3x3-iou0\.5-0\.4-paper-seed0-[0-9a-f]{12} --voc .*sofa$/);
  assert.match(metaSearch, /metaanchor-3x3-.* --leave-out sofa --anchors search$/);
  assert.ok(lines.some((l) => /^npx metaanchor search --checkpoint runs\/paper\/metaanchor-3x3-/.test(l)));
  assert.ok(!lines.some((l) => /does not do|see above/.test(l)));
});
