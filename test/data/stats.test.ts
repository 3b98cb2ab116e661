import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tableOneConfig } from '../../lib/anchors';
import { collectInputBoxes, datasetStats, quantiles } from '../../lib/data/stats';
import { coverageTable } from '../../lib/data/anchor-coverage';
import { ignoreDroppedBoxes, paperDropRange, selectDroppedBoxes } from '../../lib/data/box-drop';
import { formatStats } from '../../lib/data/stats-report';
import { boxFigures, logRatioHistogramFigure, sizeHistogramFigure } from '../../lib/data/stats-figures';
import { DetectionDataset, ImageEntry, emptyReport } from '../../lib/data/types';

function entry(id: number, w: number, h: number, boxes: number[], classIdx: number[], ignore?: number[]): ImageEntry {
  const n = classIdx.length;
  return {
    id,
    fileName: `${id}.png`,
    filePath: `/nonexistent/${id}.png`,
    widthPx: w,
    heightPx: h,
    boxes: Float32Array.from(boxes),
    classIdx: Int32Array.from(classIdx),
    ignore: Uint8Array.from(ignore ?? new Array(n).fill(0)),
    annotationIds: Int32Array.from(classIdx.map((_, k) => id * 100 + k)),
    areas: new Float32Array(n),
  };
}

function dataset(images: ImageEntry[]): DetectionDataset {
  return {
    name: 'hand',
    format: 'coco',
    imageDir: '/nonexistent',
    source: '/nonexistent/x.json',
    categories: [{ index: 0, id: 1, name: 'a' }, { index: 1, id: 2, name: 'b' }],
    images,
    report: emptyReport(),
  };
}

test('quantiles interpolate linearly between order statistics (numpy default)', () => {
  assert.deepEqual(quantiles([4, 1, 3, 2], [0, 0.25, 0.5, 1]), [1, 1.75, 2.5, 4]);
  assert.deepEqual(quantiles([10], [0.3]), [10]);
  assert.ok(Number.isNaN(quantiles([], [0.5])[0]));
});

test('Table 4 drop selector: strict inequalities, paper range scaled by imageSize / 600', () => {
  const r = paperDropRange(600);
  assert.deepEqual(r, { sqrtMinPx: 50, sqrtMaxPx: 100, logRatioMin: -1, logRatioMax: 1 });
  const r160 = paperDropRange(160);
  assert.ok(Math.abs(r160.sqrtMinPx - 40 / 3) < 1e-12 && Math.abs(r160.sqrtMaxPx - 80 / 3) < 1e-12);
  const boxes = Float32Array.from([
    0, 0, 50, 50, // sqrt 50: on the edge, not dropped
    0, 0, 60, 60, // dropped
    0, 0, 99, 99, // dropped
    0, 0, 100, 100, // edge: kept
    0, 0, 70 * Math.sqrt(2.5), 70 / Math.sqrt(2.5), // w/h = 2.5 < e: dropped
    0, 0, 70 * Math.sqrt(3), 70 / Math.sqrt(3), // w/h = 3 > e: kept
    0, 0, 70 / Math.sqrt(3), 70 * Math.sqrt(3), // w/h = 1/3: kept
    0, 0, 10, 10, // small: kept
  ]);
  const sel = selectDroppedBoxes(boxes, r);
  assert.deepEqual(Array.from(sel.mask), [0, 1, 1, 0, 1, 0, 0, 0]);
  assert.equal(sel.count, 3);
  assert.equal(sel.fraction, 3 / 8);
});

test('ignoreDroppedBoxes flags the range as ignore and reports the fraction of non-ignore boxes', () => {
  const ds = dataset([
    entry(1, 600, 600, [0, 0, 60, 60, 0, 0, 10, 10, 0, 0, 70, 70], [0, 1, 0], [0, 0, 1]),
    entry(2, 300, 300, [0, 0, 30, 30], [1]),
  ]);
  const plain = ignoreDroppedBoxes(ds, paperDropRange(600));
  assert.deepEqual(Array.from(plain.dataset.images[0].ignore), [2, 0, 1]);
  assert.deepEqual(Array.from(plain.dataset.images[1].ignore), [0]);
  assert.equal(plain.dropped, 1);
  assert.equal(plain.fraction, 1 / 3);
  assert.deepEqual(Array.from(ds.images[0].ignore), [0, 0, 1], 'the input dataset is not modified');
  // In input pixels of a 600 px long side, image 2 (300 px) doubles: its 30 px box becomes 60 px.
  const resized = ignoreDroppedBoxes(ds, paperDropRange(600), { maxSizePx: 600 });
  assert.deepEqual(Array.from(resized.dataset.images[1].ignore), [2]);
  assert.equal(resized.dropped, 2);
});

