import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCoco } from '../../lib/data/coco';
import {
  DetectionLoader,
  IMAGENET_MEAN,
  IMAGENET_STD,
  boxesToInput,
  boxesToOriginal,
  inferenceLoader,
  loaderConfig,
  resizedSize,
} from '../../lib/data/pipeline';
import { batchToTensor } from '../../lib/data/tensor';
import { UserError } from '../../lib/util/errors';
import { tempDir, writeCoordImage, writeEdgeCaseCoco } from './helpers';

test('resizedSize: long side to maxSizePx, or short side to minSizePx capped by maxSizePx', () => {
  assert.deepEqual(resizedSize(640, 480, { maxSizePx: 320 }), { widthPx: 320, heightPx: 240 });
  assert.deepEqual(resizedSize(480, 640, { maxSizePx: 320 }), { widthPx: 240, heightPx: 320 });
  assert.deepEqual(resizedSize(640, 427, { maxSizePx: 1000, minSizePx: 600 }), { widthPx: 899, heightPx: 600 });
  // 2:1 image: the 1000 px cap wins over the 600 px short side.
  assert.deepEqual(resizedSize(800, 400, { maxSizePx: 1000, minSizePx: 600 }), { widthPx: 1000, heightPx: 500 });
  assert.deepEqual(resizedSize(160, 160, { maxSizePx: 160 }), { widthPx: 160, heightPx: 160 });
});

test('boxes: input <-> original round trip with flip', () => {
  const t = { origWidthPx: 640, origHeightPx: 480, resizedWidthPx: 320, resizedHeightPx: 240, scaleX: 0.5, scaleY: 0.5, flipped: true };
  const orig = Float32Array.from([10, 20, 110, 220, 600, 0, 640, 480]);
  const input = boxesToInput(orig, t);
  assert.deepEqual(Array.from(input), [320 - 55, 10, 320 - 5, 110, 0, 0, 20, 240]);
  assert.deepEqual(Array.from(boxesToOriginal(input, t)), Array.from(orig));
  // Detections over the padding are clipped to the original image.
  assert.deepEqual(Array.from(boxesToOriginal(Float32Array.from([300, 200, 400, 300]), { ...t, flipped: false })), [600, 400, 640, 480]);
});

test('batches: pixels resized, normalised, flipped together with their boxes; grey replicated; padding zero', async () => {
  const dir = tempDir('pipe-');
  const { json } = await writeEdgeCaseCoco(dir);
  const ds = loadCoco({ annotationFile: json, onWarning: () => undefined });
  // Image a.png is 40x30 with pixel (x, y) = (x, y, 200); keep its size (maxSizePx 40) so values are exact.
  const loader = new DetectionLoader(ds, { maxSizePx: 40, pad: 'square', sizeDivisor: 32, batchSize: 3, shuffle: false, dropLast: false });
  const plain = await loader.makeBatch([0, 1, 2], [0, 0, 0]);
  assert.deepEqual(plain.shape, [3, 64, 64, 3]);
  const norm = (v: number, c: number): number => Math.fround((v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]);
  const px = (b: typeof plain, n: number, x: number, y: number): number[] => {
    const o = ((n * 64 + y) * 64 + x) * 3;
    return Array.from(b.images.subarray(o, o + 3));
  };
  assert.deepEqual(px(plain, 0, 7, 5), [norm(7, 0), norm(5, 1), norm(200, 2)]);
  assert.deepEqual(px(plain, 0, 40, 5), [0, 0, 0], 'padding right of the image');
  assert.deepEqual(px(plain, 0, 3, 30), [0, 0, 0], 'padding below the image');
  // b.png (20x20 grey 90) is enlarged to 40x40 and replicated to RGB.
  assert.deepEqual(px(plain, 1, 39, 39), [norm(90, 0), norm(90, 1), norm(90, 2)]);
  assert.deepEqual(Array.from(plain.items[1].boxes), [0, 0, 40, 20, 11, 12.5, 19, 18.5]);
  assert.equal(plain.items[2].boxes.length, 0);

  const flipped = await loader.makeBatch([0], [1]);
  assert.deepEqual(px(flipped, 0, 39 - 7, 5), px(plain, 0, 7, 5), 'pixel moved to the mirrored column');
  assert.deepEqual(Array.from(flipped.items[0].boxes), [40 - 12, 3, 40 - 2, 11, 0, 20, 10, 30]);
  assert.equal(flipped.items[0].flipped, true);

  const t = batchToTensor(plain);
  assert.deepEqual(t.shape, [3, 64, 64, 3]);
  t.dispose();
});

