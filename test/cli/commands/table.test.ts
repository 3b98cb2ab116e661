import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.join(__dirname, '..', '..', '..');
const cli = (args: string[]) =>
  spawnSync(process.execPath, [path.join(REPO, 'bin', 'metaanchor.js'), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, METAANCHOR_QUIET: '1' },
  });

test('`metaanchor table 5 8 --profile smoke`: both tables beside the paper; a rerun trains and evaluates nothing', () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'table58-cli-'));
  const args = ['table', '5', '8', '--profile', 'smoke', '--runs-dir', runsDir, '--jobs', '1'];
  // --plan before anything is trained: what is missing, and nothing trained.
  const before = cli([...args, '--plan']);
  assert.equal(before.status, 0, before.stderr);
  assert.match(before.stdout, /^Table 5: 2 runs, 0 finished, 2 to train; trained after /m);
  assert.match(before.stdout, /^Table 8: 11 runs, 0 finished, 11 to train; trained after /m);
  assert.match(before.stdout, /in all: 11 runs: 0 finished, 0 partly trained, 11 not started; [\d,]+ s of single-process training left, .* on 1 worker/);
  assert.deepEqual(fs.readdirSync(runsDir), []);
  const res = cli(args);
  assert.equal(res.status, 0, res.stderr);
  const out = res.stdout;
  assert.match(out, /Table 5: transfer to a dataset with another box distribution \(VOC07 mAP@0\.5\) — Sec\. 4\.1\.3 \(end\), Table 5/);
  assert.match(out, /runs: 2 trained, 0 resumed, 0 reused; evaluations: 3 computed, 0 cached/);
  assert.match(out, /\[82\.5\].*\[83\.1\].*\[83\.3\].*\(single seed\) \[\+0\.6\]/);
  assert.match(out, /Table 8: .* — Sec\. 4\.2, Table 8/);
  // 11 runs, 2 of them Table 5's; 8 training-subset scores + 5 validation evaluations, one shared.
  assert.match(out, /runs: 11 trained, 0 resumed, 0 reused; evaluations: 12 computed, 1 cached/);
  for (const [row, paper] of [
    ['RetinaNet 3x3/3x3', '35.8'],
    ['RetinaNet\\* search/search', '36.9'],
    ['MetaAnchor 3x3/3x3', '36.8'],
    ['MetaAnchor 9x9/search', '37.5'],
    ['MetaAnchor data-dependent 9x9/search', '37.9'],
  ]) {
    assert.match(out, new RegExp(`^${row} .*\\[${paper.replace('.', '\\.')}\\]`, 'm'), row);
  }
  assert.match(out, /^RetinaNet\* search\/search +picked +0\.[56]\/0\.[45] [3579]x[3579] /m);
  assert.equal(fs.readdirSync(runsDir).length, 11);

  const again = cli([...args, '--json']);
  assert.equal(again.status, 0, again.stderr);
  const [t5, t8] = JSON.parse(again.stdout) as {
    table: string;
    counts: Record<string, number>;
    cells: { row: string; seeds: { selection?: { picked: string; candidates: unknown[] }; eval: { voc?: { perClass: unknown[] } } }[] }[];
  }[];
  assert.equal(t5.table, '5');
  assert.deepEqual(t5.counts, { trained: 0, resumed: 0, reused: 2, evaluated: 0, evalReused: 3 });
  assert.equal(t5.cells[0].seeds[0].eval.voc!.perClass.length, 3);
  assert.deepEqual(t8.counts, { trained: 0, resumed: 0, reused: 11, evaluated: 0, evalReused: 13 });
  assert.equal(t8.cells[1].seeds[0].selection!.candidates.length, 8);
  // --plan after: everything finished, and the finished runs' logged step times against the fit.
  const after = cli([...args, '--plan']);
  assert.equal(after.status, 0, after.stderr);
  assert.match(after.stdout, /^Table 5: 2 runs, 2 finished, 0 to train; ready now/m);
  assert.match(after.stdout, /in all: 11 runs: 11 finished, 0 partly trained, 0 not started; 0 s of single-process training left/);
  assert.match(after.stdout, /the 11 finished run\(s\) of this cache took \d+\.\d\dx it \(median\)/);
});

test('`metaanchor table 8 --paper-commands` prints the paper-scale commands without running', () => {
  const res = cli(['table', '8', '--paper-commands']);
  assert.equal(res.status, 0, res.stderr);
  const lines = res.stdout.split('\n');
  assert.equal(lines.filter((l) => l.startsWith('npx metaanchor train --preset paper ')).length, 11);
  assert.equal(lines.filter((l) => l.startsWith('npx metaanchor search ')).length, 2);
  assert.ok(
    lines.every(
      (l) => !l.startsWith('npx metaanchor train') || l.includes('--data data/coco/annotations/instances_train2017.json --images data/coco/train2017'),
    ),
  );
  const bad = cli(['table', '9']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /no table "9"/);
});

test('`metaanchor table 7 --profile smoke`: YOLOv2 baseline, MetaAnchor and search beside the paper; a rerun is all cached', () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'table7-cli-'));
  const args = ['table', '7', '--profile', 'smoke', '--runs-dir', runsDir, '--jobs', '1'];
  const res = cli(args);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /Table 7: YOLOv2 \(baseline\) vs MetaAnchor on YOLOv2, with greedy search — Sec\. 4\.2, Table 7/);
  assert.match(res.stdout, /the paper's COCO-full, minival \(YOLOv2, darknet-19, 416 px\)/);
  assert.match(res.stdout, /runs: 2 trained, 0 resumed, 0 reused; evaluations: 3 computed, 0 cached/);
  assert.match(res.stdout, /^YOLOv2 .*\[18\.9\].*\[35\.2\].*\[21\.2\].*\[39\.4\].*\[21\.2\].*\[39\.5\].*\(single seed\) \[\+2\.3\]$/m);
  assert.deepEqual(
    fs
      .readdirSync(runsDir)
      .map((d) => d.replace(/-[0-9a-f]{12}$/, ''))
      .sort(),
    ['yolov2-baseline-smoke-seed0', 'yolov2-metaanchor-smoke-seed0'],
  );
  const again = cli([...args, '--json']);
  assert.equal(again.status, 0, again.stderr);
  const r = JSON.parse(again.stdout) as {
    table: string;
    counts: Record<string, number>;
    cells: { group: string; seeds: { eval: { stats: number[]; searchFile?: string } }[] }[];
  };
  assert.equal(r.table, '7');
  assert.deepEqual(r.counts, { trained: 0, resumed: 0, reused: 2, evaluated: 0, evalReused: 3 });
  assert.deepEqual(
    r.cells.map((c) => c.group),
    ['Baseline', 'MetaAnchor', 'MetaAnchor + search'],
  );
  assert.ok(r.cells[2].seeds[0].eval.searchFile);
  const paper = cli(['table', '7', '--paper-commands']);
  assert.equal(paper.status, 0, paper.stderr);
  assert.equal(paper.stdout.split('\n').filter((l) => l.startsWith('npx metaanchor train --preset paper --detector yolov2 ')).length, 2);
});
