/**
 * Notebook 10: the paper's greedy anchor search (Sec. 4.1.2) beside the data-driven baselines —
 * YOLOv2's k-means and YOLOv5's k-means + evolution (lib/search/kmeans.ts) — and Table 1's
 * configurations, on equal footing:
 *
 * - coverage of the training boxes (lib/anchors/coverage-report.ts) at the run's positive IoU;
 * - mmAP of one trained MetaAnchor model (Table 3's 3x3 row, IoU 0.6/0.5) detecting with each set;
 * - mmAP of a RetinaNet baseline trained with each set (same matcher, schedule and seed);
 * - cost: seconds to find the set and what it needs (boxes only, or a trained MetaAnchor model).
 *
 * Runs, evaluations and searches go through the table cache (run-cache.ts), so they are shared with
 * Tables 2 and 3 and a rerun trains nothing. The training data is MNIST-Det by default or any
 * COCO-format dataset (instances json + image folder).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, AnchorCoverageReport, TABLE1_NAMES, anchorCoverageReport, parseAnchorSpec } from '../anchors';
import { collectInputBoxes } from '../data/stats';
import { PlotlyFigure, PlotlyTrace } from '../notebook/plotly';
import { Row } from '../notebook/table';
import { AnchorSearchFile, searchAnchorsFromBoxes } from '../search/kmeans';
import { TrainConfig, inputGeometry, trainConfig, validateTrainConfig } from '../train/config';
import { describeDatasetSpec, loadDatasetSpec } from '../train/datasets';
import { UserError } from '../util/errors';
import { statusStream } from '../util/log';
import { searchResultsOf } from './figures';
import { RunTableOptions, TableResult, runTable } from './runner';
import { metricValue } from './run-eval';
import { ExperimentSettings } from './settings';
import { CellSpec, TableSpec } from './tables';

export interface CocoFolder {
  annotations: string;
  images: string;
  valAnnotations: string;
  valImages: string;
}

/**
 * A COCO-format dataset folder: images/ with annotations_train.json and annotations_val.json, or
 * one annotations.json for both. null when the folder does not exist.
 */
export function cocoFolder(dir: string): CocoFolder | null {
  const root = path.resolve(dir);
  if (!fs.existsSync(root)) return null;
  const images = path.join(root, 'images');
  const pick = (...names: string[]) => names.map((n) => path.join(root, n)).find((f) => fs.existsSync(f));
  const train = pick('annotations_train.json', 'annotations.json');
  const val = pick('annotations_val.json', 'annotations.json');
  if (!train || !val || !fs.existsSync(images)) {
    throw new UserError(`${root} is not a COCO dataset folder`, 'it needs images/ and annotations_train.json + annotations_val.json (or annotations.json)');
  }
  return { annotations: train, images, valAnnotations: val, valImages: images };
}

export interface AnchorSearchComparisonOptions {
  /** Train and evaluate on this COCO-format data instead of MNIST-Det. */
  coco?: CocoFolder;
  /** Shapes per position of the k-means and evolution sets (default 9, as 3x3). */
  k?: number;
  generations?: number;
  seed?: number;
  /** Also train a RetinaNet baseline with 3x3, 9x9 and each searched set (default true). */
  baselines?: boolean;
  run?: RunTableOptions;
}

export type AnchorSetMethod = 'Table 1' | 'greedy search' | 'k-means' | 'k-means + evolution';

export interface AnchorSetEntry {
  name: string;
  method: AnchorSetMethod;
  /** Anchor spec (README "Anchor specs"). */
  spec: string;
  config: AnchorConfig;
  coverage: AnchorCoverageReport;
  /** Seconds to find the set (0 for Table 1's). */
  seconds: number;
  needs: string;
  /** mmAP of the trained MetaAnchor model detecting with this set. */
  metaMmAP: number;
  /** mmAP of a baseline trained with this set (when trained). */
  baselineMmAP?: number;
}

export interface AnchorSearchComparison {
  dataset: string;
  /** The MetaAnchor run's training configuration (its posIou is the coverage threshold). */
  train: TrainConfig;
  entries: AnchorSetEntry[];
  kmeans: AnchorSearchFile;
  evolve: AnchorSearchFile;
  metaResult: TableResult;
  baselineResult?: TableResult;
}