test('order and flips are a function of (seed, epoch); every image once per epoch; prefetch yields all batches', async () => {
  const dir = tempDir('pipe-order-');
  const images = [];
  for (let i = 0; i < 10; i++) {
    await writeCoordImage(path.join(dir, 'images', `${i}.png`), 16, 16);
    images.push({ id: i + 1, file_name: `${i}.png`, width: 16, height: 16 });
  }
  const json = path.join(dir, 'instances.json');
  fs.writeFileSync(json, JSON.stringify({ images, annotations: [], categories: [{ id: 1, name: 'x' }] }));
  const ds = loadCoco({ annotationFile: json, imageDir: path.join(dir, 'images') });
  const cfg = { maxSizePx: 16, sizeDivisor: 16, batchSize: 3, seed: 7, prefetchBatches: 2 };
  const a = new DetectionLoader(ds, cfg);
  const b = new DetectionLoader(ds, cfg);
  assert.deepEqual(a.epochOrder(0), b.epochOrder(0));
  assert.deepEqual(a.epochFlips(0), b.epochFlips(0));
  assert.notDeepEqual(a.epochOrder(0), a.epochOrder(1));
  assert.notDeepEqual(a.epochOrder(0), new DetectionLoader(ds, { ...cfg, seed: 8 }).epochOrder(0));
  assert.deepEqual([...a.epochOrder(1)].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const flips = a.epochFlips(0);
  assert.ok(flips.some((f) => f === 1) && flips.some((f) => f === 0));

  assert.equal(a.numBatches, 3, 'dropLast: 10 images -> 3 full batches of 3');
  const got: number[][] = [];
  for await (const batch of a.batches(0)) got.push(batch.items.map((it) => it.index));
  assert.deepEqual(got.flat(), Array.from(a.epochOrder(0).subarray(0, 9)));
  const inf = inferenceLoader(ds, cfg);
  const all: number[] = [];
  for await (const batch of inf.batches(0)) {
    all.push(...batch.items.map((it) => it.index));
    assert.ok(batch.items.every((it) => !it.flipped));
  }
  assert.deepEqual(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

  // The cache serves later epochs without touching the files.
  assert.equal(a.caching, true);
  await a.warmCache();
  fs.rmSync(path.join(dir, 'images'), { recursive: true });
  let n = 0;
  for await (const batch of a.batches(2)) n += batch.items.length;
  assert.equal(n, 9);
  // Without the cache, a missing file is a clear error.
  const uncached = new DetectionLoader(ds, { ...cfg, cache: false });
  await assert.rejects(async () => {
    for await (const _ of uncached.batches(0)) void _;
  }, (e: unknown) => e instanceof UserError && /cannot read image .*\.png/.test(e.message));
  // Breaking out early leaves no unhandled rejection behind, even when prefetched batches fail.
  for (let i = 0; i < 3; i++) await writeCoordImage(path.join(dir, 'images', `${i}.png`), 16, 16);
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const firstOnly = inferenceLoader(ds, { ...cfg, cache: false });
    for await (const batch of firstOnly.batches(0)) {
      assert.deepEqual(batch.items.map((it) => it.index), [0, 1, 2]);
      break;
    }
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
});

test('decoded size must match the annotation; config validation', async () => {
  const dir = tempDir('pipe-size-');
  await writeCoordImage(path.join(dir, 'images', 'a.png'), 20, 10);
  const json = path.join(dir, 'instances.json');
  fs.writeFileSync(json, JSON.stringify({ images: [{ id: 1, file_name: 'a.png', width: 10, height: 20 }], annotations: [], categories: [{ id: 1, name: 'x' }] }));
  const ds = loadCoco({ annotationFile: json, imageDir: path.join(dir, 'images') });
  const loader = new DetectionLoader(ds, { maxSizePx: 32 });
  await assert.rejects(loader.makeBatch([0], [0]), /a\.png \(id 1\) is 20x10 on disk but 10x20 in the annotations/);
  assert.throws(() => loaderConfig({ maxSizePx: 32, batchSize: 0 }), /batchSize must be a positive integer/);
  assert.throws(() => loaderConfig({ maxSizePx: 32, flipProb: 2 }), /flipProb/);
});
