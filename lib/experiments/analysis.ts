/**
 * The analysis behind each table's claim, for the table notebooks:
 *   Table 2  TIDE's error breakdown (lib/analysis) of baseline vs MetaAnchor runs;
 *   Table 3  the coverage of each inference anchor set (lib/anchors/coverage-report.ts) beside its mmAP;
 *   Table 4  AP on the boxes inside the dropped range vs outside it.
 *
 * A cell's detections on its validation images (the images and anchors its evaluation used) are
 * computed once and cached beside the evaluation: <run>/table-evals/detections-<label>-<hash>.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, AnchorCoverageReport, anchorCoverageReport, parseAnchorSpec } from '../anchors';
import { initBackend } from '../backend';
import { CocoResultJson } from '../eval/coco';
import { DetectionAnalysis, RangeAp, analysisInputs, analyzeInputs, apByBoxBins } from '../analysis';
import { collectInputBoxes } from '../data/stats';
import { DropRange } from '../data/box-drop';
import { resizedSize } from '../data/pipeline';
import { DetectionDataset } from '../data/types';
import { detectDataset } from '../detect/detect';
import { PlotlyFigure, PlotlyTrace } from '../notebook/plotly';
import { Row } from '../notebook/table';
import { readSearchResult } from '../search/result';
import { TrainConfig, inputGeometry } from '../train/config';
import { groundTruthOf, loadDatasetSpec } from '../train/datasets';
import { loadRun } from '../train/run-dir';
import { writeJsonAtomicSync } from '../util/atomic';
import { UserError } from '../util/errors';
import { configHash, fileNameLabel } from './key';
import { CellResult, TableResult } from './runner';
import { EVALS_DIR } from './run-cache';
import { metricValue } from './run-eval';

interface CellRun {
  cell: CellResult;
  runDir: string;
  cfg: TrainConfig;
  anchors: AnchorConfig;
  /** Validation images the cell's evaluation scored. */
  images: number;
}

function cellOf(result: Pick<TableResult, 'cells'>, row: string, group: string): CellResult {
  const cell = result.cells.find((c) => c.row === row && c.group === group);
  if (!cell) throw new UserError(`the table has no cell (${row}, ${group})`, `cells: ${result.cells.map((c) => `(${c.row}, ${c.group})`).join(' ')}`);
  return cell;
}

/** The run, training config and inference anchors of a cell's first seed. */
function cellRun(cell: CellResult): CellRun {
  const seed = cell.seeds[0];
  const cfg = JSON.parse(fs.readFileSync(path.join(seed.runDir, 'config.json'), 'utf8')) as TrainConfig;
  const anchors = seed.eval.searchFile
    ? readSearchResult(path.join(seed.runDir, seed.eval.searchFile)).anchors
    : parseAnchorSpec(cell.inference === 'train' ? cfg.anchors : cell.inference);
  return { cell, runDir: seed.runDir, cfg, anchors, images: seed.eval.images };
}

const valMemo = new Map<string, Promise<DetectionDataset>>();

function valSet(cfg: TrainConfig): Promise<DetectionDataset> {
  const key = JSON.stringify(cfg.val);
  let p = valMemo.get(key);
  if (!p) {
    p = loadDatasetSpec(cfg.val, 'val');
    valMemo.set(key, p);
    p.catch(() => valMemo.delete(key));
  }
  return p;
}

