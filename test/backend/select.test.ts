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
  assert.equal(parseBackendKind('WebGPU'), 'webgpu');
  assert.equal(parseBackendKind('dawn'), 'webgpu');
  assert.throws(
    () => parseBackendKind('webgl'),
    (err: Error & { hint?: string }) =>
      /unknown backend "webgl"/.test(err.message) && /gpu \(tfjs-node-gpu\), webgpu \(Dawn\), node \(tfjs-node\), wasm, cpu/.test(err.hint ?? ''),
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
    ['gpu', 'webgpu', 'node'],
  );
  // danfojs' alias of @tensorflow/tfjs under the tfjs-node name must not count as tfjs-node.
  assert.match(report.skipped[2].reason, /not installed/);
  // No GPU here: the automatic order never takes the software adapter, and says why WebGPU is out.
  assert.equal(report.webgpu.available, false);
  assert.match(report.webgpu.reason, /Vulkan|adapter/);
  assert.ok(report.webgpu.hint, 'a hint on what to install');
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

test('webgpu: a software adapter only when asked for; info then names it', (t) => {
  const refused = info({ METAANCHOR_BACKEND: 'webgpu', METAANCHOR_WEBGPU_SOFTWARE: '' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /error: the requested backend could not be loaded \(webgpu: (only a software adapter|no adapter|the `webgpu` package)/);
  assert.match(refused.stderr, /hint: /);
  const res = info({ METAANCHOR_BACKEND: 'webgpu', METAANCHOR_WEBGPU_SOFTWARE: '1' });
  if (res.status !== 0) {
    // Only "no adapter at all" may skip (Mesa's EGL/OpenGL missing; scripts/setup.sh installs it).
    assert.match(res.stderr, /webgpu: (no adapter|the `webgpu` package)/, res.stderr);
    t.skip(`the webgpu software adapter cannot be created here: ${res.stderr.trim().split('\n').slice(-2).join(' ')}`);
    return;
  }
  const report = JSON.parse(res.stdout);
  assert.equal(report.backend, 'webgpu');
  assert.equal(report.tfBackend, 'webgpu');
  assert.equal(report.webgpu.available, true);
  assert.equal(report.webgpu.adapter.type, 'software');
  assert.match(report.webgpu.adapter.api, /OpenGL|Vulkan/);
  assert.ok(report.webgpu.adapter.limits.maxBufferSize > 0);
  assert.ok(report.details.some((d: string) => /software adapter: for correctness checks only/.test(d)));
});
