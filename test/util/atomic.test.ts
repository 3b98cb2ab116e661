import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { replaceDirAtomicSync, writeJsonAtomicSync } from '../../lib/util/atomic';

test('writeJsonAtomicSync replaces the file and leaves no temporary files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'));
  const target = path.join(dir, 'sub', 'metrics.json');
  writeJsonAtomicSync(target, { a: 1 });
  writeJsonAtomicSync(target, { a: 2 });
  assert.deepEqual(JSON.parse(fs.readFileSync(target, 'utf8')), { a: 2 });
  assert.deepEqual(fs.readdirSync(path.dirname(target)), ['metrics.json']);
});

test('replaceDirAtomicSync keeps the old directory when filling fails', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'));
  const target = path.join(dir, 'ckpt');
  replaceDirAtomicSync(target, (d) => fs.writeFileSync(path.join(d, 'w.bin'), 'v1'));
  assert.throws(
    () =>
      replaceDirAtomicSync(target, (d) => {
        fs.writeFileSync(path.join(d, 'w.bin'), 'partial');
        throw new Error('disk full');
      }),
    /disk full/,
  );
  assert.equal(fs.readFileSync(path.join(target, 'w.bin'), 'utf8'), 'v1');
  replaceDirAtomicSync(target, (d) => fs.writeFileSync(path.join(d, 'w.bin'), 'v2'));
  assert.equal(fs.readFileSync(path.join(target, 'w.bin'), 'utf8'), 'v2');
  assert.deepEqual(fs.readdirSync(dir), ['ckpt']);
});
