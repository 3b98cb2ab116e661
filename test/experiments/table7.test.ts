import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAnchorSpec } from '../../lib/anchors';
import { configHash } from '../../lib/experiments/key';
import { YOLO_GRID_CANDIDATES, YOLO_QUICK_STEPS, experimentSettings } from '../../lib/experiments/settings';
import { TABLE7_GROUPS, TABLE7_ROW, TABLE_IDS, parseTableId, tableSpec } from '../../lib/experiments/tables';
import { cellConfigRows, settingsRows, tableRows } from '../../lib/experiments/format';
import { columnsBarFigure, runDetectionPictures } from '../../lib/experiments/figures';
import { detectDataset } from '../../lib/detect/detect';
import { loadRun } from '../../lib/train/run-dir';
import { loadDatasetSpec } from '../../lib/train/datasets';
import sharp from 'sharp';
import { paperCommands, paperSettings } from '../../lib/experiments/paper-commands';
import { runTable } from '../../lib/experiments/runner';
import { searchFileOf } from '../../lib/experiments/run-cache';
import { trainConfigFromCli } from '../../lib/cli/commands/train';
import { QUICK_STEPS, yoloTrainConfig } from '../../lib/train/config';

test('Table 7 is listed in numeric order and parses', () => {
  assert.deepEqual([...TABLE_IDS], ['2', '3', '4', '5', '6', '7', '8']);
  assert.equal(parseTableId('Table 7'), '7');
});

for (const profile of ['smoke', 'quick', 'full'] as const) {
  test(`Table 7 (${profile}): YOLOv2 baseline and MetaAnchor with darknet's 5 anchors, search on the MetaAnchor run`, () => {
    const s = experimentSettings(profile);
    const t = tableSpec('7', s);
    assert.deepEqual(t.rows, [TABLE7_ROW]);
    assert.deepEqual(t.groups, ['Baseline', 'MetaAnchor', 'MetaAnchor + search']);
    assert.deepEqual(t.groups, [...TABLE7_GROUPS]);
    assert.deepEqual(t.metrics, ['mmAP', 'AP50']);
    assert.deepEqual(t.compare, ['Baseline', 'MetaAnchor']);
    assert.deepEqual(
      t.cells.map((c) => c.inference),
      ['train', 'train', 'search'],
    );
    const [baseline, meta, search] = t.cells.map((c) => c.train);
    for (const cfg of [baseline, meta]) {
      assert.equal(cfg.detector, 'yolov2');
      assert.equal(cfg.anchors, 'yolov2');
      assert.equal(cfg.generator, 'independent');
      assert.equal(cfg.seed, 0);
      assert.equal(cfg.preset, profile);
      assert.equal(cfg.evalImages, s.evalImages, "the trainer's final validation is the table's");
    }
    assert.equal(baseline.method, 'baseline');
    assert.equal(meta.method, 'metaanchor');
    // The two runs differ in the anchor functions only; the search column detects with the MetaAnchor run.
    assert.deepEqual({ ...baseline, method: 'metaanchor' }, meta);
    assert.equal(configHash(search), configHash(meta));
    assert.equal(configHash(meta), configHash({ ...s.yolo.base, method: 'metaanchor' }));
    assert.deepEqual(t.search, s.yolo.search);
  });
}

