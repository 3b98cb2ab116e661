import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAnchorSpec } from '../../lib/anchors';
import { forEachImageDetections } from '../../lib/detect/detect';
import { trainConfig } from '../../lib/train/config';
import { loadDatasetSpec } from '../../lib/train/datasets';
import { loadRun } from '../../lib/train/run-dir';
import { train } from '../../lib/train/trainer';

// Figure 2: a MetaAnchor model detects with one customized anchor at a time; boxes are decoded
// relative to that anchor, so their shapes follow its ratio (here after a few training steps, when
// the regression is still close to identity, strongly so).
test('single-anchor MetaAnchor inference: box shapes follow the anchor ratio', async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'single-')), 'run');
  await train(trainConfig('smoke', { method: 'metaanchor', steps: 3, evalImages: 1 }), dir, { quiet: true });
  const run = loadRun(dir);
  const ds = await loadDatasetSpec(run.config!.val, 'val');
  const medianRatio = async (spec: string): Promise<{ median: number; n: number }> => {
    const ratios: number[] = [];
    await forEachImageDetections(
      run.detector,
      ds,
      {
        anchors: parseAnchorSpec(spec),
        input: { maxSizePx: 64, pad: 'square', sizeDivisor: 32 },
        maxImages: 6,
        inference: { scoreThresh: 0.001, topkPerLevel: 1000, nmsIou: 0.5, maxDetections: 100 },
      },
      (_img, dets) => {
        for (let i = 0; i < dets.scores.length; i++) {
          const w = dets.boxes[4 * i + 2] - dets.boxes[4 * i];
          const h = dets.boxes[4 * i + 3] - dets.boxes[4 * i + 1];
          // Boxes cut by the image border lose their shape; keep interior ones.
          const inside = dets.boxes[4 * i] > 0 && dets.boxes[4 * i + 1] > 0 && dets.boxes[4 * i + 2] < 64 && dets.boxes[4 * i + 3] < 64;
          if (w > 0 && h > 0 && inside) ratios.push(h / w);
        }
      },
    );
    ratios.sort((a, b) => a - b);
    return { median: ratios[Math.floor(ratios.length / 2)], n: ratios.length };
  };
  const tall = await medianRatio('s:0.5,r:3');
  const wide = await medianRatio('s:0.5,r:1/3');
  const square = await medianRatio('s:0.5,r:1');
  for (const r of [tall, wide, square]) assert.ok(r.n >= 20, `too few detections (${r.n})`);
  // ratio h/w of the anchor is 3, 1/3 and 1; the decoded boxes keep it within 15 %.
  assert.ok(Math.abs(tall.median / 3 - 1) < 0.15, `tall anchor: median h/w ${tall.median}`);
  assert.ok(Math.abs(wide.median * 3 - 1) < 0.15, `wide anchor: median h/w ${wide.median}`);
  assert.ok(Math.abs(square.median - 1) < 0.15, `square anchor: median h/w ${square.median}`);
  run.detector.dispose();
});
