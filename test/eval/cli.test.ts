// `metaanchor eval coco|voc` end to end: files on disk -> CLI process -> printed numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertClose, listCases, readJson } from './reference-cases';

const REPO = path.resolve(__dirname, '../..');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [path.join(REPO, 'bin', 'metaanchor.js'), ...args], { cwd: REPO, encoding: 'utf8' });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

function cocoCase(name: string): string {
  const dir = listCases('coco').find((d) => path.basename(d) === name);
  assert.ok(dir, `reference case ${name} not found`);
  return dir;
}

test('eval coco --json prints stats and per-category AP matching pycocotools', () => {
  const dir = cocoCase('random_04_10img_3cat');
  const exp = readJson(path.join(dir, 'expected.json'));
  const res = cli(['eval', 'coco', '--gt', path.join(dir, 'gt.json'), '--dt', path.join(dir, 'dt.json'), '--json']);
  assert.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.deepEqual(Object.keys(out), ['stats', 'per_category']);
  exp.stats.forEach((v: number, i: number) => assertClose(out.stats[i], v, `stats[${i}]`));
  assert.equal(out.per_category.length, exp.per_category.length);
  exp.per_category.forEach((c: any, k: number) => {
    const o = out.per_category[k];
    assert.deepEqual(Object.keys(o), ['category_id', 'ap', 'ap50', 'ap75', 'ar100']);
    assert.equal(o.category_id, c.category_id);
    for (const key of ['ap', 'ap50', 'ap75', 'ar100']) assertClose(o[key], c[key], `category ${c.category_id} ${key}`);
  });
});