test("Table 7's per-profile runs and searches", () => {
  const smoke = experimentSettings('smoke');
  assert.deepEqual([smoke.yolo.base.imageSizePx, smoke.yolo.base.batchSize, smoke.yolo.base.steps], [64, 2, 4]);
  assert.deepEqual(smoke.yolo.search, { steps: 3, subset: 4, seed: 0 });
  const quick = experimentSettings('quick');
  assert.deepEqual(
    [quick.yolo.base.imageSizePx, quick.yolo.base.batchSize, quick.yolo.base.steps, quick.yolo.base.evalImages],
    [192, 8, YOLO_QUICK_STEPS, 500],
  );
  // The quick schedule (decay by 10 at 75% and 91.7%) stretched to YOLO_QUICK_STEPS: its warm-up
  // (50 of QUICK_STEPS) shortens with the shorter run; four snapshots.
  assert.deepEqual(quick.yolo.base.lr, {
    baseLr: 0.002,
    warmupSteps: Math.round((50 * YOLO_QUICK_STEPS) / QUICK_STEPS),
    warmupFactor: 0.01,
    decaySteps: [Math.round(0.75 * YOLO_QUICK_STEPS), Math.round(0.917 * YOLO_QUICK_STEPS)],
    gamma: 0.1,
  });
  assert.equal(quick.yolo.base.snapshotEvery, YOLO_QUICK_STEPS / 4);
  assert.equal(quick.yolo.base.initFrom, undefined);
  const { steps: _s, lr: _l, snapshotEvery: _e, ...rest } = quick.yolo.base;
  const { steps: _s2, lr: _l2, snapshotEvery: _e2, ...preset } = yoloTrainConfig('quick');
  assert.deepEqual(rest, preset);
  // A quarter of the 460-candidate YOLOv2 grid on the other tables' 100 training images.
  assert.equal(YOLO_GRID_CANDIDATES, 460);
  assert.deepEqual(quick.yolo.search, { steps: 115, subset: 100, seed: 0 });
  const full = experimentSettings('full');
  assert.deepEqual(full.seeds, [0, 1, 2]);
  assert.deepEqual(full.yolo.base, yoloTrainConfig('full'));
  assert.deepEqual(full.yolo.search, { steps: 460, subset: 200, seed: 0 });
  // The MetaAnchor standard box of the 'yolov2' spec: (AH, AW) = (4.18, 4.69) cells = 8 px per cell at P3.
  const a = parseAnchorSpec('yolov2');
  assert.equal(a.shapes.length, 5);
  assert.ok(Math.abs(a.standardBoxP3.heightPx - 33.44) < 1e-9 && Math.abs(a.standardBoxP3.widthPx - 37.52) < 1e-9);
});

test("Table 7 shows the paper's numbers (tables.json table7_yolov2_coco_minival) and YOLO settings", () => {
  const s = experimentSettings('quick');
  const t = tableSpec('7', s);
  assert.deepEqual(
    t.groups.map((g) => t.paper(TABLE7_ROW, g, 'mmAP')),
    [18.9, 21.2, 21.2],
  );
  assert.deepEqual(
    t.groups.map((g) => t.paper(TABLE7_ROW, g, 'AP50')),
    [35.2, 39.4, 39.5],
  );
  assert.equal(t.paper(TABLE7_ROW, 'Baseline', 'AP75'), undefined);
  const rows = Object.fromEntries(settingsRows(s, t).map((r) => [r.setting, r.value]));
  assert.equal(rows['input side (px)'], 192);
  assert.equal(rows['batch x steps'], `8 x ${YOLO_QUICK_STEPS}`);
  assert.equal(rows.search, '115 candidates of the YOLOv2 grid on 100 training images');
  // Without a table (the other notebooks): unchanged.
  assert.equal(settingsRows(s).find((r) => r.setting === 'search')!.value, '40 candidates of the Table 8 grid on 100 training images');
  assert.deepEqual(
    cellConfigRows(t).map((r) => [r.column, r.method, r['training anchors'], r.IoU, r.inference]),
    [
      ['Baseline', 'baseline', 'yolov2', 'region layer', 'training anchors'],
      ['MetaAnchor', 'MetaAnchor (data-independent)', 'yolov2', 'region layer', 'training anchors'],
      ['MetaAnchor + search', 'MetaAnchor (data-independent)', 'yolov2', 'region layer', 'search'],
    ],
  );
  // Wide rows and the bar chart from fake per-seed stats (fractions).
  const stats = (mmAP: number, ap50: number) => [mmAP, ap50, ...new Array(10).fill(0)];
  const cells = t.cells.map((c, i) => ({
    row: c.row,
    group: c.group,
    inference: c.inference,
    seeds: [
      {
        seed: 0,
        runDir: '',
        status: 'trained' as const,
        evalReused: false,
        eval: { inference: c.inference, anchors: 'yolov2', images: 200, stats: stats([0.118, 0.121, 0.125][i], [0.3, 0.31, 0.32][i]), seconds: 0 },
      },
    ],
  }));
  const [row] = tableRows({ table: t, cells });
  assert.equal(row['Baseline mmAP'], '11.8');
  assert.equal(row['MetaAnchor AP50'], '31.0');
  assert.equal(row['MetaAnchor + search AP50 (paper)'], 39.5);
  assert.equal(row['Δ mmAP MetaAnchor − Baseline (paper)'], 2.3);
  const fig = columnsBarFigure({ table: t, cells });
  assert.equal(fig.data.length, 6);
  assert.deepEqual(fig.data[1].x, ['mmAP', 'AP50']);
  assert.deepEqual(
    (fig.data[1].y as number[]).map((v) => Math.round(10 * v) / 10),
    [12.1, 31],
  );
  assert.deepEqual(fig.data[3].y, [18.9, 35.2]);
  assert.equal(fig.data[3].yaxis, 'y2');
});

