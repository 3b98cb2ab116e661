/**
 * Plotly figures of table results (shown with lib/notebook showPlot): Table 2's mmAP against the
 * number of anchors, Table 3's train x inference heatmap, a greedy search trace, Table 4's dropped
 * boxes and per-size AP, Table 5's per-class VOC AP, Table 8's rows and Table 7's columns as bars,
 * and a run's detections drawn on validation images.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, TABLE1_NAMES, parseAnchorSpec } from '../anchors';
import { initBackend } from '../backend';
import { drawBoxes } from '../data/draw';
import { boxLogRatiosWH, boxSizesPx, collectInputBoxes } from '../data/stats';
import { DropRange, ignoreDroppedBoxes } from '../data/box-drop';
import { DetectionDataset } from '../data/types';
import { PlotlyFigure, PlotlyTrace } from '../notebook/plotly';
import { Row } from '../notebook/table';
import { SearchResultFile } from '../search/result';
import { TrainConfig } from '../train/config';
import { loadDatasetSpec } from '../train/datasets';
import { loadRun } from '../train/run-dir';
import { UserError } from '../util/errors';
import { drawRunDetections, pickImages } from './figure2';
import { cellSummary } from './format';
import { meanSd } from './stats';
import { TableResult } from './runner';
import { METRIC_INDEX } from './tables';

const COLOURS: Record<string, string> = { baseline: '#4e79a7', MetaAnchor: '#e15759' };

/** Table 2: mmAP vs anchors per location for both methods and thresholds; the paper's on the right axis. */
export function mmapVsAnchorsFigure(result: Pick<TableResult, 'cells' | 'table'>): PlotlyFigure {
  const t = result.table;
  const counts = TABLE1_NAMES.map((a) => parseAnchorSpec(a).shapes.length);
  const data: PlotlyTrace[] = [];
  for (const iou of ['0.5/0.4', '0.6/0.5']) {
    for (const group of t.groups) {
      const dash = iou === '0.5/0.4' ? 'solid' : 'dot';
      const ours = TABLE1_NAMES.map((a) => cellSummary(result, `${iou} ${a}`, group, 'mmAP'));
      if (ours.some((m) => m && m.n > 0)) {
        data.push({
          type: 'scatter',
          mode: 'lines+markers',
          name: `ours ${group} ${iou}`,
          x: counts,
          y: ours.map((m) => (m && m.n ? 100 * m.mean : NaN)),
          error_y: { type: 'data', array: ours.map((m) => (m && m.n > 1 ? 100 * m.sd : 0)), visible: ours.some((m) => m && m.n > 1) },
          line: { color: COLOURS[group], dash },
        });
      }
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        name: `paper ${group} ${iou}`,
        x: counts,
        yaxis: 'y2',
        y: TABLE1_NAMES.map((a) => t.paper(`${iou} ${a}`, group, 'mmAP') ?? NaN),
        line: { color: COLOURS[group], dash, width: 1 },
        marker: { symbol: 'circle-open' },
        opacity: 0.6,
      });
    }
  }
  return {
    data,
    layout: {
      title: { text: 'Table 2: mmAP vs anchors per location (solid 0.5/0.4, dotted 0.6/0.5)' },
      xaxis: { title: { text: 'anchors per location (3x3, 5x5, 7x7, 9x9)' }, tickvals: counts },
      yaxis: { title: { text: 'ours: mmAP on MNIST-Det (%)' } },
      yaxis2: { title: { text: 'paper: mmAP on COCO-mini (%)' }, overlaying: 'y', side: 'right' },
      legend: { orientation: 'h', y: -0.25 },
    },
  };
}

