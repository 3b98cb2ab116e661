#!/usr/bin/env node
// Kernel launcher for the "tslab" kernel spec of this folder (Jupyter starts it as
// `node {resource_dir}/launch.js {connection_file}` with the notebook's folder as working directory).
//
// It walks up from that folder to the nearest package.json and starts the tslab installed in that
// project's node_modules, so nothing needs a global install. The kernel's working directory becomes
// the project root: tslab compiles only files inside the folder it starts in and resolves imports
// relative to it (it ignores tsconfig.json), so notebooks import the library as "./lib/...".
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const { installFixes } = require('./tslab-fixes');

const TSLAB_MAIN = path.join('node_modules', 'tslab', 'dist', 'main.js');

function findProjectRoot(start) {
  for (let dir = path.resolve(start); ; ) {
    if (path.basename(dir) !== 'node_modules' && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function fail(message) {
  // Jupyter shows the kernel's stderr in the server log; nbclient reports the dead kernel.
  process.stderr.write(`tslab kernel: ${message}\n`);
  process.exit(1);
}

const connectionFile = process.argv[2];
if (!connectionFile) fail('usage: launch.js <connection_file>');

const start = process.cwd();
const root = findProjectRoot(start);
if (!root) fail(`no package.json in ${start} or any folder above it; open notebooks from inside the project`);
const main = path.join(root, TSLAB_MAIN);
if (!fs.existsSync(main)) fail(`${main} not found; run \`npm ci\` (or scripts/setup.sh) in ${root}`);

process.chdir(root);
// Status lines of lib/ (progress, backend) go to stdout in a kernel: stderr shows as an error block.
process.env.METAANCHOR_NOTEBOOK = '1';
installFixes(root, main);
// startKernel is tslab's stable entry point (kept backward compatible for global installs that
// hand over to a local one). enableFindLocal=false: we already picked the local copy.
require(main).startKernel({ configPath: path.resolve(start, connectionFile), enableFindLocal: false, jsKernel: false });
