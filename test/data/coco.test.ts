import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { loadCoco, toCocoJson, writeCocoJson } from '../../lib/data/coco';
import { categoryIdToIndex, categoryIndexToId } from '../../lib/data/types';
import { DetectionLoader, boxesToOriginal } from '../../lib/data/pipeline';
import { drawBatchItem, drawDatasetImage, PALETTE } from '../../lib/data/draw';
import { UserError } from '../../lib/util/errors';
import { PHOTOS_DIR, tempDir, writeEdgeCaseCoco } from './helpers';

function rewrite(json: string, edit: (raw: any) => void): string {
  const raw = JSON.parse(fs.readFileSync(json, 'utf8'));
  edit(raw);
  const out = json.replace(/\.json$/, `.${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(out, JSON.stringify(raw));
  return out;
}

test('COCO loader: sparse ids, crowd, image without boxes, clipped box', async () => {
  const dir = tempDir('coco-edge-');
  const { json, images } = await writeEdgeCaseCoco(dir);
  const warnings: string[] = [];
  const ds = loadCoco({ annotationFile: json, onWarning: (w) => warnings.push(w) });
  assert.equal(ds.imageDir, images, 'image folder found next to the json');
  // Contiguous indices in ascending id order; back to the official ids.
  assert.deepEqual(ds.categories.map((c) => [c.index, c.id, c.name]), [[0, 1, 'person'], [1, 18, 'dog'], [2, 90, 'toothbrush']]);
  assert.deepEqual([...categoryIdToIndex(ds)], [[1, 0], [18, 1], [90, 2]]);
  assert.equal(categoryIndexToId(ds, 2), 90);
  assert.deepEqual(ds.images.map((im) => im.id), [7, 3, 11], 'json order kept');
  const [a, b, c] = ds.images;
  assert.deepEqual(Array.from(a.boxes), [2, 3, 12, 11, 30, 20, 40, 30]);
  assert.deepEqual(Array.from(a.classIdx), [1, 2]);
  assert.deepEqual(Array.from(a.annotationIds), [101, 102]);
  assert.deepEqual(Array.from(b.ignore), [1, 0], 'crowd box kept as ignore region');
  assert.deepEqual(Array.from(b.boxes), [0, 0, 20, 10, 5.5, 6.25, 9.5, 9.25]);
  assert.equal(c.classIdx.length, 0, 'image without annotations kept');
  assert.equal(c.boxes.length, 0);
  assert.deepEqual(
    { clipped: ds.report.clippedBoxes, ignore: ds.report.ignoreBoxes, empty: ds.report.imagesWithoutAnnotations, anns: ds.report.annotations },
    { clipped: 1, ignore: 1, empty: 1, anns: 4 },
  );
  assert.equal(warnings.length, 1, 'clipping is reported in one line');
  assert.match(warnings[0], /clipped 1 box.*annotation ids 102/);
});

test('COCO loader: clear errors for missing files, bad fields, unknown categories, non-positive boxes', async () => {
  const dir = tempDir('coco-err-');
  const { json, images } = await writeEdgeCaseCoco(dir);
  const quiet = { onWarning: () => undefined };

  // Missing image files: named and counted.
  fs.rmSync(path.join(images, 'b.png'));
  fs.rmSync(path.join(images, 'c.png'));
  assert.throws(() => loadCoco({ annotationFile: json, imageDir: images, ...quiet }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /2 of 3 image file\(s\).*missing.*b\.png, c\.png/);
    return true;
  });
  assert.equal(loadCoco({ annotationFile: json, imageDir: images, checkFiles: false, ...quiet }).images.length, 3);

  // Malformed entries: which field of which entry.
  const badField = rewrite(json, (r) => {
    r.images[1].width = 'wide';
    r.annotations[2].bbox = [1, 2, 3];
  });
  assert.throws(() => loadCoco({ annotationFile: badField, checkFiles: false }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /2 malformed entries/);
    assert.match(e.message, /images\[1\] \(id 3\): field "width" must be a positive number, got "wide"/);
    assert.match(e.message, /annotations\[2\] \(id 103\): field "bbox" must be \[x, y, width, height\]/);
    return true;
  });
  fs.writeFileSync(path.join(dir, 'broken.json'), '{"images": [');
  assert.throws(() => loadCoco({ annotationFile: path.join(dir, 'broken.json') }), /broken\.json is not valid JSON/);
  const notCoco = rewrite(json, (r) => delete r.categories);
  assert.throws(() => loadCoco({ annotationFile: notCoco }), /"categories" must be an array/);

  // Unknown category ids.
  const unknownCat = rewrite(json, (r) => (r.annotations[0].category_id = 55));
  assert.throws(() => loadCoco({ annotationFile: unknownCat, checkFiles: false }), /1 annotation\(s\) use category ids not in "categories": 55 \(e\.g\. annotation 101\)/);

  // Non-positive size: error naming the annotation, or skipped and counted.
  const nonPos = rewrite(json, (r) => {
    r.annotations[0].bbox = [2, 3, 0, 8];
    r.annotations[3].bbox = [5, 5, 4, -1];
  });
  assert.throws(() => loadCoco({ annotationFile: nonPos, checkFiles: false }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /2 box\(es\) with non-positive size/);
    assert.match(e.message, /annotation 101 \(image 7\): bbox width 0, height 8/);
    assert.match(e.message, /annotation 104 /);
    assert.match(e.hint ?? '', /skipInvalidBoxes/);
    return true;
  });
  const warnings: string[] = [];
  const skipped = loadCoco({ annotationFile: nonPos, checkFiles: false, skipInvalidBoxes: true, onWarning: (w) => warnings.push(w) });
  assert.equal(skipped.report.skippedInvalidBoxes, 2);
  assert.equal(skipped.report.annotations, 2);
  assert.deepEqual(Array.from(skipped.images[0].annotationIds), [102]);
  assert.ok(warnings.some((w) => /skipped 2 box/.test(w)));

  // A box entirely outside its image counts as invalid too.
  const outside = rewrite(json, (r) => (r.annotations[0].bbox = [50, 3, 5, 5]));
  assert.throws(() => loadCoco({ annotationFile: outside, checkFiles: false, ...quiet }), /annotation 101 .*lies outside the 40x30 image/);
});

test('COCO writer round trip keeps ids, boxes, crowd flags and categories', async () => {
  const dir = tempDir('coco-rt-');
  const { json, images } = await writeEdgeCaseCoco(dir);
  const ds = loadCoco({ annotationFile: json, onWarning: () => undefined });
  const out = path.join(dir, 'annotations', 'instances_copy.json');
  writeCocoJson(ds, out);
  const again = loadCoco({ annotationFile: out, imageDir: images });
  assert.deepEqual(again.categories, ds.categories);
  assert.equal(again.report.clippedBoxes, 0, 'the written boxes are already clipped');
  for (let i = 0; i < ds.images.length; i++) {
    assert.deepEqual(Array.from(again.images[i].boxes), Array.from(ds.images[i].boxes));
    assert.deepEqual(Array.from(again.images[i].ignore), Array.from(ds.images[i].ignore));
    assert.deepEqual(Array.from(again.images[i].annotationIds), Array.from(ds.images[i].annotationIds));
  }
  assert.deepEqual(toCocoJson(ds).annotations[2], { id: 103, image_id: 3, category_id: 1, bbox: [0, 0, 20, 10], area: 200, iscrowd: 1 });
});

test('real photos (test/fixtures/photos): load, batch and draw without special handling', async () => {
  const ds = loadCoco({ annotationFile: path.join(PHOTOS_DIR, 'annotations.json') });
  assert.equal(ds.images.length, 4);
  assert.equal(ds.categories.length, 80);
  // Official sparse ids: 51 (bowl) is the 46th category, 90 (toothbrush) the last.
  assert.deepEqual([categoryIdToIndex(ds).get(51), ds.categories[45].name, categoryIdToIndex(ds).get(90)], [45, 'bowl', 79]);
  assert.equal(ds.report.annotations, 5);
  assert.deepEqual(ds.images.map((im) => [im.widthPx, im.heightPx]), [[512, 512], [451, 300], [600, 400], [640, 427]]);
  const raw = JSON.parse(fs.readFileSync(path.join(PHOTOS_DIR, 'annotations.json'), 'utf8'));
  const first = raw.annotations[0]; // the astronaut, [18, 14, 345, 498]
  const im9 = ds.images.find((im) => im.id === first.image_id)!;
  assert.deepEqual(Array.from(im9.boxes.subarray(0, 4)), [18, 14, 18 + 345, 14 + 498]);

  const loader = new DetectionLoader(ds, { maxSizePx: 256, pad: 'batch', sizeDivisor: 128, batchSize: 2, flipProb: 0.5, seed: 3, dropLast: false });
  const batches = [];
  for await (const b of loader.batches(0)) batches.push(b);
  assert.equal(batches.length, 2);
  const seen = new Set<number>();
  for (const b of batches) {
    const [n, h, w, c] = b.shape;
    assert.equal(n, 2);
    assert.equal(c, 3);
    assert.ok(h % 128 === 0 && w % 128 === 0 && h <= 256 && w <= 256);
    assert.equal(b.images.length, n * h * w * 3);
    for (const it of b.items) {
      seen.add(it.imageId);
      assert.equal(Math.max(it.resizedWidthPx, it.resizedHeightPx), 256);
      const entry = ds.images[it.index];
      const back = boxesToOriginal(it.boxes, it);
      for (let j = 0; j < back.length; j++) assert.ok(Math.abs(back[j] - entry.boxes[j]) < 1e-3);
    }
  }
  assert.equal(seen.size, 4);

  // Drawn boxes sit where the annotation says: the stroke colour is on the box's left edge.
  const png = await drawDatasetImage(ds, ds.images.indexOf(im9));
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [512, 512]);
  const colour = PALETTE[im9.classIdx[0] % PALETTE.length];
  const rgb = [1, 3, 5].map((o) => parseInt(colour.slice(o, o + 2), 16));
  const midY = Math.round((im9.boxes[1] + im9.boxes[3]) / 2);
  const at = (x: number, y: number): number[] => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  const edge = at(Math.round(im9.boxes[0]), midY);
  assert.ok(edge.every((v, k) => Math.abs(v - rgb[k]) <= 2), `edge pixel ${edge} is not the box colour ${rgb}`);

  // A batch item renders with its input-pixel boxes.
  const item = await drawBatchItem(batches[0], 0, loader.config, { classNames: ds.categories.map((cat) => cat.name) });
  const meta = await sharp(item).metadata();
  assert.deepEqual([meta.width, meta.height], [batches[0].shape[2], batches[0].shape[1]]);
});
