import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseBackendKind } from '../../lib/backend';

const root = path.join(__dirname, '..', '..');

/** Runs `metaanchor info --json` in a fresh process (a backend cannot be unloaded in-process). */
function info(env: Record<string, string>, args: string[] = []) {
  const res = spawnSync(process.execPath, [path.join(root, 'bin', 'metaanchor.js'), ...args, 'info', '--json'], {
    env: { ...process.env, METAANCHOR_BACKEND: '', ...env },
    encoding: 'utf8',
  });
  return res;
}

test('parseBackendKind accepts names and aliases, rejects others with a hint', () => {
  assert.equal(parseBackendKind('tfjs-node-gpu'), 'gpu');
  assert.equal(parseBackendKind('WASM'), 'wasm');
  assert.equal(parseBackendKind('tensorflow'), 'node');
  assert.throws(
    () => parseBackendKind('webgpu'),
    (err: Error & { hint?: string }) =>
      /unknown backend "webgpu"/.test(err.message) && /gpu \(tfjs-node-gpu\), node \(tfjs-node\), wasm, cpu/.test(err.hint ?? ''),
  );
});

test('automatic selection: native packages absent here, so wasm wins and says why the others were skipped', () => {
  const res = info({});
  assert.equal(res.status, 0, res.stderr);
  const report = JSON.parse(res.stdout);
  assert.equal(report.backend, 'wasm');
  assert.equal(report.tfBackend, 'wasm');
  assert.deepEqual(
    report.skipped.map((s: { kind: string }) => s.kind),
    ['gpu', 'node'],
  );
  // danfojs' alias of @tensorflow/tfjs under the tfjs-node name must not count as tfjs-node.
  assert.match(report.skipped[1].reason, /not installed/);
  assert.ok(report.details.some((d: string) => /training kernels registered/.test(d)));
});

test('environment override picks cpu; option override wins over the environment', () => {
  const env = info({ METAANCHOR_BACKEND: 'cpu' });
  assert.equal(env.status, 0, env.stderr);
  assert.equal(JSON.parse(env.stdout).tfBackend, 'cpu');
  const opt = info({ METAANCHOR_BACKEND: 'cpu' }, ['--backend', 'wasm']);
  assert.equal(opt.status, 0, opt.stderr);
  assert.equal(JSON.parse(opt.stdout).tfBackend, 'wasm');
});

test('requesting an unavailable backend fails with a clear message', () => {
  const res = info({ METAANCHOR_BACKEND: 'gpu' });
  assert.equal(res.status, 1);
  assert.match(res.stderr, /error: the requested backend could not be loaded \(gpu: not installed\)/);
  assert.match(res.stderr, /hint: install tfjs-node-gpu/);
});