/** Table 3: heatmaps of mmAP, training configuration x inference configuration, ours and the paper's. */
export function inferenceHeatmapFigure(result: Pick<TableResult, 'cells' | 'table'>): PlotlyFigure {
  const t = result.table;
  const ours = t.rows.map((r) =>
    t.groups.map((g) => {
      const m = cellSummary(result, r, g, 'mmAP');
      return m && m.n ? Math.round(1000 * m.mean) / 10 : NaN;
    }),
  );
  const paper = t.rows.map((r) => t.groups.map((g) => t.paper(r, g, 'mmAP') ?? NaN));
  const heat = (z: number[][], xaxis: string, yaxis: string, name: string, colorbarX: number): PlotlyTrace => ({
    type: 'heatmap',
    z,
    x: t.groups,
    y: t.rows,
    xaxis,
    yaxis,
    name,
    colorscale: 'Viridis',
    text: z.map((row) => row.map((v) => (Number.isFinite(v) ? v.toFixed(1) : ''))),
    texttemplate: '%{text}',
    colorbar: { x: colorbarX, len: 0.9, title: { text: '%' } },
  });
  return {
    data: [heat(ours, 'x', 'y', 'ours (MNIST-Det)', 0.45), heat(paper, 'x2', 'y2', 'paper (COCO-mini)', 1.0)],
    layout: {
      title: { text: 'Table 3: mmAP by training (rows) and inference (columns) anchors' },
      xaxis: { domain: [0, 0.4], title: { text: 'inference anchors — ours' } },
      xaxis2: { domain: [0.55, 0.95], title: { text: 'inference anchors — paper' } },
      yaxis: { title: { text: 'training anchors' }, autorange: 'reversed' },
      yaxis2: { anchor: 'x2', autorange: 'reversed' },
    },
  };
}

/** The search results a table used (run folder + file name from the evaluation records). */
export function searchResultsOf(result: Pick<TableResult, 'cells'>): { row: string; group: string; seed: number; file: string; search: SearchResultFile }[] {
  const out: { row: string; group: string; seed: number; file: string; search: SearchResultFile }[] = [];
  for (const c of result.cells) {
    for (const s of c.seeds) {
      if (!s.eval.searchFile) continue;
      const file = path.join(s.runDir, s.eval.searchFile);
      out.push({ row: c.row, group: c.group, seed: s.seed, file, search: JSON.parse(fs.readFileSync(file, 'utf8')) as SearchResultFile });
    }
  }
  return out;
}

/**
 * Greedy search (Sec. 4.1.2): best mmAP so far and each candidate's mmAP, per search. `grid` names
 * the candidate grid on the x axis (default Table 8's; Table 7: "YOLOv2").
 */
export function searchTraceFigure(searches: { row: string; search: SearchResultFile }[], options: { grid?: string } = {}): PlotlyFigure {
  const data: PlotlyTrace[] = [];
  for (const { row, search } of searches) {
    const steps = [0, ...search.trace.map((e) => e.step)];
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: `trained ${row}: best`,
      x: steps,
      y: [search.startMmAP, ...search.trace.map((e) => e.mmAP)].map((v) => 100 * v),
    });
    const kept = search.trace.filter((e) => e.kept);
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: `trained ${row}: kept`,
      x: kept.map((e) => e.step),
      y: kept.map((e) => 100 * e.candidateMmAP),
      text: kept.map((e) => e.anchor),
      marker: { size: 8, symbol: 'star' },
    });
  }
  return {
    data,
    layout: {
      title: { text: 'Greedy anchor search: mmAP on the training subset' },
      xaxis: { title: { text: `candidates tried (${options.grid ?? 'Table 8'} grid, random order)` } },
      yaxis: { title: { text: 'mmAP (%)' } },
    },
  };
}

/** Table 4: mmAP and COCO's per-size AP (small < 32², medium, large > 96² px²) per cell. */
export function perSizeApFigure(result: Pick<TableResult, 'cells' | 'table'>): PlotlyFigure {
  const t = result.table;
  const metrics = ['mmAP', 'APs', 'APm', 'APl'] as const;
  const data: PlotlyTrace[] = t.groups.map((g) => ({
    type: 'bar',
    name: g,
    x: t.rows.flatMap((r) => metrics.map((m) => `${r} ${m}`)),
    y: t.rows.flatMap((r) =>
      metrics.map((m) => {
        const c = result.cells.find((x) => x.row === r && x.group === g);
        if (!c) return NaN;
        const v = c.seeds.map((s) => s.eval.stats[METRIC_INDEX[m]]).filter((x) => x >= 0);
        return v.length ? (100 * v.reduce((a, b) => a + b, 0)) / v.length : NaN;
      }),
    ),
  }));
  return {
    data,
    layout: {
      barmode: 'group',
      title: { text: 'Table 4: AP by object size (COCO area ranges), trained with and without the dropped boxes' },
      yaxis: { title: { text: 'AP (%)' } },
    },
  };
}