test("Table 7 at the paper's scale: YOLOv2 train commands build the cells' paper configurations; the whole grid is searched", () => {
  const table = tableSpec('7', paperSettings());
  const lines = paperCommands(table);
  const trains = lines.filter((l) => l.startsWith('npx metaanchor train '));
  assert.equal(trains.length, 2);
  trains.forEach((line, i) => {
    const tokens = line.replace(/^npx metaanchor train /, '').split(/\s+/);
    const o: Record<string, unknown> = { method: 'baseline', generator: 'independent' };
    for (let k = 0; k < tokens.length; k += 2)
      o[tokens[k].replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = tokens[k] === '--seed' ? Number(tokens[k + 1]) : tokens[k + 1];
    const fromCli = trainConfigFromCli(o as unknown as Parameters<typeof trainConfigFromCli>[0]);
    const want = table.cells[i].train;
    assert.deepEqual({ ...fromCli, train: undefined, val: undefined }, { ...want, train: undefined, val: undefined }, line);
    assert.deepEqual([fromCli.imageSizePx, fromCli.batchSize, fromCli.steps, fromCli.optimizer], [416, 64, 500200, 'sgd']);
  });
  assert.match(trains[0], /^npx metaanchor train --preset paper --detector yolov2 --method baseline --anchors yolov2 --data /);
  assert.ok(lines.some((l) => /^npx metaanchor search --checkpoint runs\/paper\/yolov2-metaanchor-paper-\S+ --steps 460 --subset 200 --seed 0$/.test(l)));
  assert.equal(lines.filter((l) => l.startsWith('npx metaanchor evaluate ')).length, 3);
});

test("Table 7 through runTable searches with the table's own search settings, not the RetinaNet tables'", async () => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'table7-'));
  const s = experimentSettings('smoke');
  const yoloSearch = { steps: 2, subset: 3, seed: 1 };
  const settings = { ...s, yolo: { ...s.yolo, search: yoloSearch } };
  const r = await runTable(tableSpec('7', settings), settings, { runsDir, quiet: true, jobs: 1 });
  assert.deepEqual(r.counts, { trained: 2, resumed: 0, reused: 0, evaluated: 3, evalReused: 0 });
  const metaDir = r.cells[1].seeds[0].runDir;
  assert.equal(r.cells[2].seeds[0].runDir, metaDir);
  assert.ok(!fs.existsSync(searchFileOf(metaDir, s.search)));
  const search = JSON.parse(fs.readFileSync(searchFileOf(metaDir, yoloSearch), 'utf8'));
  assert.equal(search.trace.length, 2);
  assert.equal(search.subsetImages, 3);
  assert.equal(search.start, 'yolov2');
  assert.equal(r.cells[2].seeds[0].eval.searchFile, path.basename(searchFileOf(metaDir, yoloSearch)));
  for (const c of r.cells) assert.equal(c.seeds[0].eval.images, 4);
  const again = await runTable(tableSpec('7', settings), settings, { runsDir, quiet: true, jobs: 1 });
  assert.deepEqual(again.counts, { trained: 0, resumed: 0, reused: 2, evaluated: 0, evalReused: 3 });

  // The notebook's pictures: every detection at or above minScore is drawn, on 2x enlarged images.
  const run = loadRun(metaDir);
  const val = await loadDatasetSpec(run.config!.val, 'val');
  const results = await detectDataset(
    run.detector,
    { ...val, images: val.images.slice(0, 2) },
    {
      anchors: run.trainAnchors,
      input: { maxSizePx: run.config!.imageSizePx, pad: 'square', sizeDivisor: 32 },
    },
  );
  run.detector.dispose();
  const minScore = 0.01;
  const pics = await runDetectionPictures(metaDir, { imageIndices: [0, 1], minScore });
  assert.equal(pics.anchors, 'yolov2');
  const expected = [0, 1].map((i) => results.filter((d) => d.image_id === val.images[i].id && d.score >= minScore).length);
  assert.ok(expected[0] > 0 && expected[1] > 0, 'the smoke model has low-score detections to draw');
  assert.deepEqual(pics.counts, expected);
  for (const [i, png] of pics.pngs.entries()) {
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 2 * val.images[i].widthPx, 2 * val.images[i].heightPx]);
  }
  await assert.rejects(runDetectionPictures(metaDir, { imageIndices: [val.images.length] }), /image index \d+ is out of range/);
});

