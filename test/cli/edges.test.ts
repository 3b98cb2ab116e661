/**
 * The command line at its edges: counts and paths checked before any work, file-system problems
 * and bad data as `error:` + `hint:` lines without a stack trace, hints that name only options the
 * command accepts, classes matched by name, detections drawn, VOC training.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { buildProgram } from '../../lib/cli/main';
import { loadCoco } from '../../lib/data/coco';
import { loadVoc, writeVoc } from '../../lib/data/voc';
import { UserError } from '../../lib/util/errors';

const root = path.join(__dirname, '..', '..');
const photos = path.join(root, 'test', 'fixtures', 'photos');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'bin', 'metaanchor.js'), ...args], { encoding: 'utf8', env: { ...process.env, METAANCHOR_QUIET: '1' } });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cli-edges-'));
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Exit 1 with exactly these error (and hint) lines, and no stack trace. */
function assertUserError(r: ReturnType<typeof cli>, error: string | RegExp, hint?: string | RegExp): void {
  assert.equal(r.status, 1, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  const e = lines.find((l) => l.startsWith('error: '));
  assert.ok(e, r.stderr);
  if (typeof error === 'string') assert.equal(e, `error: ${error}`);
  else assert.match(e, error);
  if (hint !== undefined) {
    const h = lines[lines.indexOf(e) + 1] ?? '';
    if (typeof hint === 'string') assert.equal(h, `  hint: ${hint}`);
    else assert.match(h, hint);
  }
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

/** A COCO json over the photo fixtures with the given categories and annotations. */
function photoCoco(dir: string, name: string, categories: { id: number; name: string }[], annotations: object[]): string {
  const raw = JSON.parse(fs.readFileSync(path.join(photos, 'annotations.json'), 'utf8'));
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ images: raw.images, annotations, categories }));
  return file;
}

test('counts must be whole numbers in range; checked while parsing, before anything is read', () => {
  const missing = path.join(tmp(), 'no-such-run');
  assertUserError(cli('evaluate', '--checkpoint', missing, '--max-images', '-3'), '--max-images must be a whole number >= 1, got "-3"', 'e.g. --max-images 1');
  assertUserError(cli('evaluate', '--checkpoint', missing, '--max-images', '0'), '--max-images must be a whole number >= 1, got "0"');
  assertUserError(cli('detect', '--checkpoint', missing, '--max-images', '2.5', '--out', 'x.json'), '--max-images must be a whole number >= 1, got "2.5"');
  assertUserError(cli('search', '--checkpoint', missing, '--steps', '-1'), '--steps must be a whole number >= 1, got "-1"');
  assertUserError(
    cli('detect', '--checkpoint', missing, '--out', 'x.json', '--draw', 'd', '--draw-score', '1.5'),
    '--draw-score must be between 0 and 1, got "1.5"',
    'e.g. --draw-score 0.5',
  );
  assertUserError(cli('search', '--checkpoint', missing, '--subset', '-2'), '--subset must be a whole number >= 1, got "-2"');
  const out = path.join(tmp(), 'run');
  assertUserError(cli('train', '--out', out, '--steps', '0'), '--steps must be a whole number >= 1, got "0"');
  assertUserError(cli('train', '--out', out, '--batch', 'two'), '--batch must be a whole number >= 1, got "two"');
  assertUserError(cli('train', '--out', out, '--lr', '0'), '--lr must be a positive number, got "0"', 'e.g. --lr 0.01');
  assertUserError(cli('train', '--out', out, '--eval-images', '-1'), '--eval-images must be a whole number >= 0, got "-1"');
  assert.equal(fs.existsSync(out), false, 'nothing was created');
});

