/**
 * Drawing (lib/data/draw.ts): EXIF orientation applied as the loader applies it, unreadable images
 * named in a UserError, and labels that stay readable from thumbnails to large photos.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { PALETTE, drawBoxes, drawDetections, drawSizes } from '../../lib/data/draw';
import { loadCoco } from '../../lib/data/coco';
import { decodeResized } from '../../lib/data/pipeline';
import { UserError } from '../../lib/util/errors';
import { PHOTOS_DIR, tempDir } from './helpers';

const rgbOf = (hex: string): number[] => [1, 3, 5].map((o) => parseInt(hex.slice(o, o + 2), 16));

async function pixels(png: Buffer): Promise<{ at: (x: number, y: number) => number[]; width: number; height: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number): number[] => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  return { at, width: info.width, height: info.height };
}

test('drawing turns the image upright by its EXIF orientation, as loading does, so boxes land on the object', async () => {
  const dir = tempDir('draw-exif-');
  // Stored 60 wide x 40 high with orientation 6 ("rotate 90° clockwise to view"): upright it is
  // 40 x 60. The white square sits at upright (5..15, 30..40).
  const upright = Buffer.alloc(40 * 60 * 3, 0);
  for (let y = 30; y < 40; y++) for (let x = 5; x < 15; x++) upright.fill(255, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
  const stored = await sharp(upright, { raw: { width: 40, height: 60, channels: 3 } }).rotate(-90).raw().toBuffer();
  const file = path.join(dir, 'rotated.jpg');
  await sharp(stored, { raw: { width: 60, height: 40, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toFile(file);
  assert.deepEqual(((m) => [m.width, m.height, m.orientation])(await sharp(file).metadata()), [60, 40, 6]);

  const entry = {
    id: 1, fileName: 'rotated.jpg', filePath: file, widthPx: 40, heightPx: 60,
    boxes: new Float32Array(0), classIdx: new Int32Array(0), ignore: new Uint8Array(0), annotationIds: new Int32Array(0), areas: new Float32Array(0),
  };
  const decoded = await decodeResized(entry, 40, 60);
  assert.ok(decoded.data[(35 * 40 + 10) * decoded.channels] > 200, 'the loader sees the square at upright (10, 35)');

  const png = await drawBoxes(file, [5, 30, 15, 40], { classIdx: [2], lineWidthPx: 2 });
  const p = await pixels(png);
  assert.deepEqual([p.width, p.height], [40, 60]);
  assert.ok(p.at(10, 35).every((v) => v > 200), `inside the box is the white square: ${p.at(10, 35)}`);
  const colour = rgbOf(PALETTE[2]);
  assert.ok(p.at(5, 35).every((v, k) => Math.abs(v - colour[k]) <= 2), `left edge ${p.at(5, 35)} is the box colour ${colour}`);
});

test('a truncated JPEG is a UserError naming the file, also from `data draw`', async () => {
  const dir = tempDir('draw-truncated-');
  const whole = fs.readFileSync(path.join(PHOTOS_DIR, 'images', 'coffee.jpg'));
  const imagesDir = path.join(dir, 'images');
  fs.mkdirSync(imagesDir);
  const file = path.join(imagesDir, 'coffee.jpg');
  fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length * 0.6)));
  await assert.rejects(drawBoxes(file, [0, 0, 10, 10]), (err: UserError) => {
    assert.ok(err instanceof UserError);
    assert.ok(err.message.startsWith(`cannot draw ${file}: `), err.message);
    assert.equal(err.hint, 'the file may be truncated, corrupt or not an image');
    return true;
  });
  const raw = JSON.parse(fs.readFileSync(path.join(PHOTOS_DIR, 'annotations.json'), 'utf8'));
  const json = path.join(dir, 'coffee.json');
  fs.writeFileSync(json, JSON.stringify({ ...raw, images: raw.images.filter((im: { id: number }) => im.id === 5), annotations: raw.annotations.filter((a: { image_id: number }) => a.image_id === 5) }));
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'bin', 'metaanchor.js'), 'data', 'draw', '--data', json, '--images', imagesDir, '--out', path.join(dir, 'out.png')], { encoding: 'utf8', env: { ...process.env, METAANCHOR_QUIET: '1' } });
  assert.equal(r.status, 1, r.stderr);
  assert.ok(r.stderr.startsWith(`error: cannot draw ${file}: `), r.stderr);
  assert.ok(r.stderr.includes('\n  hint: the file may be truncated, corrupt or not an image'), r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(fs.existsSync(path.join(dir, 'out.png')), false);
});

test('line width and font grow with the image: labels readable on a 200 px and a 2000 px photo', async () => {
  assert.deepEqual(drawSizes(200, 150), { lineWidthPx: 2, fontSizePx: 11 });
  assert.deepEqual(drawSizes(2000, 1500), { lineWidthPx: 5, fontSizePx: 38 });
  assert.deepEqual(drawSizes(6000, 4000), { lineWidthPx: 8, fontSizePx: 48 });
  const dir = tempDir('draw-sizes-');
  const ds = loadCoco({ annotationFile: path.join(PHOTOS_DIR, 'annotations.json') });
  for (const [w, h, font] of [[200, 150, 11], [2000, 1500, 38]]) {
    const file = path.join(dir, `coffee-${w}.jpg`);
    await sharp(path.join(PHOTOS_DIR, 'images', 'coffee.jpg')).resize(w, h).jpeg().toFile(file);
    const one = { ...ds, images: [{ ...ds.images[2], fileName: `coffee-${w}.jpg`, filePath: file, widthPx: w, heightPx: h }] };
    // A cup detection in the middle of the image, labelled "cup 0.90" above its box.
    const box = [0.3 * w, 0.4 * h, 0.4 * w, 0.4 * h];
    const [out] = await drawDetections(one, [{ image_id: 5, category_id: 47, bbox: box, score: 0.9 }, { image_id: 5, category_id: 47, bbox: box, score: 0.1 }], path.join(dir, `out-${w}`));
    assert.equal(path.basename(out), `coffee-${w}.png`);
    const p = await pixels(fs.readFileSync(out));
    assert.deepEqual([p.width, p.height], [w, h]);
    // The label's filled background is font + 4 px tall, directly above the box.
    const colour = rgbOf(PALETTE[ds.categories.find((c) => c.id === 47)!.index % PALETTE.length]);
    const x = Math.round(box[0]) + 1;
    let run = 0;
    for (let y = Math.round(box[1]) - 1; y >= 0; y--) {
      if (!p.at(x, y).every((v, k) => Math.abs(v - colour[k]) <= 3)) break;
      run++;
    }
    assert.ok(Math.abs(run - (font + 4)) <= 1, `${w} px: label ${run} px tall, expected ${font + 4}`);
  }
});
