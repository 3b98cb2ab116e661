/**
 * The walk up to package.json: the package folder holding a file, and this project's root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The nearest folder at or above `start` that holds a package.json, or undefined at the file-system root. */
export function packageDirAbove(start: string): string | undefined {
  for (let dir = start; ;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The project root (folder of package.json above this file), or the working directory if there is none. */
export function projectRoot(): string {
  return packageDirAbove(__dirname) ?? process.cwd();
}
