import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCoco } from '../../lib/data/coco';
import { VOC_CLASSES, loadVoc, writeVoc } from '../../lib/data/voc';
import { generateMnistDet, mnistDetConfig } from '../../lib/data/mnist-det';
import { UserError } from '../../lib/util/errors';
import { PHOTOS_DIR, tempDir, writeCoordImage, writeEdgeCaseCoco } from './helpers';

const VOC_XML = `<annotation>
	<folder>VOC2007</folder>
	<filename>000005.jpg</filename>
	<size><width>50</width><height>40</height><depth>3</depth></size>
	<object><name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>
		<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>10</xmax><ymax>20</ymax></bndbox></object>
	<object><name>dog</name><difficult>1</difficult>
		<bndbox><xmin>30</xmin><ymin>5</ymin><xmax>55</xmax><ymax>40</ymax></bndbox></object>
</annotation>`;

async function writeTinyVoc(root: string): Promise<void> {
  fs.mkdirSync(path.join(root, 'Annotations'), { recursive: true });
  fs.mkdirSync(path.join(root, 'ImageSets', 'Main'), { recursive: true });
  fs.writeFileSync(path.join(root, 'Annotations', '000005.xml'), VOC_XML);
  fs.writeFileSync(
    path.join(root, 'Annotations', '000007.xml'),
    '<annotation><filename>000007.jpg</filename><size><width>20</width><height>20</height><depth>3</depth></size></annotation>',
  );
  fs.writeFileSync(path.join(root, 'ImageSets', 'Main', 'test.txt'), '000005\n000007\n');
  await writeCoordImage(path.join(root, 'JPEGImages', '000005.jpg'), 50, 40);
  await writeCoordImage(path.join(root, 'JPEGImages', '000007.jpg'), 20, 20);
}

test('VOC loader: 1-based inclusive boxes, difficult -> ignore, VOC class order, keys stay strings', async () => {
  const devkit = tempDir('voc-');
  const root = path.join(devkit, 'VOC2007');
  await writeTinyVoc(root);
  const warnings: string[] = [];
  const ds = loadVoc({ root: devkit, imageSet: 'test', onWarning: (w) => warnings.push(w) }); // finds the one year folder
  assert.equal(ds.source, root);
  assert.deepEqual(ds.categories.map((c) => c.name), VOC_CLASSES);
  assert.deepEqual([ds.categories[8].id, ds.categories[8].name], [9, 'chair']);
  const [a, b] = ds.images;
  assert.equal(a.fileName, '000005.jpg');
  assert.deepEqual([a.widthPx, a.heightPx], [50, 40]);
  // chair: xmin 1 -> x1 0; dog: xmax 55 is past the 50 px image -> clipped to 50.
  assert.deepEqual(Array.from(a.boxes), [0, 1, 10, 20, 29, 4, 50, 40]);
  assert.deepEqual(Array.from(a.classIdx), [VOC_CLASSES.indexOf('chair'), VOC_CLASSES.indexOf('dog')]);
  assert.deepEqual(Array.from(a.ignore), [0, 2]);
  assert.equal(b.classIdx.length, 0, 'image without objects kept');
  assert.equal(ds.report.clippedBoxes, 1);
  assert.equal(warnings.length, 1);

  assert.throws(() => loadVoc({ root, imageSet: 'val' }), (e: unknown) => e instanceof UserError && /image set file not found/.test(e.message) && /available sets: test/.test(e.hint ?? ''));
  assert.throws(() => loadVoc({ root, imageSet: 'test', classNames: ['chair'] }), /1 class name\(s\) not in the class list: dog \(in 000005\.xml\)/);
  fs.rmSync(path.join(root, 'JPEGImages', '000007.jpg'));
  assert.throws(() => loadVoc({ root, imageSet: 'test' }), /1 of 2 image file\(s\) are missing .*000007\.jpg/);
});