/** The cell's detections on its evaluated validation images (cached in the run folder). */
export async function cellDetections(cell: CellResult): Promise<{ detections: CocoResultJson[]; dataset: DetectionDataset; imageIds: number[]; run: CellRun }> {
  const run = cellRun(cell);
  const dataset = await valSet(run.cfg);
  const imageIds = dataset.images.slice(0, run.images).map((im) => im.id);
  const setting = { inference: cell.inference, images: run.images, searchFile: cell.seeds[0].eval.searchFile ?? null };
  const file = path.join(run.runDir, EVALS_DIR, `detections-${fileNameLabel(String(cell.inference))}-${configHash(setting)}.json`);
  if (fs.existsSync(file)) return { detections: JSON.parse(fs.readFileSync(file, 'utf8')) as CocoResultJson[], dataset, imageIds, run };
  await initBackend();
  const loaded = loadRun(run.runDir);
  try {
    const detections = await detectDataset(loaded.detector, dataset, {
      anchors: run.anchors,
      input: inputGeometry(run.cfg),
      maxImages: run.images,
      batchSize: Math.max(1, Math.min(8, run.cfg.batchSize)),
    });
    writeJsonAtomicSync(file, detections);
    return { detections: detections as CocoResultJson[], dataset, imageIds, run };
  } finally {
    loaded.detector.dispose();
  }
}

export interface CellAnalysis {
  row: string;
  group: string;
  name: string;
  analysis: DetectionAnalysis;
  /** The cell's mmAP as the table reports it (equal to analysis.ap['0.5:0.95']). */
  mmAP: number;
}

