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
  assert.ok(lines.includes('npx metaanchor search --checkpoint runs/paper/' + lines.find((l) => l.includes('--generator dependent'))!.split('runs/paper/')[1] + ' --steps 161 --subset 200 --seed 0'));
});