test('datasetStats: counts, objects per image, quantiles, ratio tails, coverage', () => {
  const ds = dataset([
    entry(1, 160, 160, [20, 20, 52, 52, 0, 0, 96, 30, 0, 0, 5, 5], [0, 1, 0], [0, 0, 1]),
    entry(2, 160, 160, [10, 10, 20, 60], [1]),
    entry(3, 160, 160, [], []),
  ]);
  const s = datasetStats(ds, { input: { maxSizePx: 160, pad: 'square', sizeDivisor: 32 } });
  assert.equal(s.images, 3);
  assert.equal(s.boxes, 3);
  assert.equal(s.ignoreBoxes, 1);
  assert.equal(s.imagesWithoutBoxes, 1);
  assert.deepEqual(s.objectsPerImage, { mean: 1, min: 0, max: 2, histogram: [1, 1, 1] });
  assert.deepEqual(s.perClass, [{ name: 'a', count: 1 }, { name: 'b', count: 2 }]);
  // Sizes: 32, sqrt(96*30) = 53.67, sqrt(10*50) = 22.36.
  assert.ok(Math.abs(s.sizePxQuantiles[4] - 32) < 1e-9, 'median');
  assert.ok(Math.abs(s.sizePxQuantiles[0] - Math.sqrt(500)) < 1e-4);
  assert.equal(s.widerThan3, 1 / 3); // 96 x 30
  assert.equal(s.tallerThan3, 1 / 3); // 10 x 50
  assert.deepEqual(s.nearestLevel.map((l) => l.fraction), [1 / 3, 1 / 3, 1 / 3, 0, 0, 0]);
  // Drop range at 160 px: 13.3..26.7 px and |ln r| < 1: only the 10 x 50 box (22.4 px) has |ln 0.2| = 1.6 > 1.
  assert.equal(s.droppedFraction, 0);
  // The 32 x 32 box centred on the P3 cell centre (36, 36) = ((4 + 0.5) * 8, ...) is exactly 3x3's scale-1 square anchor.
  const exact = dataset([entry(1, 160, 160, [20, 20, 52, 52], [0])]);
  const cov = coverageTable(collectInputBoxes(exact, { maxSizePx: 160, pad: 'square', sizeDivisor: 32 }), [tableOneConfig('3x3')]);
  assert.deepEqual(cov, [{ config: '3x3', anchorsPerPosition: 9, meanBestIou: 1, atLeast04: 1, atLeast05: 1, atLeast06: 1 }]);
  // A 16 x 16 box at best overlaps a 32 x 32 anchor by 256 / 1024.
  const tiny = dataset([entry(1, 160, 160, [28, 28, 44, 44], [0])]);
  const covTiny = coverageTable(collectInputBoxes(tiny, { maxSizePx: 160, pad: 'square', sizeDivisor: 32 }), [tableOneConfig('3x3')]);
  assert.equal(covTiny[0].meanBestIou, 0.25);
  assert.equal(covTiny[0].atLeast04, 0);
  assert.equal(s.coverage!.length, 4);
  assert.deepEqual(s.coverage!.map((r) => r.config), ['3x3', '5x5', '7x7', '9x9']);
  const text = formatStats(s);
  assert.match(text, /hand: 3 images, 3 boxes \(\+1 ignore regions\)/);
  assert.match(text, /w\/h < 1\/3: 33\.3%/);
  assert.match(text, /3x3\s+9/);
});

test('histogram figures are plain plotly JSON whose counts add up', () => {
  const boxes = Float32Array.from([0, 0, 10, 10, 0, 0, 40, 40, 0, 0, 41, 39, 0, 0, 100, 20, 0, 0, 20, 100]);
  const size = sizeHistogramFigure(boxes, { dropRange: paperDropRange(160) });
  const sizeData = size.data[0] as { y: number[]; x: number[] };
  assert.equal(sizeData.y.reduce((a, b) => a + b, 0), 5);
  assert.equal((size.layout.xaxis as { type: string }).type, 'log');
  assert.equal(JSON.parse(JSON.stringify(size)).data[0].type, 'bar');
  const ratio = logRatioHistogramFigure(boxes);
  const ratioData = ratio.data[0] as { y: number[]; x: number[] };
  assert.equal(ratioData.y.reduce((a, b) => a + b, 0), 5);
  // ln(100/20) = 1.609 falls into the bin [1.6, 1.7).
  const k = ratioData.x.findIndex((x) => Math.abs(x - 1.65) < 1e-9);
  assert.equal(ratioData.y[k], 1);
  const ds = dataset([entry(1, 160, 160, [0, 0, 20, 20, 0, 0, 40, 40, 0, 0, 5, 5], [0, 1, 0], [0, 0, 1])]);
  const figs = boxFigures(ds, { maxSizePx: 160, pad: 'square', sizeDivisor: 32 });
  // Table 4's range in anchor units: the paper's 50..100 px at any input size (table4DropRange).
  assert.equal((figs.size.data[0] as { y: number[] }).y.reduce((a, b) => a + b, 0), 2, 'ignore boxes left out');
  const shaded = (figs.size.layout.shapes as { type: string; x0: number; x1: number }[]).find((sh) => sh.type === 'rect')!;
  assert.ok(shaded.x0 === 50 && shaded.x1 === 100, 'Table 4 range, 50..100 px');
});