function cellConfig(settings: ExperimentSettings, overrides: Partial<TrainConfig>): TrainConfig {
  const cfg = trainConfig(settings.base.preset, { ...settings.base, ...overrides, seed: settings.seeds[0] ?? 0 });
  validateTrainConfig(cfg);
  return cfg;
}

function comparisonTable(title: string, cells: CellSpec[]): TableSpec {
  return {
    // Cells of Table 3's kind (inference anchor sets of a MetaAnchor run); the id only labels log lines.
    id: '3',
    title,
    source: 'Sec. 4.1.2 (greedy search) against YOLOv2 / YOLOv5 anchor clustering',
    rows: [...new Set(cells.map((c) => c.row))],
    groups: [...new Set(cells.map((c) => c.group))],
    metrics: ['mmAP'],
    cells,
    paper: () => undefined,
  };
}

const mmapOf = (r: TableResult, row: string, group: string): number => {
  const cell = r.cells.find((c) => c.row === row && c.group === group);
  return cell ? metricValue(cell.seeds[0].eval, 'mmAP') : NaN;
};

/** Find the anchor sets, train / evaluate what is missing, and collect coverage, mmAP and cost. */
export async function anchorSearchComparison(settings: ExperimentSettings, options: AnchorSearchComparisonOptions = {}): Promise<AnchorSearchComparison> {
  // The cells are labelled "Table 3" by the runner's log lines; they are this comparison's.
  const quiet = options.run?.quiet ?? process.env.METAANCHOR_QUIET === '1';
  const sink = options.run?.log ?? ((line: string) => (quiet ? undefined : statusStream().write(line + '\n')));
  const run: RunTableOptions = { ...options.run, log: (line) => sink(line.replace(/^Table 3 /, 'anchor sets ')) };
  const data: Partial<TrainConfig> = options.coco
    ? {
        train: { kind: 'coco', annotations: options.coco.annotations, images: options.coco.images },
        val: { kind: 'coco', annotations: options.coco.valAnnotations, images: options.coco.valImages },
      }
    : {};
  // Table 3's 3x3 row (MetaAnchor, 0.6/0.5): on MNIST-Det the same run as Tables 2 and 3.
  const meta = cellConfig(settings, { ...data, method: 'metaanchor', anchors: '3x3', posIou: 0.6, negIou: 0.5 });
  const trainSet = await loadDatasetSpec(meta.train, 'train');
  const boxes = collectInputBoxes(trainSet, inputGeometry(meta));
  const k = options.k ?? 9;
  const seed = options.seed ?? 0;
  const kmeans = searchAnchorsFromBoxes(boxes.boxes, 'kmeans', { k, seed, dataset: trainSet.name });
  const evolve = searchAnchorsFromBoxes(boxes.boxes, 'evolve', { k, seed, generations: options.generations, dataset: trainSet.name });

  const inference: [string, string][] = [
    ...TABLE1_NAMES.map((a): [string, string] => [a, a === '3x3' ? 'train' : a]),
    ['greedy search', 'search'],
    ['k-means', kmeans.anchors],
    ['k-means + evolution', evolve.anchors],
  ];
  const metaResult = await runTable(
    comparisonTable(
      'MetaAnchor 3x3 (0.6/0.5) with each anchor set',
      inference.map(([row, inf]) => ({ row, group: 'MetaAnchor', train: meta, inference: inf })),
    ),
    settings,
    run,
  );
  const search = searchResultsOf(metaResult)[0]?.search;
  if (!search) throw new Error('the greedy search cell produced no search result');

  const sets: { name: string; method: AnchorSetMethod; spec: string; seconds: number; needs: string }[] = [
    ...TABLE1_NAMES.map((a) => ({ name: a, method: 'Table 1' as const, spec: a, seconds: 0, needs: 'nothing' })),
    {
      name: 'greedy search',
      method: 'greedy search',
      spec: search.anchors,
      seconds: search.seconds,
      needs: `a trained MetaAnchor model; ${search.trace.length} candidates scored on ${search.subsetImages} training images`,
    },
    { name: 'k-means', method: 'k-means', spec: kmeans.anchors, seconds: kmeans.seconds, needs: `${kmeans.boxes} training boxes` },
    {
      name: 'k-means + evolution',
      method: 'k-means + evolution',
      spec: evolve.anchors,
      seconds: evolve.seconds,
      needs: `${evolve.boxes} training boxes, ${evolve.generations} generations`,
    },
  ];

  let baselineResult: TableResult | undefined;
  if (options.baselines ?? true) {
    const trained = sets.filter((s) => s.name === '3x3' || s.name === '9x9' || s.method !== 'Table 1');
    baselineResult = await runTable(
      comparisonTable(
        'RetinaNet (0.6/0.5) trained with each anchor set',
        trained.map((s) => ({
          row: s.name,
          group: 'baseline',
          train: cellConfig(settings, { ...data, method: 'baseline', anchors: s.spec, posIou: 0.6, negIou: 0.5 }),
          inference: 'train',
        })),
      ),
      settings,
      run,
    );
  }
  const entries = sets.map((s) => {
    const config = { ...parseAnchorSpec(s.spec), name: s.name };
    const baseline = baselineResult ? mmapOf(baselineResult, s.name, 'baseline') : NaN;
    return {
      ...s,
      config,
      coverage: anchorCoverageReport(boxes, config, { posIou: meta.posIou }),
      metaMmAP: mmapOf(metaResult, s.name, 'MetaAnchor'),
      ...(Number.isFinite(baseline) ? { baselineMmAP: baseline } : {}),
    };
  });
  return { dataset: describeDatasetSpec(meta.train), train: meta, entries, kmeans, evolve, metaResult, baselineResult };
}

