import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { BenchResult, alignTable, formatBenchReport, formatBytes, median, ratio } from '../../lib/bench/report';
import { parseTorchOutput, runTorchReference, TORCH_INSTALL_HINT } from '../../lib/bench/torch';
import { syntheticLabels } from '../../lib/bench/train-step';

test('median and ratio', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(ratio(250, 100), 2.5);
  assert.equal(ratio(250, null), null);
  assert.equal(ratio(250, 0), null);
  assert.equal(ratio(null, 3), null);
});

test('alignTable pads text left and numbers right', () => {
  assert.deepEqual(
    alignTable(
      [
        ['net', 'ms'],
        ['reference', '7'],
        ['q', '1234'],
      ],
      new Set([1]),
    ),
    ['net          ms', 'reference     7', 'q          1234'],
  );
  assert.equal(formatBytes(810 * 1024 ** 2), '810 MiB');
  assert.equal(formatBytes(3 * 1024 ** 3), '3.00 GiB');
  assert.equal(formatBytes(null), '-');
});

function result(torch: BenchResult['torch'], torchMs: number | null): BenchResult {
  return {
    machine: {
      node: 'v20.0.0',
      platform: 'Linux',
      cpus: 2,
      cpuModel: 'CPU',
      loadAvgStart: [1, 2, 3],
      loadAvgEnd: [1.5, 2, 3],
      tfjs: '4.22.0',
      backend: 'wasm',
      backendLine: '',
    },
    options: { quick: false, warmup: 2, steps: 10, torchThreads: 2 },
    torch,
    trainStep: [
      {
        net: 'reference',
        batch: 4,
        sizePx: 160,
        params: 843126,
        anchorsPerImage: 4842,
        tfjsMs: 262.4,
        tfjsMinMs: 250,
        torchMs,
        torchMinMs: torchMs,
        ratio: ratio(262.4, torchMs),
      },
    ],
    inference: { images: 64, batch: 8, sizePx: 160, endToEndImagesPerSec: 20.04, networkImagesPerSec: 40, scoreThresh: 0 },
    evaluator: { source: 'case', runs: 7, evaluateAccumulateSec: 0.2694, endToEndSec: 0.3, ap: 0.25, pycocotoolsSec: 3.32, fasterCocoEvalSec: 0.31 },
    search: { images: 32, candidates: 10, featureCacheSec: 0.5, candidatesPerSec: 4, secPerCandidate: 0.25 },
    memory: { wasmHeapBytes: 810 * 1024 ** 2, rssBytes: 1e9, maxRssBytes: 1e9 },
    totalSec: 100,
  };
}

test('report table shows figures and the tfjs/torch ratio', () => {
  const lines = formatBenchReport(result({ available: true, version: '1.13.1', threads: 2, python: '/usr/bin/python3' }, 25));
  const row = lines.find((l) => l.trim().startsWith('reference'))!;
  assert.deepEqual(row.trim().split(/\s{2,}/), ['reference', '4', '160 px', '0.843 M', '4842', '262 ms', '25.0 ms', '10.5x']);
  assert.ok(lines.includes('PyTorch 1.13.1, 2 threads (/usr/bin/python3)'));
  assert.ok(lines.some((l) => l.includes('20.0 img/s') && l.includes('batch 8 @ 160 px')));
  assert.ok(lines.some((l) => l.includes('0.269 s') && l.includes('pycocotools 3.32 s')));
  assert.ok(lines.some((l) => l.includes('4.00 cand/s') && l.includes('(250 ms each)')));
});

test('without torch the report shows tfjs alone and how to install torch', () => {
  const lines = formatBenchReport(result({ available: false, reason: "/usr/bin/python3: No module named 'torch'", hint: TORCH_INSTALL_HINT }, null));
  const row = lines.find((l) => l.trim().startsWith('reference'))!;
  assert.deepEqual(
    row
      .trim()
      .split(/\s{2,}/)
      .slice(5),
    ['262 ms', '-', '-'],
  );
  assert.ok(lines.some((l) => l.includes('not measured') && l.includes('apt-get install python3-torch')));
});

test('parseTorchOutput: missing torch, missing python, success, failure', () => {
  const missing = parseTorchOutput('/usr/bin/python3', 3, '{"available": false, "error": "No module named \'torch\'"}\n', '');
  assert.deepEqual(missing, { available: false, reason: "/usr/bin/python3: No module named 'torch'", hint: TORCH_INSTALL_HINT });
  const noPython = parseTorchOutput('/nope/python3', null, '', '', Object.assign(new Error('spawn'), { code: 'ENOENT' }));
  assert.equal(noPython.available, false);
  const ok = parseTorchOutput(
    '/usr/bin/python3',
    0,
    'noise\n{"available": true, "torch": "1.13.1", "threads": 2, "cases": [{"name": "r", "medianMs": 25}]}\n',
    '',
  );
  assert.ok(ok.available && ok.torch === '1.13.1' && ok.threads === 2 && ok.cases[0].medianMs === 25);
  assert.throws(() => parseTorchOutput('/usr/bin/python3', 1, '', 'Traceback\nValueError: bad'), /exit 1[\s\S]*ValueError: bad/);
});

test('runTorchReference with an interpreter that does not exist reports torch as unavailable', async () => {
  const r = await runTorchReference([], { python: '/nonexistent/python3', threads: 2, warmup: 0, steps: 1 });
  assert.equal(r.available, false);
  assert.ok(!r.available && r.reason.includes('/nonexistent/python3 not found'));
});

test('syntheticLabels: one positive and one ignored anchor per `every`, classes cycling', () => {
  assert.deepEqual([...syntheticLabels(1, 10, 3, 4)], [0, -1, -2, -1, 1, -1, -2, -1, 2, -1]);
  // Flat over the batch: the second image continues the pattern.
  assert.deepEqual([...syntheticLabels(2, 3, 2, 2)], [0, -2, 1, -2, 0, -2]);
  assert.throws(() => syntheticLabels(1, 4, 2, 1), /positiveEvery/);
});