/**
 * Table 5: VOC07 AP per class on the transfer target, one bar group per class and one colour per
 * method (mean over seeds, sd as error bar); the legend carries each method's mAP.
 */
export function vocPerClassFigure(result: Pick<TableResult, 'cells' | 'table'>): PlotlyFigure {
  const t = result.table;
  const data: PlotlyTrace[] = [];
  for (const cell of result.cells) {
    const vocs = cell.seeds.map((s) => s.eval.voc).filter((v): v is NonNullable<typeof v> => v !== undefined);
    if (vocs.length === 0) continue;
    const classes = vocs[0].perClass.map((c) => c.className);
    const ap = classes.map((name) => meanSd(vocs.map((v) => v.perClass.find((c) => c.className === name)?.ap ?? NaN)));
    const m = cellSummary(result, cell.row, cell.group, 'VOC mAP50');
    const paper = t.paper(cell.row, cell.group, 'VOC mAP50');
    data.push({
      type: 'bar',
      name: `${cell.group}: mAP ${m ? (100 * m.mean).toFixed(1) : '?'}${paper !== undefined ? ` (paper ${paper.toFixed(1)})` : ''}`,
      x: classes,
      y: ap.map((v) => 100 * v.mean),
      error_y: { type: 'data', array: ap.map((v) => (v.n > 1 ? 100 * v.sd : 0)), visible: vocs.length > 1 },
    });
  }
  const leaveOut = t.evaluation?.kind === 'voc-transfer' ? t.evaluation.leaveOut.join(', ') : '';
  return {
    data,
    layout: {
      barmode: 'group',
      title: { text: `Table 5: VOC07 AP@0.5 per class on the shifted target (class ${leaveOut} left out)` },
      xaxis: { title: { text: 'class (digit)' }, type: 'category' },
      yaxis: { title: { text: 'AP@0.5 (%)' } },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}

/** A category label on lines of about `width` characters (plotly breaks lines at <br>). */
export function wrapLabel(text: string, width = 16): string {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines.join('<br>');
}

/**
 * Tables 6 and 8: the first metric per row, one bar per group (Table 6: data-independent and
 * data-dependent; Table 8: its single column), ours (left axis, sd as error bar) beside the paper's
 * (right axis, hatched: another dataset and scale).
 */
export function rowsBarFigure(result: Pick<TableResult, 'cells' | 'table'>): PlotlyFigure {
  const t = result.table;
  const metric = t.metrics[0];
  const several = t.groups.length > 1;
  const colours = ['#e15759', '#4e79a7', '#f28e2b', '#59a14f'];
  const data: PlotlyTrace[] = [];
  t.groups.forEach((g, i) => {
    const ours = t.rows.map((r) => cellSummary(result, r, g, metric));
    data.push({
      type: 'bar',
      name: several ? `ours: ${g}` : 'ours (MNIST-Det)',
      x: t.rows.map((r) => wrapLabel(r)),
      offsetgroup: `ours ${g}`,
      y: ours.map((m) => (m && m.n ? 100 * m.mean : NaN)),
      text: ours.map((m) => (m && m.n ? (100 * m.mean).toFixed(1) : '')),
      textposition: 'outside',
      error_y: { type: 'data', array: ours.map((m) => (m && m.n > 1 ? 100 * m.sd : 0)), visible: ours.some((m) => m && m.n > 1) },
      marker: { color: colours[i % colours.length] },
    });
  });
  t.groups.forEach((g, i) => {
    data.push({
      type: 'bar',
      name: several ? `paper: ${g}` : `paper (${t.paperData ?? 'COCO'})`,
      x: t.rows.map((r) => wrapLabel(r)),
      yaxis: 'y2',
      offsetgroup: `paper ${g}`,
      y: t.rows.map((r) => t.paper(r, g, metric) ?? NaN),
      text: t.rows.map((r) => t.paper(r, g, metric)?.toFixed(1) ?? ''),
      textposition: 'outside',
      marker: several ? { color: colours[i % colours.length], opacity: 0.4, pattern: { shape: '/' } } : { color: '#bab0ac' },
    });
  });
  return {
    data,
    layout: {
      barmode: 'group',
      title: { text: `Table ${t.id}: ${metric} per row, ours and the paper's${several ? ' (hatched)' : ''}` },
      // Row labels wrap onto lines below the bars, so the legend goes above the plot.
      margin: { t: 80, r: 70, b: 50, l: 60 },
      xaxis: { automargin: true, tickangle: 0 },
      yaxis: { title: { text: `ours: ${metric} (%)` } },
      yaxis2: { title: { text: `paper: ${metric} (%)` }, overlaying: 'y', side: 'right' },
      legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' },
    },
  };
}

/**
 * Table 5's distribution gap: histograms of box size sqrt(wh) and ln(w/h) (original pixels) of the
 * source training set and the transfer target, normalised to percent of boxes.
 */
export function boxDistributionFigure(datasets: { name: string; dataset: DetectionDataset }[]): PlotlyFigure {
  const data: PlotlyTrace[] = [];
  const colours = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b'];
  datasets.forEach(({ name, dataset }, k) => {
    const b = collectInputBoxes(dataset).boxes;
    // One colour per dataset in both panels, so the legend explains the ln(w/h) panel too.
    const common = { type: 'histogram', histnorm: 'percent', opacity: 0.6, legendgroup: name, marker: { color: colours[k % colours.length] } };
    data.push({ ...common, name, x: Array.from(boxSizesPx(b)), xaxis: 'x', yaxis: 'y' });
    data.push({ ...common, name, x: Array.from(boxLogRatiosWH(b)), xaxis: 'x2', yaxis: 'y2', showlegend: false });
  });
  return {
    data,
    layout: {
      barmode: 'overlay',
      title: { text: 'Box distributions: source (training) vs transfer target' },
      xaxis: { domain: [0, 0.45], title: { text: 'sqrt(w·h) (px)' } },
      xaxis2: { domain: [0.55, 1], title: { text: 'ln(w/h)' } },
      yaxis: { title: { text: '% of boxes' } },
      yaxis2: { anchor: 'x2' },
      legend: { orientation: 'h', y: -0.25 },
    },
  };
}

/** Table 8's RetinaNet*: every candidate run's mmAP on the training subset, per seed, with the pick. */
export function selectionRows(result: Pick<TableResult, 'cells'>): Row[] {
  const out: Row[] = [];
  for (const c of result.cells) {
    for (const s of c.seeds) {
      if (!s.selection) continue;
      for (const cand of s.selection.candidates) {
        out.push({
          row: c.row,
          seed: s.seed,
          candidate: cand.label,
          'mmAP on training subset': 100 * cand.mmAP,
          picked: cand.label === s.selection.picked ? '✓' : '',
        });
      }
    }
  }
  return out;
}

/**
 * Training images with their boxes: the ones Table 4's range drops drawn dashed. Returns PNGs and
 * the share of dropped training boxes.
 */
export async function droppedBoxesPictures(
  cfg: TrainConfig,
  range: DropRange,
  options: { images?: number; scale?: number } = {},
): Promise<{ pngs: Buffer[]; dropped: number; fraction: number; dataset: DetectionDataset }> {
  const train = await loadDatasetSpec(cfg.train, 'train');
  const r = ignoreDroppedBoxes(train, range, { maxSizePx: cfg.imageSizePx, minSizePx: cfg.minSizePx ?? undefined });
  const n = options.images ?? 4;
  // Images that show both kinds of boxes first.
  const order = r.dataset.images
    .map((im, i) => ({ i, mixed: im.ignore.some((v) => v === 2) && im.ignore.some((v) => v === 0) }))
    .sort((a, b) => Number(b.mixed) - Number(a.mixed) || a.i - b.i)
    .slice(0, n);
  const pngs: Buffer[] = [];
  for (const { i } of order) {
    const im = r.dataset.images[i];
    pngs.push(
      await drawBoxes(im.filePath, im.boxes, {
        scale: options.scale ?? 2,
        classIdx: Array.from(im.ignore, (v) => (v === 2 ? 2 : 0)),
        ignore: im.ignore,
        labels: Array.from(im.ignore, (v, k) => `${train.categories[im.classIdx[k]].name}${v === 2 ? ' dropped' : ''}`),
      }),
    );
  }
  return { pngs, dropped: r.dropped, fraction: r.fraction, dataset: r.dataset };
}

/**
 * Table 7: every metric per column (one bar group per metric), ours (left axis, sd as error bar)
 * beside the paper's (right axis: COCO minival, another scale). Uses the table's first row.
 */
export function columnsBarFigure(result: Pick<TableResult, 'cells' | 'table'>): PlotlyFigure {
  const t = result.table;
  const row = t.rows[0];
  const x = t.metrics.slice();
  const data: PlotlyTrace[] = [];
  const colours = ['#4e79a7', '#e15759', '#f28e2b', '#59a14f'];
  t.groups.forEach((g, i) => {
    const ours = t.metrics.map((m) => cellSummary(result, row, g, m));
    data.push({
      type: 'bar',
      name: `ours: ${g}`,
      x,
      offsetgroup: `ours ${g}`,
      y: ours.map((m) => (m && m.n ? 100 * m.mean : NaN)),
      text: ours.map((m) => (m && m.n ? (100 * m.mean).toFixed(1) : '')),
      textposition: 'outside',
      error_y: { type: 'data', array: ours.map((m) => (m && m.n > 1 ? 100 * m.sd : 0)), visible: ours.some((m) => m && m.n > 1) },
      marker: { color: colours[i % colours.length] },
    });
  });
  t.groups.forEach((g, i) => {
    const paper = t.metrics.map((m) => t.paper(row, g, m));
    data.push({
      type: 'bar',
      name: `paper: ${g}`,
      x,
      yaxis: 'y2',
      offsetgroup: `paper ${g}`,
      y: paper.map((v) => v ?? NaN),
      text: paper.map((v) => v?.toFixed(1) ?? ''),
      textposition: 'outside',
      marker: { color: colours[i % colours.length], opacity: 0.4, pattern: { shape: '/' } },
    });
  });
  return {
    data,
    layout: {
      barmode: 'group',
      title: {
        text: `Table ${t.id}: ${t.metrics.join(' and ')} per column, ours (solid) and the paper's (hatched)<br>paper: ${t.paperData ?? 'COCO'}`,
        font: { size: 15 },
      },
      margin: { t: 70, r: 70, b: 50, l: 60 },
      yaxis: { title: { text: 'ours: MNIST-Det (%)' } },
      // Short: a vertical title longer than the plot is cut off; the paper's data is in the title.
      yaxis2: { title: { text: 'paper (%)' }, overlaying: 'y', side: 'right' },
      legend: { orientation: 'h', y: -0.25 },
    },
  };
}

export interface RunDetectionPictures {
  /** One PNG per image, detections drawn with "class score" labels. */
  pngs: Buffer[];
  /** Detections drawn per image. */
  counts: number[];
  /** Name of the anchors detected with. */
  anchors: string;
}

/**
 * A finished run's detections on some of its validation images (RetinaNet or YOLOv2; default: the
 * run's training anchors, as a table's 'train' cell detects), those scoring >= minScore drawn.
 */
export async function runDetectionPictures(
  runDir: string,
  options: { imageIndices?: number[]; minScore?: number; scale?: number; anchors?: AnchorConfig } = {},
): Promise<RunDetectionPictures> {
  await initBackend();
  const run = loadRun(runDir);
  try {
    const cfg = run.config;
    if (!cfg) throw new UserError(`${runDir} has no config.json`, 'use a run folder written by `metaanchor train`');
    const val = await loadDatasetSpec(cfg.val, 'val');
    const sub = pickImages(val, options.imageIndices ?? [0, 1, 2]);
    const anchors = options.anchors ?? run.trainAnchors;
    const { pngs, counts } = await drawRunDetections(run, sub, { anchors, minScore: options.minScore, scale: options.scale });
    return { pngs, counts, anchors: anchors.name };
  } finally {
    run.detector.dispose();
  }
}