test('VOC writer + loader round trip (MNIST-Det PNGs copied, integer boxes exact)', async () => {
  const dir = tempDir('voc-rt-');
  await generateMnistDet(dir, mnistDetConfig({ trainImages: 6, valImages: 0, seed: 4 }), { progress: false });
  const ds = loadCoco({ annotationFile: path.join(dir, 'annotations/instances_train.json') });
  ds.images[0].ignore[0] = 2; // an ignore box must come back as difficult -> ignore
  const out = path.join(dir, 'VOCdevkit', 'MNISTDET');
  await writeVoc(ds, { outDir: out, imageSet: 'trainval' });
  assert.deepEqual(fs.readFileSync(path.join(out, 'ImageSets/Main/trainval.txt'), 'utf8').trim().split('\n'), ['000001', '000002', '000003', '000004', '000005', '000006']);
  assert.ok(fs.readFileSync(path.join(out, 'JPEGImages/000001.png')).equals(fs.readFileSync(ds.images[0].filePath)), 'PNG copied byte for byte');
  const xml = fs.readFileSync(path.join(out, 'Annotations/000001.xml'), 'utf8');
  assert.match(xml, /<filename>000001\.png<\/filename>/);
  assert.match(xml, /<difficult>1<\/difficult>/);
  const back = loadVoc({ root: out, imageSet: 'trainval' });
  assert.deepEqual(back.categories.map((c) => c.name), ds.categories.map((c) => c.name), 'class list read from classes.txt');
  for (let i = 0; i < ds.images.length; i++) {
    assert.deepEqual(Array.from(back.images[i].boxes), Array.from(ds.images[i].boxes));
    assert.deepEqual(Array.from(back.images[i].classIdx), Array.from(ds.images[i].classIdx));
    assert.deepEqual(Array.from(back.images[i].ignore), Array.from(ds.images[i].ignore));
    assert.equal(back.images[i].fileName, ds.images[i].fileName);
  }
});

test('VOC writer: real JPEG photos and fractional boxes (2 decimals), JPEG re-encoding of PNGs', async () => {
  const photos = loadCoco({ annotationFile: path.join(PHOTOS_DIR, 'annotations.json') });
  const dir = tempDir('voc-photos-');
  await writeVoc(photos, { outDir: path.join(dir, 'PHOTOS'), imageSet: 'train' });
  const back = loadVoc({ root: path.join(dir, 'PHOTOS'), imageSet: 'train' });
  assert.equal(back.categories.length, 80);
  let maxErr = 0;
  photos.images.forEach((im, i) => {
    assert.equal(back.images[i].classIdx.length, im.classIdx.length);
    assert.deepEqual(Array.from(back.images[i].classIdx), Array.from(im.classIdx));
    for (let j = 0; j < im.boxes.length; j++) maxErr = Math.max(maxErr, Math.abs(back.images[i].boxes[j] - im.boxes[j]));
  });
  assert.ok(maxErr <= 0.005 + 1e-4, `max coordinate error ${maxErr}`);

  const edge = tempDir('voc-jpeg-');
  const { json } = await writeEdgeCaseCoco(edge);
  const ds = loadCoco({ annotationFile: json, onWarning: () => undefined });
  await writeVoc(ds, { outDir: path.join(edge, 'VOC'), imageSet: 'all', images: 'jpeg' });
  assert.deepEqual(fs.readdirSync(path.join(edge, 'VOC', 'JPEGImages')).sort(), ['a.jpg', 'b.jpg', 'c.jpg']);
  const again = loadVoc({ root: path.join(edge, 'VOC'), imageSet: 'all' });
  assert.deepEqual(again.categories.map((c) => c.name), ['person', 'dog', 'toothbrush']);
  assert.deepEqual(Array.from(again.images[1].boxes), Array.from(ds.images[1].boxes));
  assert.deepEqual(Array.from(again.images[1].ignore), [2, 0], 'crowd written as difficult');
});
