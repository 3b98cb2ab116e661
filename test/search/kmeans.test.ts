// Anchor-search baselines: YOLOv2 k-means (1 - IoU) and YOLOv5 evolution, and the `anchors` verb.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { anchorSizePx, parseAnchorSpec } from '../../lib/anchors';
import { buildProgram } from '../../lib/cli/main';
import { trainConfigFromCli } from '../../lib/cli/commands/train';
import { anchorFitness, evolveAnchors, foldToP3, kmeansIou, searchAnchorsFromBoxes, shapesToSpec, whIou } from '../../lib/search/kmeans';
import { anchorSetFromArg } from '../../lib/search/anchor-set';
import { openDataset } from '../../lib/data/open';
import { UserError } from '../../lib/util/errors';
import { collectInputBoxes } from '../../lib/data/stats';
import { geometryOf } from '../../lib/cli/commands/data';

test('corner-aligned IoU of (w, h) pairs', () => {
  assert.equal(whIou({ w: 10, h: 10 }, { w: 10, h: 10 }), 1);
  assert.equal(whIou({ w: 10, h: 20 }, { w: 20, h: 10 }), 100 / 300);
  assert.equal(whIou({ w: 4, h: 4 }, { w: 8, h: 8 }), 16 / 64);
});

test('boxes fold to P3 by their nearest level, clamped to P3..P7', () => {
  assert.deepEqual(
    foldToP3([
      { w: 64, h: 64 },
      { w: 20, h: 20 },
      { w: 46, h: 46 },
      { w: 1000, h: 1000 },
      { w: 100, h: 25 },
    ]),
    [
      { w: 32, h: 32 }, // P4
      { w: 20, h: 20 }, // below P3: stays
      { w: 23, h: 23 }, // sqrt 46 is nearer 64 (P4) than 32 in log scale
      { w: 62.5, h: 62.5 }, // P7 at most (16x)
      { w: 50, h: 12.5 }, // sqrt(2500) = 50 -> P4
    ],
  );
});

test('k-means with 1 - IoU: two clusters found exactly, seeded and deterministic', () => {
  const a = [
    { w: 10, h: 10 },
    { w: 10, h: 10 },
    { w: 12, h: 12 },
    { w: 8, h: 8 },
  ];
  const b = [
    { w: 40, h: 20 },
    { w: 44, h: 22 },
    { w: 36, h: 18 },
  ];
  const r = kmeansIou([...a, ...b], 2, { seed: 3 });
  assert.deepEqual(r.centroids, [
    { w: 10, h: 10 },
    { w: 40, h: 20 },
  ]);
  const expected = [...a.map((p) => whIou(p, { w: 10, h: 10 })), ...b.map((p) => whIou(p, { w: 40, h: 20 }))].reduce((s, v) => s + v, 0) / 7;
  assert.ok(Math.abs(r.meanIou - expected) < 1e-12);
  assert.deepEqual(kmeansIou([...a, ...b], 2, { seed: 3 }), r);
  assert.throws(() => kmeansIou(a, 5), /at least k = 5 boxes/);
  assert.throws(() => kmeansIou(a, 0), /k must be a whole number/);
});

test('YOLOv5 fitness: mean best ratio metric over boxes above 1/anchor_t, the shapes on every level', () => {
  const boxes = [
    { w: 32, h: 32 },
    { w: 10, h: 50 },
    { w: 128, h: 128 },
  ];
  // Anchor 32x32 at P3 (64, 128, 256, 512 above): box 1 x = 1, box 2 x = 10/32, box 3 x = 1 (P5).
  assert.ok(Math.abs(anchorFitness(boxes, [{ w: 32, h: 32 }]) - (2 + 10 / 32) / 3) < 1e-12);
  assert.ok(Math.abs(anchorFitness(boxes, [{ w: 32, h: 32 }], { anchorT: 3 }) - 2 / 3) < 1e-12);
  assert.ok(Math.abs(anchorFitness(boxes, [{ w: 32, h: 32 }], { levels: [3] }) - (1 + 10 / 32) / 3) < 1e-12);
});

