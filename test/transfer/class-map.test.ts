import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CategoryInfo, DetectionDataset, ImageEntry } from '../../lib/data/types';
import { COCO_TO_VOC, alignTargetClasses, resultsInDataIds } from '../../lib/transfer/class-map';
import { UserError } from '../../lib/util/errors';

const VOC_NAMES = ['aeroplane', 'person', 'sofa', 'tvmonitor'];

function image(id: number, classIdx: number[]): ImageEntry {
  const n = classIdx.length;
  const boxes = new Float32Array(4 * n);
  classIdx.forEach((_, k) => boxes.set([10 * k, 1, 10 * k + 5, 9], 4 * k));
  return {
    id,
    fileName: `${id}.jpg`,
    filePath: `/voc/${id}.jpg`,
    widthPx: 100,
    heightPx: 50,
    boxes,
    classIdx: Int32Array.from(classIdx),
    ignore: Uint8Array.from(classIdx, (_, k) => (k === 1 ? 2 : 0)),
    annotationIds: Int32Array.from(classIdx, (_, k) => 100 * id + k),
    areas: Float32Array.from(classIdx, (_, k) => 40 + k),
  };
}

function vocTarget(names = VOC_NAMES): DetectionDataset {
  return {
    name: 'VOC2007/test',
    format: 'voc',
    imageDir: '/voc',
    source: '/voc',
    categories: names.map((name, i) => ({ index: i, id: i + 1, name })),
    // aeroplane, sofa, tvmonitor | person, person
    images: [image(1, [0, 2, 3]), image(2, [1, 1])],
    report: {} as DetectionDataset['report'],
  };
}

const coco = (names: string[]): CategoryInfo[] => names.map((name, i) => ({ index: i, id: [1, 2, 5, 63, 72, 90][i] ?? 100 + i, name }));

test('COCO_TO_VOC: the 20 VOC classes, each from a distinct COCO class', () => {
  const voc = Object.values(COCO_TO_VOC);
  assert.equal(voc.length, 20);
  assert.equal(new Set(voc).size, 20);
  assert.deepEqual([...voc].sort(), [
    'aeroplane',
    'bicycle',
    'bird',
    'boat',
    'bottle',
    'bus',
    'car',
    'cat',
    'chair',
    'cow',
    'diningtable',
    'dog',
    'horse',
    'motorbike',
    'person',
    'pottedplant',
    'sheep',
    'sofa',
    'train',
    'tvmonitor',
  ]);
});

test("alignTargetClasses: VOC ground truth in a COCO detector's classes (airplane, couch, tv renamed)", () => {
  const source = coco(['person', 'bicycle', 'airplane', 'couch', 'tv']);
  const a = alignTargetClasses(vocTarget(), source);
  // Detector class i keeps its id; matched classes take the VOC name.
  assert.deepEqual(a.dataset.categories, [
    { index: 0, id: 1, name: 'person' },
    { index: 1, id: 2, name: 'bicycle' },
    { index: 2, id: 5, name: 'aeroplane' },
    { index: 3, id: 63, name: 'sofa' },
    { index: 4, id: 72, name: 'tvmonitor' },
  ]);
  // aeroplane -> 2, sofa -> 3, tvmonitor -> 4; person -> 0. Boxes and flags stay with their objects.
  assert.deepEqual([...a.dataset.images[0].classIdx], [2, 3, 4]);
  assert.deepEqual([...a.dataset.images[1].classIdx], [0, 0]);
  assert.deepEqual([...a.dataset.images[0].boxes], [...vocTarget().images[0].boxes]);
  assert.deepEqual([...a.dataset.images[0].ignore], [0, 2, 0]);
  assert.deepEqual(a.classes, VOC_NAMES);
  assert.deepEqual(a.matches, [
    { target: 'aeroplane', source: 'airplane' },
    { target: 'person', source: 'person' },
    { target: 'sofa', source: 'couch' },
    { target: 'tvmonitor', source: 'tv' },
  ]);
  assert.equal(a.removedBoxes, 0);
  assert.equal(a.dataset.images.length, 2);
});

