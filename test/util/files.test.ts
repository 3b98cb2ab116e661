/**
 * Path checks and file-system errors as UserErrors (lib/util/files.ts, lib/util/errors.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkReadableDir, checkReadableFile, checkWritableDir, checkWritableFile, withFsErrors } from '../../lib/util/files';
import { UserError, formatError } from '../../lib/util/errors';

// node:fs itself (the namespace import is read-only), to inject a read-only file system.
const nodeFs: { writeFileSync: typeof fs.writeFileSync; mkdirSync: typeof fs.mkdirSync } = require('node:fs');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'files-'));

function errnoError(code: string, syscall: string, file: string, text: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${file}'`), { code, syscall, path: file });
}

test('a read-only --out is found before any work and named as such, not as "no such file or directory"', () => {
  const dir = path.join(tmp(), 'out');
  const write = nodeFs.writeFileSync;
  nodeFs.writeFileSync = ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
    if (String(file).startsWith(dir)) throw errnoError('EROFS', 'open', String(file), 'read-only file system');
    return (write as (...a: unknown[]) => void)(file, ...rest);
  }) as typeof fs.writeFileSync;
  try {
    assert.throws(
      () => checkWritableDir(dir, '--out'),
      (err: UserError) => {
        assert.ok(err instanceof UserError);
        assert.equal(err.message, `--out cannot be written: ${dir}: is on a read-only file system`);
        assert.equal(err.hint, 'choose a path on a writable disk');
        return true;
      },
    );
  } finally {
    nodeFs.writeFileSync = write;
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'no probe file left behind');
});

test('a new --out folder under a read-only parent says read-only, although recursive mkdir says ENOENT there', () => {
  // What Node 20 does on a read-only mount: mkdir -p of a new folder fails with ENOENT, a plain
  // mkdir of the same folder with EROFS (seen on read-only bind mounts and tmpfs).
  const parent = tmp();
  const out = path.join(parent, 'runs', 'a');
  const mkdir = nodeFs.mkdirSync;
  nodeFs.mkdirSync = ((p: fs.PathLike, opts?: fs.MakeDirectoryOptions) => {
    if (String(p).startsWith(parent + path.sep)) {
      if (opts && typeof opts === 'object' && opts.recursive) throw errnoError('ENOENT', 'mkdir', String(p), 'no such file or directory');
      throw errnoError('EROFS', 'mkdir', String(p), 'read-only file system');
    }
    return (mkdir as (...a: unknown[]) => unknown)(p, opts);
  }) as typeof fs.mkdirSync;
  try {
    assert.throws(
      () => checkWritableDir(out, '--out'),
      (err: UserError) => {
        assert.ok(err instanceof UserError);
        assert.equal(err.message, `--out cannot be written: ${path.join(parent, 'runs')}: is on a read-only file system`);
        assert.equal(err.hint, 'choose a path on a writable disk');
        return true;
      },
    );
  } finally {
    nodeFs.mkdirSync = mkdir;
  }
});

test('a real read-only mount: a new --out folder under it is named read-only', (t) => {
  const mnt = tmp();
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    t.skip(`cannot mount a read-only tmpfs here (${(m.stderr || m.error?.message || '').trim()}); the injected case above covers the logic`);
    return;
  }
  try {
    assert.throws(
      () => checkWritableDir(path.join(mnt, 'runs', 'a'), '--out'),
      (err: UserError) => err instanceof UserError && /is on a read-only file system$/.test(err.message),
    );
  } finally {
    spawnSync('umount', [mnt]);
  }
});

test('readable and writable checks name the option, the path and what is wrong', () => {
  const dir = tmp();
  const file = path.join(dir, 'f.json');
  fs.writeFileSync(file, '{}');
  assert.equal(checkReadableFile(file, '--data'), file);
  assert.equal(checkReadableDir(dir, '--images'), dir);
  const cases: [() => unknown, string, string][] = [
    [() => checkReadableFile(dir, '--data'), `--data ${dir} is a folder, not a file`, 'give the file inside it'],
    [() => checkReadableFile(path.join(dir, 'none'), '--data'), `--data ${path.join(dir, 'none')} does not exist`, 'check the path'],
    [() => checkReadableDir(file, '--images'), `--images ${file} is a file, not a folder`, 'give a folder'],
    [() => checkWritableDir(file, '--out'), `--out ${file} is a file, not a folder`, 'give --out a folder (new or one this command wrote)'],
    [() => checkWritableFile(dir, '--out'), `--out ${dir} is a folder`, `give --out a file name, e.g. ${path.join(dir, 'out.json')}`],
    [
      () => checkWritableFile(path.join(file, 'x.json'), '--out'),
      `--out ${path.join(file, 'x.json')}: a part of the path is a file, not a folder`,
      'check the path',
    ],
  ];
  for (const [fn, message, hint] of cases) {
    assert.throws(fn, (err: UserError) => err instanceof UserError && err.message === message && err.hint === hint, message);
  }
  assert.equal(checkWritableFile(path.join(dir, 'new', 'out.json'), '--out'), path.join(dir, 'new', 'out.json'));
  assert.ok(fs.statSync(path.join(dir, 'new')).isDirectory());
});

test('a file-system error reaching the CLI prints as error + hint without a stack trace', () => {
  const raw = errnoError('ENOSPC', 'write', '/data/run/log.jsonl', 'no space left on device');
  assert.equal(
    formatError(raw),
    'error: /data/run/log.jsonl: no space left on the device\n  hint: free space on that disk (or choose another one) and run the command again',
  );
  assert.equal(
    formatError(errnoError('EISDIR', 'read', '/data/coco', 'illegal operation on a directory')),
    'error: /data/coco: is a folder, not a file\n  hint: give a file path',
  );
  assert.throws(
    () => withFsErrors('cannot read the results', () => fs.readFileSync(path.join(tmp(), 'missing.json'))),
    (err: UserError) =>
      err instanceof UserError && /^cannot read the results: .*missing\.json: does not exist$/.test(err.message) && err.hint === 'check the path',
  );
  // Anything else is a bug and keeps its stack.
  assert.match(formatError(new TypeError('x is undefined')), /^TypeError: x is undefined\n\s+at /);
});