test('file-system problems are one error line and a hint, found before the work that needs them', () => {
  const dir = tmp();
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  assertUserError(
    cli('train', '--preset', 'smoke', '--out', file),
    `--out ${file} is a file, not a folder`,
    'give --out a new folder (or the folder of a run to resume)',
  );
  assertUserError(
    cli('train', '--preset', 'smoke', '--data', dir, '--images', dir, '--out', path.join(dir, 'r')),
    `--data ${dir} is a folder, not a file`,
    'give the file inside it',
  );
  assertUserError(
    cli('train', '--preset', 'smoke', '--data', path.join(dir, 'none.json'), '--images', dir, '--out', path.join(dir, 'r')),
    `--data ${path.join(dir, 'none.json')} does not exist`,
    'check the path',
  );
  // detect checks --out before it even opens the run: no detection pass is wasted.
  assertUserError(
    cli('detect', '--checkpoint', path.join(dir, 'no-run'), '--out', dir),
    `--out ${dir} is a folder`,
    `give --out a file name, e.g. ${path.join(dir, 'out.json')}`,
  );
  assertUserError(cli('eval', 'coco', '--gt', dir, '--dt', file), `--gt ${dir} is a folder, not a file`);
  assertUserError(cli('data', 'draw', '--data', path.join(photos, 'annotations.json'), '--out', dir), `--out ${dir} is a folder`);
});

test('bad data gets the same clear verdict everywhere: empty image list, no boxes, invalid boxes (with a hint the command accepts)', () => {
  const dir = tmp();
  const empty = path.join(dir, 'empty.json');
  fs.writeFileSync(empty, JSON.stringify({ images: [], annotations: [], categories: [{ id: 1, name: 'cat' }] }));
  assertUserError(
    cli('train', '--preset', 'smoke', '--data', empty, '--images', dir, '--out', path.join(dir, 'run-empty')),
    'empty.json: "images" is empty, so there is nothing to train on, detect in or evaluate',
    'check that this is the annotation file of your images',
  );
  assert.equal(fs.existsSync(path.join(dir, 'run-empty')), false, 'a refused run leaves no folder behind');

  const noBoxes = photoCoco(dir, 'no-boxes', [{ id: 1, name: 'person' }], []);
  assertUserError(
    cli('train', '--preset', 'smoke', '--data', noBoxes, '--images', path.join(photos, 'images'), '--out', path.join(dir, 'run-none')),
    'the training set no-boxes has no boxes: nothing to learn',
    'use an annotated dataset',
  );
  assert.equal(fs.existsSync(path.join(dir, 'run-none')), false, 'a refused run leaves no folder behind');
  // A folder that existed before stays, with what was in it.
  fs.mkdirSync(path.join(dir, 'mine'));
  assert.notEqual(cli('train', '--preset', 'smoke', '--data', noBoxes, '--images', path.join(photos, 'images'), '--out', path.join(dir, 'mine')).status, 0);
  assert.ok(fs.existsSync(path.join(dir, 'mine')));

  const bad = photoCoco(
    dir,
    'bad',
    [
      { id: 1, name: 'person' },
      { id: 17, name: 'cat' },
    ],
    [
      { id: 1, image_id: 1, category_id: 1, bbox: [18, 14, 345, 498], area: 171810, iscrowd: 0 },
      { id: 2, image_id: 2, category_id: 17, bbox: [50, 40, 0, 100], area: 0, iscrowd: 0 },
    ],
  );
  const hint = 'fix them, or skip them: skipInvalidBoxes: true in code, --skip-invalid-boxes on the command line';
  const run = path.join(dir, 'run-bad');
  const args = [
    'train',
    '--preset',
    'smoke',
    '--data',
    bad,
    '--images',
    path.join(photos, 'images'),
    '--steps',
    '1',
    '--eval-images',
    '1',
    '--image-size',
    '64',
    '--out',
    run,
  ];
  const refused = cli(...args);
  assertUserError(refused, 'bad.json: 1 box(es) with non-positive size:');
  assert.ok(refused.stderr.includes(`\n  annotation 2 (image 2): bbox width 0, height 100\n  hint: ${hint}\n`), refused.stderr);
  // Every command that loads such data accepts the option its hint names.
  for (const name of ['train', 'detect', 'evaluate']) {
    const cmd = buildProgram().commands.find((c) => c.name() === name)!;
    assert.ok(
      cmd.options.some((o) => o.long === '--skip-invalid-boxes'),
      `${name} accepts --skip-invalid-boxes`,
    );
  }
  const skipped = cli(...args, '--skip-invalid-boxes');
  assert.equal(skipped.status, 0, skipped.stderr);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')).train.skipInvalidBoxes, true);
});

