import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'bin', 'metaanchor.js'), ...args], { encoding: 'utf8', env: { ...process.env, METAANCHOR_QUIET: '1' } });

test('CLI: train -> evaluate (other anchors) -> search -> detect --anchors search, and clear errors', () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cli-')), 'meta');
  const tr = cli(
    'train',
    '--preset',
    'smoke',
    '--method',
    'metaanchor',
    '--anchors',
    '3x3',
    '--iou',
    '0.6/0.5',
    '--steps',
    '3',
    '--eval-images',
    '2',
    '--out',
    dir,
  );
  assert.equal(tr.status, 0, tr.stderr);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.equal(cfg.method, 'metaanchor');
  assert.equal(cfg.posIou, 0.6);
  assert.equal(cfg.negIou, 0.5);
  assert.equal(cfg.steps, 3);

  const ev = cli('evaluate', '--checkpoint', dir, '--anchors', '5x5', '--max-images', '3', '--json');
  assert.equal(ev.status, 0, ev.stderr);
  const r = JSON.parse(ev.stdout);
  assert.equal(r.anchors, '5x5');
  assert.equal(r.images, 3);
  assert.equal(r.stats.length, 12);

  const se = cli('search', '--checkpoint', dir, '--steps', '3', '--subset', '4');
  assert.equal(se.status, 0, se.stderr);
  const searched = JSON.parse(fs.readFileSync(path.join(dir, 'search.json'), 'utf8'));
  assert.equal(searched.trace.length, 3);

  const out = path.join(dir, 'results.json');
  const de = cli('detect', '--checkpoint', dir, '--anchors', 'search', '--max-images', '2', '--out', out);
  assert.equal(de.status, 0, de.stderr);
  const results = JSON.parse(fs.readFileSync(out, 'utf8'));
  assert.ok(Array.isArray(results));
  for (const d of results) assert.ok(d.bbox.length === 4 && d.score > 0 && d.category_id >= 1 && d.category_id <= 10);

  const badIou = cli('train', '--preset', 'smoke', '--iou', '0.4/0.5', '--out', path.join(dir, 'x'));
  assert.equal(badIou.status, 1);
  assert.match(badIou.stderr, /invalid IoU thresholds "0.4\/0.5"/);
  const noRun = cli('evaluate', '--checkpoint', path.join(dir, 'missing'));
  assert.equal(noRun.status, 1);
  assert.match(noRun.stderr, /error: --checkpoint .*missing does not exist\n  hint: pass the --out folder of a `metaanchor train` run/);
});
