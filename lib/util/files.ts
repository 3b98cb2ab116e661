/**
 * Paths checked before any work, and file-system errors turned into `UserError`s.
 *
 * A command checks every path it reads (exists, right kind) and every path it writes (can be
 * created and written, probed with a real file so that a read-only mount or a permission problem
 * shows up before an hour of training, not after it). Node's own errors ("EROFS: read-only file
 * system, open '...'") become one sentence saying what could not be done, plus a hint. JSON input
 * files (COCO annotations and results, anchor sets) are read by one function, readJsonFile.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError, fsUserError, isFsError } from './errors';

/** Run `fn`; a file-system error it throws becomes a UserError (see fsUserError). */
export function withFsErrors<T>(what: string, fn: () => T, hint?: string): T {
  try {
    return fn();
  } catch (err) {
    if (isFsError(err)) throw fsUserError(err, what, hint);
    throw err;
  }
}

/**
 * Reads and parses a JSON file holding `what` (e.g. "annotation", "detection results"), with the
 * file name in every error: missing (`missingHint`, default "check the path"), a folder, unreadable,
 * or not valid JSON.
 */
export function readJsonFile(file: string, what: string, missingHint = 'check the path'): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new UserError(`${what} file ${file} is a folder`, 'give the JSON file inside it');
    throw new UserError(`cannot read ${what} file ${file}` + (code ? ` (${code})` : ''), code === 'ENOENT' ? missingHint : undefined);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(
      `${what} file ${file} is not valid JSON: ${(err as Error).message}`,
      'the file may be truncated or damaged: fix it, or export or download it again',
    );
  }
}

/** `option` names where the path came from, e.g. "--data"; it starts the message. */
function label(option: string, p: string): string {
  return option ? `${option} ${p}` : p;
}

/** An existing, readable file. Returns the absolute path. */
export function checkReadableFile(p: string, option = ''): string {
  return checkReadable(p, option, 'file');
}

/** An existing, readable folder. Returns the absolute path. */
export function checkReadableDir(p: string, option = ''): string {
  return checkReadable(p, option, 'folder');
}

function checkReadable(p: string, option: string, kind: 'file' | 'folder'): string {
  const abs = path.resolve(p);
  const st = statOrNull(abs, option, p);
  if (!st) throw new UserError(`${label(option, p)} does not exist`, 'check the path');
  if (st.isDirectory() !== (kind === 'folder')) {
    throw new UserError(
      `${label(option, p)} is a ${kind === 'file' ? 'folder, not a file' : 'file, not a folder'}`,
      kind === 'file' ? 'give the file inside it' : 'give a folder',
    );
  }
  try {
    fs.accessSync(abs, kind === 'file' ? fs.constants.R_OK : fs.constants.R_OK | fs.constants.X_OK);
  } catch {
    throw new UserError(`${label(option, p)} cannot be read (permission denied)`, 'change its permissions');
  }
  return abs;
}

/**
 * A folder that can be written: created if missing, then probed by writing and removing a file.
 * Returns the absolute path.
 */
export function checkWritableDir(p: string, option = ''): string {
  const abs = path.resolve(p);
  const st = statOrNull(abs, option, p);
  if (st && !st.isDirectory())
    throw new UserError(`${label(option, p)} is a file, not a folder`, `give ${option || 'the path'} a folder (new or one this command wrote)`);
  try {
    makeDirs(abs);
    const probe = path.join(abs, `.write-test.${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe, { force: true });
  } catch (err) {
    if (isFsError(err)) {
      if (err.path?.includes('.write-test.')) err.path = abs;
      throw fsUserError(err, `${option ? option + ' ' : ''}cannot be written`);
    }
    throw err;
  }
  return abs;
}

/**
 * mkdir -p that reports the real cause: Node's recursive mkdir says ENOENT ("does not exist") when
 * a parent is on a read-only file system or not writable, so on ENOENT the missing folders are made
 * one at a time from the nearest existing one, whose own error (EROFS, EACCES, ...) is then thrown.
 */
function makeDirs(abs: string): void {
  try {
    fs.mkdirSync(abs, { recursive: true });
    return;
  } catch (err) {
    if (!isFsError(err) || err.code !== 'ENOENT') throw err;
  }
  const missing: string[] = [];
  let dir = abs;
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) {
    missing.unshift(dir);
    dir = path.dirname(dir);
  }
  for (const d of missing) fs.mkdirSync(d);
}

/**
 * A file path that can be written: not a folder, its folder writable (created if missing). The
 * file itself is not created.
 */
export function checkWritableFile(p: string, option = ''): string {
  const abs = path.resolve(p);
  const st = statOrNull(abs, option, p);
  if (st?.isDirectory()) throw new UserError(`${label(option, p)} is a folder`, `give ${option || 'the path'} a file name, e.g. ${path.join(p, 'out.json')}`);
  checkWritableDir(path.dirname(abs), option ? `the folder of ${option}` : '');
  if (st) {
    try {
      fs.accessSync(abs, fs.constants.W_OK);
    } catch {
      throw new UserError(`${label(option, p)} exists and cannot be overwritten (permission denied)`, 'choose another path, or change its permissions');
    }
  }
  return abs;
}

function statOrNull(p: string, option: string, given: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR')
      throw new UserError(`${label(option, given)}: a part of the path is a file, not a folder`, 'check the path');
    if (isFsError(err)) throw fsUserError(err);
    throw err;
  }
}
