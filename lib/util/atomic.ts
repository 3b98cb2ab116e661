/**
 * Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the
 * target. A reader (or a resumed run after a crash) sees either the old file or the new one, never
 * half of one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

let counter = 0;

function tempPathFor(target: string): string {
  counter += 1;
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${counter}.tmp`);
}

export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export function writeJsonAtomicSync(target: string, value: unknown): void {
  writeFileAtomicSync(target, JSON.stringify(value, null, 1) + '\n');
}

/**
 * Replace a whole directory atomically: `fill` writes into a fresh sibling directory, which is then
 * swapped in place of `target` (the old one is renamed aside first, then removed). Used for
 * checkpoints made of several files.
 */
export function replaceDirAtomicSync(target: string, fill: (dir: string) => void): void {
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const staging = tempPathFor(target);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging);
  try {
    fill(staging);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  const old = `${staging}.old`;
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(staging, target);
  fs.rmSync(old, { recursive: true, force: true });
}