test('alignTargetClasses: names match ignoring case, spaces, - and _; a left-out class may have no detector class', () => {
  const target = vocTarget(['Dining_Table', 'person', 'sofa', 'tv-monitor']);
  const source = coco(['person', 'dining table', 'tvmonitor']);
  const a = alignTargetClasses(target, source, ['sofa']);
  assert.deepEqual(
    a.matches.map((m) => m.source),
    ['dining table', 'person', null, 'tvmonitor'],
  );
  assert.deepEqual(a.classes, ['Dining_Table', 'person', 'tv-monitor']);
  // The sofa box is gone (no class scores it); the others keep their order and attributes.
  assert.equal(a.removedBoxes, 1);
  assert.deepEqual([...a.dataset.images[0].classIdx], [1, 2]);
  assert.deepEqual([...a.dataset.images[0].annotationIds], [100, 102]);
  assert.deepEqual([...a.dataset.images[0].areas], [40, 42]);
  assert.deepEqual([...a.dataset.images[0].boxes], [0, 1, 5, 9, 20, 1, 25, 9]);
  assert.deepEqual([...a.dataset.images[0].ignore], [0, 0]);
});

test('alignTargetClasses: clear errors for an unmatched evaluated class, an unknown class to leave out, two classes on one', () => {
  const source = coco(['person', 'airplane', 'tv']);
  assert.throws(
    () => alignTargetClasses(vocTarget(), source),
    (e: unknown) => e instanceof UserError && /no class for 1 of VOC2007\/test's 4 classes: sofa/.test(e.message) && /--leave-out/.test(e.hint ?? ''),
  );
  assert.throws(
    () => alignTargetClasses(vocTarget(), source, ['sofa', 'giraffe']),
    (e: unknown) => e instanceof UserError && /not in VOC2007\/test: giraffe/.test(e.message),
  );
  assert.throws(
    () => alignTargetClasses(vocTarget(['aeroplane', 'airplane', 'sofa', 'tv']), coco(['airplane', 'couch', 'tv'])),
    (e: unknown) => e instanceof UserError && /aeroplane, airplane match the same detector class/.test(e.message),
  );
});

test('resultsInDataIds: detections written for a data file carry its own category ids, matched by name', () => {
  // The model knows 0, 1, 2, 4 (ids 1, 2, 3, 5); the data file has '1' as id 7 and '0' as id 3.
  const model: CategoryInfo[] = ['0', '1', '2', '4'].map((name, i) => ({ index: i, id: [1, 2, 3, 5][i], name }));
  const data: DetectionDataset = {
    ...vocTarget(['1', '0']),
    categories: [
      { index: 0, id: 7, name: '1' },
      { index: 1, id: 3, name: '0' },
    ],
  };
  const aligned = alignTargetClasses(data, model);
  const dets = [
    { image_id: 1, category_id: 1, bbox: [0, 0, 5, 5], score: 0.9 }, // model '0' -> data id 3
    { image_id: 1, category_id: 2, bbox: [0, 0, 5, 5], score: 0.8 }, // model '1' -> data id 7
    { image_id: 2, category_id: 3, bbox: [0, 0, 5, 5], score: 0.7 }, // model '2': not in the data
    { image_id: 2, category_id: 5, bbox: [0, 0, 5, 5], score: 0.6 }, // model '4': not in the data
    { image_id: 2, category_id: 5, bbox: [1, 1, 5, 5], score: 0.5 },
  ];
  const r = resultsInDataIds(dets, aligned, model, data.categories);
  assert.deepEqual(
    r.results.map((d) => [d.score, d.category_id]),
    [
      [0.9, 3],
      [0.8, 7],
    ],
  );
  assert.deepEqual(
    [...r.absent],
    [
      ['2', 1],
      ['4', 2],
    ],
  );
  assert.equal(dets[0].category_id, 1, 'the input is not modified');
});
