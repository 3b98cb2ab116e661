/**
 * Parsing of the opt-in wasm thread count (lib/backend/wasm-threads.ts). The threaded backend
 * itself is exercised by running the kernel suite under it:
 *   METAANCHOR_WASM_THREADS=2 node test/run.js wasm-kernels
 * (not part of the default run: see BENCHMARKS.md, "wasm threads", for its known failure).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_WASM_THREADS, requestedWasmThreads } from '../../lib/backend/wasm-threads';
import { UserError } from '../../lib/util/errors';

test('wasm thread count: option over env, 1 / empty = stock single-threaded build', () => {
  const saved = process.env.METAANCHOR_WASM_THREADS;
  try {
    delete process.env.METAANCHOR_WASM_THREADS;
    assert.equal(requestedWasmThreads(), undefined);
    assert.equal(requestedWasmThreads(2), 2);
    assert.equal(requestedWasmThreads(1), undefined);
    process.env.METAANCHOR_WASM_THREADS = ' 4 ';
    assert.equal(requestedWasmThreads(), 4);
    assert.equal(requestedWasmThreads(3), 3);
    process.env.METAANCHOR_WASM_THREADS = '';
    assert.equal(requestedWasmThreads(), undefined);
  } finally {
    if (saved === undefined) delete process.env.METAANCHOR_WASM_THREADS;
    else process.env.METAANCHOR_WASM_THREADS = saved;
  }
});

test('wasm thread count: anything but an integer 1..8 is a UserError naming the variable', () => {
  for (const bad of ['0', '-2', '2.5', 'two', String(MAX_WASM_THREADS + 1)]) {
    assert.throws(
      () => requestedWasmThreads(bad),
      (e: unknown) => e instanceof UserError && /invalid wasm thread count/.test(e.message) && /METAANCHOR_WASM_THREADS/.test(e.hint ?? ''),
      bad,
    );
  }
});