/**
 * The other tables' cells, runs and evaluation settings (per profile, digested with configHash),
 * pinned: Table 7's cells change none of them, so their cached runs and evaluations keep their
 * keys. (Updated when the quick proxy changed the configurations themselves, and when the quick runs
 * went from 4000 to 8000 steps.)
 */
const OTHER_TABLES_DIGEST: Record<string, string> = {
  'smoke/2': '0196f827e0f0',
  'smoke/3': '5b9fea65b8f8',
  'smoke/4': '293ce21c9f2e',
  'smoke/5': '0efa53d5e114',
  'smoke/6': 'ab4667abdcaa',
  'smoke/8': '8c2a47180c06',
  'quick/2': '4cbfb66f35eb',
  'quick/3': '215aff204564',
  'quick/4': '9082663628b5',
  'quick/5': 'fd0e4f640f0b',
  'quick/6': '10f328a9d4bc',
  'quick/8': '70518cf113f5',
  'full/2': '468a4ca9c014',
  'full/3': 'a24213cc15c8',
  'full/4': '85a07fae0515',
  'full/5': '43ff0492a2cd',
  'full/6': '42edeca14888',
  'full/8': '6640802ca573',
};

test("Table 7 leaves the other tables' cache keys unchanged", () => {
  for (const p of ['smoke', 'quick', 'full'] as const) {
    const s = experimentSettings(p);
    for (const id of ['2', '3', '4', '5', '6', '8']) {
      const t = tableSpec(id, s);
      assert.equal(t.search, undefined, `Table ${id} searches with settings.search`);
      const cells = t.cells.map((c) => [
        c.row,
        c.group,
        c.inference,
        configHash(c.train),
        c.select ? c.select.candidates.map((x) => configHash(x.train)) : null,
      ]);
      assert.equal(configHash({ cells, search: s.search, evalImages: s.evalImages, seeds: s.seeds }), OTHER_TABLES_DIGEST[`${p}/${id}`], `${p} Table ${id}`);
    }
  }
});