/** One row per anchor set: coverage, mmAP (percent) and cost. */
export function anchorSearchRows(c: AnchorSearchComparison): Row[] {
  return c.entries.map((e) => ({
    'anchor set': e.name,
    method: e.method,
    A: e.config.shapes.length,
    [`BPR IoU>=${c.train.posIou} %`]: 100 * e.coverage.bprIou,
    'BPR ratio %': 100 * e.coverage.bprRatio,
    'mean best IoU %': 100 * e.coverage.meanBestIou,
    'MetaAnchor mmAP': 100 * e.metaMmAP,
    ...(c.baselineResult ? { 'baseline trained mmAP': e.baselineMmAP === undefined ? undefined : 100 * e.baselineMmAP } : {}),
    'seconds to find': e.seconds,
    needs: e.needs,
  }));
}

/** mmAP of each anchor set (bars: MetaAnchor inference, baseline trained) against its coverage (line, right axis). */
export function anchorSearchFigure(c: AnchorSearchComparison): PlotlyFigure {
  const names = c.entries.map((e) => e.name);
  const data: PlotlyTrace[] = [
    { type: 'bar', name: 'MetaAnchor 3x3 detecting with the set', x: names, y: c.entries.map((e) => 100 * e.metaMmAP), marker: { color: '#e15759' } },
  ];
  if (c.baselineResult) {
    data.push({
      type: 'bar',
      name: 'RetinaNet trained with the set',
      x: names,
      y: c.entries.map((e) => (e.baselineMmAP === undefined ? null : 100 * e.baselineMmAP)) as number[],
      marker: { color: '#4e79a7' },
    });
  }
  data.push({
    type: 'scatter',
    mode: 'lines+markers',
    name: `BPR (best IoU >= ${c.train.posIou})`,
    x: names,
    y: c.entries.map((e) => 100 * e.coverage.bprIou),
    yaxis: 'y2',
    line: { color: '#59a14f' },
  });
  return {
    data,
    layout: {
      title: { text: `${c.dataset}: anchor sets by mmAP and coverage` },
      barmode: 'group',
      yaxis: { title: { text: 'mmAP (%)' } },
      yaxis2: { title: { text: 'BPR (%)' }, overlaying: 'y', side: 'right', range: [0, 102] },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}

/** YOLOv5 fitness per generation of the evolution, from the k-means start. */
export function evolutionTraceFigure(c: Pick<AnchorSearchComparison, 'evolve' | 'dataset'>): PlotlyFigure {
  const trace = c.evolve.trace ?? [];
  return {
    data: [{ type: 'scatter', mode: 'lines', name: 'best fitness', x: [0, ...trace.map((_, g) => g + 1)], y: [c.evolve.kmeansFitness, ...trace] }],
    layout: {
      title: { text: `${c.dataset}: evolution of the k-means anchors (YOLOv5 fitness, anchor_t ${c.evolve.anchorT})` },
      xaxis: { title: { text: 'generation' } },
      yaxis: { title: { text: 'fitness (mean best ratio metric above 1/anchor_t)' } },
    },
  };
}
