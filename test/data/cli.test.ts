import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildProgram } from '../../lib/cli/main';
import { tempDir } from './helpers';

async function run(args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'metaanchor', ...args]);
  } finally {
    console.log = log;
  }
  return lines.join('\n');
}

test('CLI: data mnist-det, stats, draw, export-voc', async () => {
  const dir = tempDir('cli-data-');
  const out = await run(['data', 'mnist-det', '--out', dir, '--preset', 'classic', '--train', '8', '--val', '2', '--seed', '3', '--dist', '{"objectsMin":2,"objectsMax":2}']);
  assert.match(out, /train 8 images \/ 16 boxes, val 2 images \/ 4 boxes \(160 px, preset classic, seed 3\)/);
  const json = path.join(dir, 'annotations', 'instances_train.json');
  const stats = await run(['data', 'stats', '--data', json, '--anchors', '3x3|9x9']);
  assert.match(stats, /instances_train: 8 images, 16 boxes, measured in input px \(long side 160, square padding to x32\)/);
  assert.match(stats, /objects\/image mean 2\.00, min 2, max 2/);
  assert.match(stats, /Table 4 drop range 50\.0 < sqrt\(wh\) < 100\.0 px/);
  assert.match(stats, /\n\s+3x3\s+9\s+0\.\d{3}/);
  assert.match(stats, /\n\s+9x9\s+81\s+0\.\d{3}/);
  const js = JSON.parse(await run(['data', 'stats', '--data', json, '--json', '--anchors', '3x3']));
  assert.equal(js.boxes, 16);
  // Anchor coverage: BPR at the IoU the matcher uses equals the ">= 0.5" / ">= 0.6" column of the coverage table.
  assert.equal(js.anchorCoverage[0].bprIou, js.coverage[0].atLeast05);
  const strict = JSON.parse(await run(['data', 'stats', '--data', json, '--json', '--anchors', '3x3|h:20,w:40', '--pos-iou', '0.6', '--anchor-t', '3']));
  assert.deepEqual(strict.anchorCoverage.map((r: any) => [r.anchors, r.posIou, r.anchorT, r.numBoxes]), [['3x3', 0.6, 3, 16], ['h:20,w:40', 0.6, 3, 16]]);
  assert.equal(strict.anchorCoverage[0].bprIou, strict.coverage[0].atLeast06);
  const html = path.join(dir, 'stats.html');
  assert.match(await run(['data', 'stats', '--data', json, '--html', html]), /BPR IoU BPR ratio +AAT +pos\/box/);
  assert.equal((fs.readFileSync(html, 'utf8').match(/class="metaanchor-plot"/g) ?? []).length, 3);
  const png = path.join(dir, 'draw.png');
  assert.match(await run(['data', 'draw', '--data', json, '--image-id', '2', '--out', png, '--scale', '2']), /000002\.png \(id 2\) with 2 boxes/);
  assert.ok(fs.statSync(png).size > 1000);
  await run(['data', 'export-voc', '--data', json, '--out', path.join(dir, 'VOC'), '--out-set', 'train']);
  assert.equal(fs.readdirSync(path.join(dir, 'VOC', 'Annotations')).length, 8);
  await assert.rejects(run(['data', 'mnist-det', '--out', dir, '--dist', '{"sizeMedian":1}']), /unknown parameter\(s\) sizeMedian/);
});