test('eval coco prints the 12 pycocotools summary lines; bad input exits 1 with the error', () => {
  const dir = cocoCase('area_ranges');
  const exp = readJson(path.join(dir, 'expected.json'));
  const res = cli(['eval', 'coco', '--gt', path.join(dir, 'gt.json'), '--dt', path.join(dir, 'dt.json')]);
  assert.equal(res.status, 0, res.stderr);
  const lines = res.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 12);
  assert.equal(lines[0], ` Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = ${exp.stats[0].toFixed(3)}`);
  assert.equal(lines[8], ` Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = ${exp.stats[8].toFixed(3)}`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-cli-'));
  try {
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(
      bad,
      JSON.stringify([
        { image_id: 1, category_id: 1, bbox: [0, 0, 5, 5], score: 0.5 },
        { image_id: 424242, category_id: 1, bbox: [0, 0, 5, 5], score: 0.5 },
      ]),
    );
    const err = cli(['eval', 'coco', '--gt', path.join(dir, 'gt.json'), '--dt', bad]);
    assert.equal(err.status, 1);
    assert.match(err.stderr, /^error: detection #1 is for image_id 424242, which is not in the ground truth/);
    assert.match(err.stderr, /hint: /);
    assert.doesNotMatch(err.stderr, /\n\s+at /, 'no stack trace for a user error');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

/** Writes a VOC case (case.json format) as a VOCdevkit layout: Annotations/, ImageSets/Main/test.txt, results/. */
function writeDevkit(root: string, c: any): { annotations: string; imageset: string; dets: string } {
  const annotations = path.join(root, 'Annotations');
  const imagesets = path.join(root, 'ImageSets', 'Main');
  const dets = path.join(root, 'results');
  for (const d of [annotations, imagesets, dets]) fs.mkdirSync(d, { recursive: true });
  for (const image of c.images as string[]) {
    const objects = (c.gt as any[])
      .filter((g) => g.image === image)
      .map(
        (g) =>
          `  <object>\n    <name>${g.class}</name>\n    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n` +
          `    <difficult>${g.difficult}</difficult>\n    <bndbox>\n      <xmin>${g.bbox[0]}</xmin>\n      <ymin>${g.bbox[1]}</ymin>\n` +
          `      <xmax>${g.bbox[2]}</xmax>\n      <ymax>${g.bbox[3]}</ymax>\n    </bndbox>\n  </object>\n`,
      )
      .join('');
    fs.writeFileSync(
      path.join(annotations, `${image}.xml`),
      `<annotation>\n  <folder>VOC2007</folder>\n  <filename>${image}.jpg</filename>\n` +
        `  <size>\n    <width>500</width>\n    <height>400</height>\n    <depth>3</depth>\n  </size>\n${objects}</annotation>\n`,
    );
  }
  const imageset = path.join(imagesets, 'test.txt');
  fs.writeFileSync(imageset, (c.images as string[]).join('\n') + '\n');
  for (const cls of c.classes as string[]) {
    // String(number) is the shortest round-trip form, so the file holds exactly the case's doubles.
    const lines = (c.detections as any[]).filter((d) => d.class === cls).map((d) => `${d.image} ${d.score} ${d.bbox.join(' ')}`);
    fs.writeFileSync(path.join(dets, `comp4_det_test_${cls}.txt`), lines.map((l) => l + '\n').join(''));
  }
  return { annotations, imageset, dets };
}

test('eval voc on a VOCdevkit layout written to disk: 11-point and --all-point AP match voc_eval', () => {
  const dir = listCases('voc').find((d) => path.basename(d) === 'voc_random_small') ?? listCases('voc')[0];
  const c = readJson(path.join(dir, 'case.json'));
  const exp = readJson(path.join(dir, 'expected.json'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vocdevkit-'));
  try {
    const kit = writeDevkit(tmp, c);
    const base = ['eval', 'voc', '--annotations', kit.annotations, '--imageset', kit.imageset, '--dets', kit.dets];
    const res = cli([...base, '--classes', c.classes.join(','), '--json']);
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.deepEqual(
      out.per_class.map((p: any) => p.class),
      c.classes,
    );
    exp.per_class.forEach((e: any, k: number) => assertClose(out.per_class[k].ap, e.ap, `${e.class} ap`));
    assertClose(out.mAP, exp.mAP, 'mAP');

    // A class without ground truth has no AP (null, not 0) and stays out of the mean.
    fs.writeFileSync(path.join(kit.dets, 'comp4_det_test_zzz.txt'), '');
    const extra = JSON.parse(cli([...base, '--classes', [...c.classes, 'zzz'].join(','), '--json']).stdout);
    assert.deepEqual(extra.per_class[c.classes.length], { class: 'zzz', ap: null });
    assert.deepEqual(extra.classes_without_ground_truth, ['zzz']);
    assertClose(extra.mAP, exp.mAP, 'mAP without the class that has no ground truth');
    fs.rmSync(path.join(kit.dets, 'comp4_det_test_zzz.txt'));

    const allPoint = JSON.parse(cli([...base, '--classes', c.classes.join(','), '--json', '--all-point']).stdout);
    exp.per_class.forEach((e: any, k: number) => assertClose(allPoint.per_class[k].ap, e.ap_all_point, `${e.class} all-point ap`));
    assertClose(allPoint.mAP, exp.mAP_all_point, 'all-point mAP');

    // Without --classes: the classes found in the annotations, sorted; text output.
    const text = cli(base);
    assert.equal(text.status, 0, text.stderr);
    const found = [...new Set((c.gt as any[]).map((g) => g.class))].sort();
    const lines = text.stdout.trimEnd().split('\n');
    assert.equal(lines.length, found.length + 1);
    found.forEach((cls, i) => {
      const e = exp.per_class.find((p: any) => p.class === cls);
      assert.equal(lines[i], `AP for ${cls} = ${e.ap.toFixed(4)}`);
    });
    assert.match(lines[found.length], /^Mean AP = \d\.\d{4} /);

    // A missing detection file is an error that names it.
    fs.rmSync(path.join(kit.dets, `comp4_det_test_${c.classes[0]}.txt`));
    const missing = cli(base);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, new RegExp(`error: no detection file for class "${c.classes[0]}"`));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