test('VOC boxes with xmax < xmin: eval voc and the loader of evaluate --voc give the same verdict', () => {
  const year = path.join(tmp(), 'VOC');
  for (const d of ['Annotations', 'ImageSets/Main', 'JPEGImages', 'dets']) fs.mkdirSync(path.join(year, d), { recursive: true });
  fs.copyFileSync(path.join(photos, 'images', 'chelsea.jpg'), path.join(year, 'JPEGImages', 'img1.jpg'));
  fs.writeFileSync(path.join(year, 'ImageSets', 'Main', 'test.txt'), 'img1\n');
  fs.writeFileSync(
    path.join(year, 'Annotations', 'img1.xml'),
    '<annotation><filename>img1.jpg</filename><size><width>451</width><height>300</height><depth>3</depth></size>' +
      '<object><name>cat</name><difficult>0</difficult><bndbox><xmin>10</xmin><ymin>2</ymin><xmax>5</xmax><ymax>20</ymax></bndbox></object></annotation>',
  );
  fs.writeFileSync(path.join(year, 'dets', 'comp4_det_test_cat.txt'), 'img1 0.9 1 1 50 50\n');
  const line = 'img1.xml object #0 (cat): xmin 10, ymin 2, xmax 5, ymax 20';
  const r = cli(
    'eval',
    'voc',
    '--annotations',
    path.join(year, 'Annotations'),
    '--imageset',
    path.join(year, 'ImageSets', 'Main', 'test.txt'),
    '--dets',
    path.join(year, 'dets'),
  );
  assertUserError(r, `${path.join(year, 'Annotations')}: 1 box(es) with non-positive size:`);
  assert.ok(r.stderr.includes(`\n  ${line}\n  hint: fix these objects in the annotation files`), r.stderr);
  assert.throws(
    () => loadVoc({ root: year, imageSet: 'test' }),
    (err: UserError) => err.message === `VOC/test: 1 box(es) with non-positive size:\n  ${line}`,
  );
});