test('evolution: fitness never decreases, ends above k-means, same seed same anchors', () => {
  const boxes = Array.from({ length: 60 }, (_, i) => ({ w: 12 + (i % 7) * 9, h: 30 + (i % 5) * 11 }));
  const start = [
    { w: 6, h: 6 },
    { w: 100, h: 10 },
  ];
  const r = evolveAnchors(boxes, start, { generations: 200, seed: 1 });
  assert.equal(r.trace.length, 200);
  for (let i = 1; i < r.trace.length; i++) assert.ok(r.trace[i] >= r.trace[i - 1]);
  assert.ok(r.fitness > r.initialFitness, `${r.fitness} > ${r.initialFitness}`);
  assert.equal(r.fitness, anchorFitness(boxes, r.shapes));
  assert.ok(r.shapes.every((s) => s.w >= 2 && s.h >= 2));
  assert.deepEqual(evolveAnchors(boxes, start, { generations: 200, seed: 1 }).shapes, r.shapes);
  assert.notDeepEqual(evolveAnchors(boxes, start, { generations: 200, seed: 2 }).shapes, r.shapes);
});

test('the spec reads back as the same sizes at P3; train and evaluate accept it', () => {
  const spec = shapesToSpec([
    { w: 15.2, h: 15.34 },
    { w: 57.88, h: 19.41 },
  ]);
  assert.equal(spec, 'h:15.34,w:15.2;h:19.41,w:57.88');
  const cfg = parseAnchorSpec(spec);
  const p3 = anchorSizePx(cfg.shapes[1], 8);
  assert.ok(Math.abs(p3.heightPx - 19.41) < 1e-9 && Math.abs(p3.widthPx - 57.88) < 1e-9);
  const train = trainConfigFromCli({ preset: 'smoke', method: 'baseline', generator: 'independent', anchors: spec, out: 'x' } as never);
  assert.equal(train.anchors, spec);
});

test('searchAnchorsFromBoxes: k-means then evolution on boxes in px; the verb prints and writes the same', async () => {
  const boxes: number[] = [];
  for (let i = 0; i < 80; i++) {
    const w = 10 + ((i * 37) % 90);
    const h = 10 + ((i * 53) % 70);
    boxes.push(0, 0, w, h);
  }
  const km = searchAnchorsFromBoxes(Float32Array.from(boxes), 'kmeans', { k: 4, seed: 0 });
  assert.equal(km.method, 'kmeans');
  assert.equal(parseAnchorSpec(km.anchors).shapes.length, 4);
  assert.equal(km.fitness, km.kmeansFitness);
  const evo = searchAnchorsFromBoxes(Float32Array.from(boxes), 'evolve', { k: 4, seed: 0, generations: 100 });
  assert.equal(evo.kmeansFitness, km.kmeansFitness);
  assert.ok(evo.fitness >= km.fitness);
  assert.equal(evo.trace!.length, 100);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anchors-cli-'));
  try {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    try {
      const program = () => buildProgram().exitOverride();
      await program().parseAsync(['node', 'metaanchor', 'data', 'mnist-det', '--out', dir, '--train', '12', '--val', '2', '--seed', '1']);
      const data = path.join(dir, 'annotations', 'instances_train.json');
      const out = path.join(dir, 'evo.json');
      lines.length = 0;
      await program().parseAsync(['node', 'metaanchor', 'anchors', 'evolve', '--data', data, '--k', '3', '--generations', '50', '--out', out]);
      const text = lines.join('\n');
      const file = JSON.parse(fs.readFileSync(out, 'utf8'));
      assert.equal(file.method, 'evolve');
      assert.equal(file.generations, 50);
      assert.ok(text.includes(`--anchors "${file.anchors}"`));
      assert.match(text, /\n {4}evolve +3 +\d+\.\d%/);
      assert.equal(anchorSetFromArg(out).name, 'evolve (3)');
      lines.length = 0;
      await program().parseAsync(['node', 'metaanchor', 'anchors', 'kmeans', '--data', data, '--k', '3', '--json']);
      const printed = JSON.parse(lines.join(''));
      // The same as the library on the dataset's boxes in its input pixels (160 px MNIST-Det, square).
      const { dataset, input } = await openDataset({ coco: data });
      const lib = searchAnchorsFromBoxes(collectInputBoxes(dataset, geometryOf(input, {})).boxes, 'kmeans', { k: 3 });
      assert.deepEqual({ ...printed, seconds: 0 }, { ...lib, seconds: 0, dataset: printed.dataset });
      assert.equal(printed.method, 'kmeans');
      for (const bad of [
        ['--k', '0'],
        ['--anchor-t', '1'],
        ['--pos-iou', '2'],
      ]) {
        await assert.rejects(
          program().parseAsync(['node', 'metaanchor', 'anchors', 'kmeans', '--data', data, ...bad]),
          (err: unknown) => err instanceof UserError && typeof err.hint === 'string',
          bad.join(' '),
        );
      }
    } finally {
      console.log = log;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
