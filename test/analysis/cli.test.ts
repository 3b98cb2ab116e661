// `metaanchor analyze` end to end: files on disk -> CLI process -> printed numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeDetections } from '../../lib/analysis';
import { assertClose, listCases, readJson } from '../eval/reference-cases';

const REPO = path.resolve(__dirname, '../..');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [path.join(REPO, 'bin', 'metaanchor.js'), ...args], { cwd: REPO, encoding: 'utf8' });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

test('analyze --json: ap equals eval coco AP50 / AP75, the six TIDE errors, the same numbers as the library; --html writes a page', () => {
  const dir = listCases('coco').find((d) => path.basename(d) === 'random_04_10img_3cat') as string;
  const gt = path.join(dir, 'gt.json');
  const dt = path.join(dir, 'dt.json');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'analyze-cli-'));
  try {
    const html = path.join(tmp, 'out', 'analysis.html');
    const res = cli(['analyze', '--gt', gt, '--dt', dt, '--json', '--html', html]);
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    const exp = readJson(path.join(dir, 'expected.json'));
    assertClose(out.ap['0.5'], exp.stats[1], 'ap 0.5');
    assertClose(out.ap['0.75'], exp.stats[2], 'ap 0.75');
    assert.deepEqual(Object.keys(out.errors), ['cls', 'loc', 'both', 'dupe', 'bkg', 'miss']);
    const lib = analyzeDetections(gt, dt);
    for (const k of Object.keys(lib.errors) as (keyof typeof lib.errors)[]) assert.equal(out.errors[k], lib.errors[k], k);
    assert.deepEqual(out.confusion.matrix, lib.confusion.matrix);
    assert.equal(out.prCurves.length, lib.prCurves.length);
    const page = fs.readFileSync(html, 'utf8');
    assert.match(page, /^<!DOCTYPE html>/);
    assert.equal((page.match(/class="metaanchor-plot"/g) ?? []).length, 4);

    const text = cli(['analyze', '--gt', gt, '--dt', dt]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`AP50 ${(100 * exp.stats[1]).toFixed(1)} +AP75 ${(100 * exp.stats[2]).toFixed(1)}`));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('analyze: bad inputs print error and hint, without a stack trace', () => {
  const dir = listCases('coco').find((d) => path.basename(d) === 'random_04_10img_3cat') as string;
  const gt = path.join(dir, 'gt.json');
  const cases: [string[], RegExp][] = [
    [
      ['--gt', gt, '--dt', '/nonexistent/results.json'],
      /^error: cannot read detection results file \/nonexistent\/results.json \(ENOENT\)\n {2}hint: check the path/,
    ],
    [['--gt', path.join(dir, 'dt.json'), '--dt', path.join(dir, 'dt.json')], /^error: .*ground truth must be a JSON object in COCO instances format/],
    [['--gt', gt, '--dt', path.join(dir, 'dt.json'), '--tf', '0.52'], /^error: t_f 0.52 is not one of COCO's IoU thresholds\n {2}hint: /],
    [['--gt', gt, '--dt', path.join(dir, 'dt.json'), '--ratio-bins', '3,1'], /^error: aspect-ratio bin edges must be positive and increasing/],
  ];
  for (const [args, pattern] of cases) {
    const res = cli(['analyze', ...args]);
    assert.equal(res.status, 1, args.join(' '));
    assert.match(res.stderr, pattern);
    assert.match(res.stderr, /hint: /);
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace for a user error');
  }
});