test('a trained run: classes matched by name, every class left out, detect --draw, a corrupt train state', async () => {
  const dir = tmp();
  const run = path.join(dir, 'run');
  const trainArgs = ['train', '--preset', 'smoke', '--steps', '2', '--eval-images', '2', '--out', run];
  const tr = cli(...trainArgs);
  assert.equal(tr.status, 0, tr.stderr);

  // Category ids 1..10 (the run's digits are ids 1, 2, 3, 5), other names: refused, naming the classes.
  const letters = 'abcdefghij'.split('').map((name, i) => ({ id: i + 1, name }));
  const other = photoCoco(dir, 'letters', letters, [{ id: 1, image_id: 1, category_id: 1, bbox: [18, 14, 345, 498], area: 171810, iscrowd: 0 }]);
  for (const verb of ['evaluate', 'detect']) {
    assertUserError(
      cli(
        verb,
        '--checkpoint',
        run,
        '--data',
        other,
        '--images',
        path.join(photos, 'images'),
        ...(verb === 'detect' ? ['--out', path.join(dir, 'r.json')] : []),
      ),
      "the detector has no class for 10 of letters's 10 classes: a, b, c, d, e, f, g, h, i, j",
      'the model knows 0, 1, 2, 4: detect on a dataset of those classes, or train a model on this one',
    );
  }

  // The model's classes '1' and '0' under the data's own ids 7 and 3 (and '2', '4' absent): detect
  // writes the data's ids, only for its classes, so `eval coco` on the file scores what `evaluate` does.
  const renumbered = photoCoco(
    dir,
    'renumbered',
    [
      { id: 7, name: '1' },
      { id: 3, name: '0' },
    ],
    [
      { id: 1, image_id: 1, category_id: 7, bbox: [18, 14, 345, 498], area: 171810, iscrowd: 0 },
      { id: 2, image_id: 2, category_id: 3, bbox: [0, 0, 400, 300], area: 120000, iscrowd: 0 },
    ],
  );
  const renumberedDets = path.join(dir, 'renumbered-dets.json');
  const dr = cli('detect', '--checkpoint', run, '--data', renumbered, '--images', path.join(photos, 'images'), '--out', renumberedDets);
  assert.equal(dr.status, 0, dr.stderr);
  // (A 2-step model may find nothing on the photos; the mapping itself is tested in
  // test/transfer/class-map.test.ts with planted detections.)
  const written = JSON.parse(fs.readFileSync(renumberedDets, 'utf8')) as { category_id: number }[];
  assert.ok(
    written.every((d) => d.category_id === 3 || d.category_id === 7),
    dr.stdout,
  );
  const viaEvaluate = JSON.parse(cli('evaluate', '--checkpoint', run, '--data', renumbered, '--images', path.join(photos, 'images'), '--json').stdout).stats;
  const viaFile = JSON.parse(cli('eval', 'coco', '--gt', renumbered, '--dt', renumberedDets, '--json').stdout).stats;
  assert.deepEqual(viaFile, viaEvaluate);

  // evaluate --voc with every class left out: an error before any detection.
  const ds = loadCoco({
    annotationFile: photoCoco(
      dir,
      'digits',
      [
        { id: 1, name: '0' },
        { id: 2, name: '1' },
      ],
      [
        { id: 1, image_id: 1, category_id: 1, bbox: [18, 14, 345, 498], area: 171810, iscrowd: 0 },
        { id: 2, image_id: 2, category_id: 2, bbox: [0, 0, 400, 300], area: 120000, iscrowd: 0 },
      ],
    ),
    imageDir: path.join(photos, 'images'),
  });
  const voc = await writeVoc(ds, { outDir: path.join(dir, 'VOCDIGITS'), imageSet: 'test' });
  assertUserError(
    cli('evaluate', '--checkpoint', run, '--voc', voc, '--leave-out', '0,1'),
    'every class of VOCDIGITS/test is left out (0, 1): there is no class to average',
    'leave out fewer classes (--leave-out)',
  );
  // One class evaluated: the mean is over the classes with ground truth, and says so.
  const one = cli('evaluate', '--checkpoint', run, '--voc', voc, '--leave-out', '1', '--json');
  assert.equal(one.status, 0, one.stderr);
  assert.deepEqual(JSON.parse(one.stdout).leave_out, ['1']);

  // detect --draw: every image drawn at its own size.
  const drawDir = path.join(dir, 'drawn');
  const de = cli('detect', '--checkpoint', run, '--max-images', '2', '--out', path.join(dir, 'dets.json'), '--draw', drawDir, '--draw-score', '0');
  assert.equal(de.status, 0, de.stderr);
  assert.ok(de.stdout.includes(`2 images with detections scoring >= 0 -> ${drawDir}`), de.stdout);
  const files = fs.readdirSync(drawDir).sort();
  assert.equal(files.length, 2);
  for (const f of files) {
    const meta = await sharp(path.join(drawDir, f)).metadata();
    assert.deepEqual([meta.width, meta.height, meta.format], [96, 96, 'png']);
  }

  // A corrupt train-state.json stops --resume with an error, not a silent restart from step 0.
  const state = path.join(run, 'checkpoint', 'train-state.json');
  fs.writeFileSync(state, '{"step": 2, "hist');
  assertUserError(cli(...trainArgs, '--resume'), new RegExp(`^error: ${escape(state)} is corrupt \\(`), 'restore it, or train into a new --out folder');
});

test('train --voc <year folder> --set <name> trains on a VOCdevkit image set', async () => {
  const dir = tmp();
  const ds = loadCoco({ annotationFile: path.join(photos, 'annotations.json') });
  const voc = await writeVoc(ds, { outDir: path.join(dir, 'PHOTOS'), imageSet: 'train' });
  const run = path.join(dir, 'run');
  const r = cli('train', '--preset', 'smoke', '--voc', voc, '--set', 'train', '--steps', '1', '--eval-images', '1', '--image-size', '64', '--out', run);
  assert.equal(r.status, 0, r.stderr);
  const cfg = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.train, { kind: 'voc', root: voc, imageSet: 'train' });
  assert.deepEqual(cfg.val, cfg.train);
  const weights = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint', 'weights.json'), 'utf8'));
  assert.equal(weights.meta.modelConfig.numClasses, 80);
  assertUserError(
    cli('train', '--preset', 'smoke', '--set', 'train', '--out', path.join(dir, 'x')),
    '--set and --val-set name image sets of a --voc folder',
    'add --voc <VOCdevkit year folder>',
  );
});