/** TIDE's error breakdown (and the rest of `analyze`) of some cells of a table result. */
export async function analyzeCells(result: Pick<TableResult, 'cells'>, cells: readonly { row: string; group: string }[]): Promise<CellAnalysis[]> {
  const out: CellAnalysis[] = [];
  for (const { row, group } of cells) {
    const cell = cellOf(result, row, group);
    const d = await cellDetections(cell);
    const analysis = analyzeInputs(analysisInputs(groundTruthOf(d.dataset), d.detections, { imageIds: d.imageIds }));
    out.push({ row, group, name: `${group} ${row}`, analysis, mmAP: metricValue(cell.seeds[0].eval, 'mmAP') });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Table 3: coverage of each inference anchor set beside its mmAP

export interface InferenceCoverage {
  row: string;
  group: string;
  coverage: AnchorCoverageReport;
  mmAP: number;
}

/**
 * For every cell of a table: the coverage of the validation boxes (input pixels of the run) by the
 * cell's inference anchors, at the run's positive IoU, and the cell's mmAP.
 */
export async function inferenceCoverage(result: Pick<TableResult, 'cells'>): Promise<InferenceCoverage[]> {
  const out: InferenceCoverage[] = [];
  for (const cell of result.cells) {
    const run = cellRun(cell);
    const dataset = await valSet(run.cfg);
    const subset = { ...dataset, images: dataset.images.slice(0, run.images) };
    const boxes = collectInputBoxes(subset, inputGeometry(run.cfg));
    const name = cell.inference === 'search' ? `search (${run.anchors.shapes.length})` : run.anchors.name;
    const coverage = anchorCoverageReport(boxes, { ...run.anchors, name }, { posIou: run.cfg.posIou });
    out.push({ row: cell.row, group: cell.group, coverage, mmAP: metricValue(cell.seeds[0].eval, 'mmAP') });
  }
  return out;
}

export function inferenceCoverageRows(rows: readonly InferenceCoverage[]): Row[] {
  return rows.map((r) => ({
    trained: r.row,
    inference: r.group,
    A: r.coverage.anchorsPerPosition,
    [`BPR IoU>=${r.coverage.posIou} %`]: 100 * r.coverage.bprIou,
    'BPR ratio %': 100 * r.coverage.bprRatio,
    'mean best IoU %': 100 * r.coverage.meanBestIou,
    'positives / box': r.coverage.positivesPerBox,
    'mmAP %': 100 * r.mmAP,
  }));
}

/** mmAP against coverage (BPR at the positive IoU), one marker per cell, one colour per training row. */
export function coverageVsMmapFigure(rows: readonly InferenceCoverage[], title = 'Table 3: mmAP against the coverage of the inference anchors'): PlotlyFigure {
  const trained = [...new Set(rows.map((r) => r.row))];
  return {
    data: trained.map((t): PlotlyTrace => {
      const mine = rows.filter((r) => r.row === t);
      return {
        type: 'scatter',
        mode: 'lines+markers+text',
        name: `trained ${t}`,
        x: mine.map((r) => 100 * r.coverage.bprIou),
        y: mine.map((r) => 100 * r.mmAP),
        text: mine.map((r) => r.group),
        textposition: 'top center',
        hovertemplate: `trained ${t}, inference %{text}: BPR %{x:.1f}%, mmAP %{y:.1f}<extra></extra>`,
      };
    }),
    layout: {
      title: { text: title },
      xaxis: { title: { text: `validation boxes some anchor reaches at IoU >= ${rows[0]?.coverage.posIou ?? 0.6} (BPR, %)` } },
      yaxis: { title: { text: 'mmAP (%)' } },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Table 4: AP inside vs outside the dropped range

export interface DroppedRangeAp {
  row: string;
  group: string;
  inside: RangeAp;
  outside: RangeAp;
  mmAP: number;
}

/**
 * AP of each cell on the validation boxes inside `range` (in the run's input pixels: each image's
 * boxes are scaled as the pipeline resizes it) and on the others, with COCO's range rules.
 */
export async function droppedRangeAp(result: Pick<TableResult, 'cells'>, range: DropRange): Promise<DroppedRangeAp[]> {
  const out: DroppedRangeAp[] = [];
  for (const cell of result.cells) {
    const d = await cellDetections(cell);
    const input = inputGeometry(d.run.cfg);
    const scale = new Map(d.dataset.images.map((im) => [im.id, resizedSize(im.widthPx, im.heightPx, input).widthPx / im.widthPx]));
    const inRange = (w: number, h: number, imageId: number): number => {
      if (!(w > 0 && h > 0)) return -1;
      const f = scale.get(imageId) ?? 1;
      const s = Math.sqrt(w * h) * f;
      const r = Math.log(w / h);
      return s > range.sqrtMinPx && s < range.sqrtMaxPx && r > range.logRatioMin && r < range.logRatioMax ? 0 : 1;
    };
    const inputs = analysisInputs(groundTruthOf(d.dataset), d.detections, { imageIds: d.imageIds });
    const [inside, outside] = apByBoxBins(inputs, ['inside the dropped range', 'outside'], inRange);
    out.push({ row: cell.row, group: cell.group, inside, outside, mmAP: metricValue(cell.seeds[0].eval, 'mmAP') });
  }
  return out;
}

export function droppedRangeRows(rows: readonly DroppedRangeAp[]): Row[] {
  return rows.map((r) => ({
    anchors: r.row,
    cell: r.group,
    'boxes inside': r.inside.numGt,
    'AP inside %': r.inside.ap < 0 ? undefined : 100 * r.inside.ap,
    'boxes outside': r.outside.numGt,
    'AP outside %': r.outside.ap < 0 ? undefined : 100 * r.outside.ap,
    'mmAP %': 100 * r.mmAP,
  }));
}

/** AP inside (solid) and outside (hatched) the dropped range per cell, grouped by anchor configuration. */
export function droppedRangeFigure(rows: readonly DroppedRangeAp[]): PlotlyFigure {
  const groups = [...new Set(rows.map((r) => r.group))];
  const colours = ['#4e79a7', '#e15759', '#76b7b2', '#f28e2b'];
  const data: PlotlyTrace[] = [];
  groups.forEach((g, i) => {
    const mine = rows.filter((r) => r.group === g);
    for (const part of ['inside', 'outside'] as const) {
      data.push({
        type: 'bar',
        name: `${g}: ${part}`,
        x: mine.map((r) => r.row),
        y: mine.map((r) => (r[part].ap < 0 ? null : 100 * r[part].ap)) as number[],
        marker: { color: colours[i % colours.length], pattern: { shape: part === 'outside' ? '/' : '' } },
      });
    }
  });
  return {
    data,
    layout: {
      title: { text: 'Table 4: AP on the boxes inside the dropped range and outside it' },
      barmode: 'group',
      xaxis: { title: { text: 'anchor configuration' } },
      yaxis: { title: { text: 'AP@[.5:.95] (%)' } },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}
