// The repository stands alone: nothing in it reads a folder beside the clone (such as a
// `../shared` reading room). Test data lives under test/fixtures with its provenance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const SELF = path.relative(root, __filename);

function* files(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (/\.(ts|js|py|sh|ipynb|json)$/.test(e.name)) yield p;
  }
}

test('no source, test, script or notebook refers to a folder beside the repository', () => {
  // "../shared" written out, or "shared" as a path segment handed to path.join/resolve.
  const patterns = [/\.\.[/\\]+shared\b/, /['"`]shared['"`]/];
  const offenders: string[] = [];
  for (const top of ['lib', 'test', 'scripts', 'notebooks', 'bin', 'kernels', 'bench']) {
    const dir = path.join(root, top);
    if (!fs.existsSync(dir)) continue;
    for (const f of files(dir)) {
      const rel = path.relative(root, f);
      if (rel === SELF || rel.startsWith(path.join('test', 'fixtures'))) continue;
      const text = fs.readFileSync(f, 'utf8');
      text.split('\n').forEach((line, i) => {
        if (patterns.some((re) => re.test(line))) offenders.push(`${rel}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
  }
  assert.deepEqual(offenders, [], `files that reach outside the repository:\n${offenders.join('\n')}`);
});
