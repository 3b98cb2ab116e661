/**
 * `metaanchor analyze`: why a COCO number is what it is — PR curves, AP by size and aspect ratio,
 * TIDE's error breakdown and a confusion matrix of one detection set, as one object (the --json
 * output), text, plotly figures and a self-contained HTML page.
 */
import { CocoDetections, CocoGroundTruthJson, CocoResultJson } from '../eval/coco';
import { CocoGroundTruthColumns } from '../eval/coco-input';
import { PlotlyFigure, PlotlyTrace } from '../notebook/plotly';
import { PagePart, htmlPage } from '../notebook/page';
import { Row } from '../notebook/table';
import { DEFAULT_RATIO_EDGES_WH, PrCurve, RangeAp, apByRatio, apBySize, prCurves } from './ap-breakdown';
import { ConfusionMatrix, ConfusionOptions, confusionMatrix, topConfusions } from './confusion';
import { AnalysisInputOptions, AnalysisInputs, analysisInputs } from './inputs';
import { TIDE_CITATION, TIDE_ERROR_NAMES, TIDE_ERROR_TYPES, TideErrorType, TideOptions, TideResult, tideErrors } from './tide';

export interface AnalyzeOptions extends AnalysisInputOptions, TideOptions {
  /** Aspect-ratio bin edges on w/h (default 1/3, 2/3, 3/2, 3). */
  ratioEdges?: readonly number[];
  confusion?: ConfusionOptions;
}

export interface DetectionAnalysis {
  /** The evaluator's AP (fractions): AP50, AP75 and AP@[.5:.95] (= `eval coco` stats[1], [2], [0]). */
  ap: { '0.5': number; '0.75': number; '0.5:0.95': number };
  /** TIDE dAP per error type at t_f (fractions). */
  errors: Record<TideErrorType, number>;
  errorCounts: Record<TideErrorType, number>;
  /** TIDE's FalsePos / FalseNeg dAP. */
  specialErrors: { fp: number; fn: number };
  tide: { tf: number; tb: number; truePositives: number; source: string };
  prCurves: PrCurve[];
  apBySize: RangeAp[];
  apByRatio: RangeAp[];
  confusion: ConfusionMatrix;
  categories: { id: number; name: string }[];
  counts: { images: number; categories: number; gt: number; detections: number; scored: number };
}

/** Analyse a detection set against COCO ground truth (json, path or columns). */
export function analyzeDetections(
  gt: string | CocoGroundTruthJson | CocoGroundTruthColumns,
  dt: string | readonly CocoResultJson[] | CocoDetections,
  options: AnalyzeOptions = {},
): DetectionAnalysis {
  return analyzeInputs(analysisInputs(gt, dt, options), options);
}

export function analyzeInputs(inputs: AnalysisInputs, options: AnalyzeOptions = {}): DetectionAnalysis {
  const r = inputs.prepared.evaluate(inputs.dets, inputs.imageIds ? { imageIds: inputs.imageIds } : {});
  const tide: TideResult = tideErrors(inputs, options);
  let gtCount = 0;
  for (const list of inputs.gtByImage.values()) gtCount += list.length;
  return {
    ap: { '0.5': r.stats[1], '0.75': r.stats[2], '0.5:0.95': r.stats[0] },
    errors: tide.errors,
    errorCounts: tide.counts,
    specialErrors: tide.special,
    tide: { tf: tide.tf, tb: tide.tb, truePositives: tide.truePositives, source: TIDE_CITATION },
    prCurves: prCurves(r, inputs),
    apBySize: apBySize(r, inputs),
    apByRatio: apByRatio(inputs, options.ratioEdges ?? DEFAULT_RATIO_EDGES_WH),
    confusion: confusionMatrix(inputs, options.confusion),
    categories: inputs.categories,
    counts: {
      images: r.counts.images,
      categories: r.counts.categories,
      gt: gtCount,
      detections: r.counts.dt,
      scored: tide.detectionType.filter((x) => x !== null).length,
    },
  };
}

const pts = (v: number): string => (v < 0 ? '  n/a' : (100 * v).toFixed(1).padStart(5));

/** The analysis as text (percent points). */
export function formatAnalysis(a: DetectionAnalysis): string {
  const lines = [
    `${a.counts.images} images, ${a.counts.categories} categories, ${a.counts.gt} boxes, ${a.counts.detections} detections (${a.counts.scored} scored)`,
    `AP50 ${pts(a.ap['0.5']).trim()}   AP75 ${pts(a.ap['0.75']).trim()}   AP ${pts(a.ap['0.5:0.95']).trim()}   (the evaluator's, %)`,
    `errors (dAP in AP50 points; ${a.tide.source}; t_f ${a.tide.tf}, t_b ${a.tide.tb}):`,
    '  ' + TIDE_ERROR_TYPES.map((k) => `${TIDE_ERROR_NAMES[k]} ${pts(a.errors[k]).trim()} (${a.errorCounts[k]})`).join('   '),
    `  FalsePos ${pts(a.specialErrors.fp).trim()}   FalseNeg ${pts(a.specialErrors.fn).trim()}   true positives ${a.tide.truePositives}`,
    'AP by size (COCO area ranges)              boxes    AP  AP50  AP75',
    ...a.apBySize.map((s) => `  ${s.label.padEnd(40)}${String(s.numGt).padStart(6)}${pts(s.ap)}${pts(s.ap50)}${pts(s.ap75)}`),
    'AP by aspect ratio (w/h of the box)        boxes    AP  AP50  AP75',
    ...a.apByRatio.map((s) => `  ${s.label.padEnd(40)}${String(s.numGt).padStart(6)}${pts(s.ap)}${pts(s.ap50)}${pts(s.ap75)}`),
  ];
  const cm = a.confusion;
  const K = cm.labels.length - 1;
  lines.push(`confusion (score >= ${cm.scoreThreshold}, IoU >= ${cm.iouThreshold}; rows = ground truth, columns = detections, bg = background):`);
  if (K <= 12) {
    const short = cm.labels.map((l, i) => (i === K ? 'bg' : l.slice(0, 6)));
    const w = Math.max(5, ...cm.matrix.flat().map((v) => String(v).length + 1), ...short.map((s) => s.length + 1));
    lines.push('  ' + ''.padEnd(7) + short.map((s) => s.padStart(w)).join(''));
    cm.matrix.forEach((row, i) => lines.push('  ' + short[i].padEnd(7) + row.map((v) => String(v).padStart(w)).join('')));
  }
  const top = topConfusions(cm);
  lines.push(
    `  most confused: ${top.length ? top.map((c) => `${c.gt} -> ${c.detected} (${c.n})`).join(', ') : 'none'}; ` +
      `missed ${cm.matrix.slice(0, K).reduce((s, r) => s + r[K], 0)}, detections on background ${cm.matrix[K].reduce((s, v) => s + v, 0)}`,
  );
  return lines.join('\n');
}

const PALETTE = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];

/** PR curves at IoU 0.5 (left) and 0.75 (right): the mean over categories bold, each category thin. */
export function prCurveFigure(a: Pick<DetectionAnalysis, 'prCurves'>, title = 'Precision-recall (COCO interpolation, 101 recall points)'): PlotlyFigure {
  const ious = [...new Set(a.prCurves.map((c) => c.iouThreshold))];
  const perClass = a.prCurves.filter((c) => c.categoryId !== null).length / Math.max(1, ious.length);
  const data: PlotlyTrace[] = [];
  ious.forEach((iou, i) => {
    const axis = i === 0 ? '' : String(i + 1);
    a.prCurves
      .filter((c) => c.iouThreshold === iou)
      .forEach((c, k) => {
        const mean = c.categoryId === null;
        data.push({
          type: 'scatter',
          mode: 'lines',
          x: c.recall,
          y: c.precision,
          xaxis: `x${axis}`,
          yaxis: `y${axis}`,
          name: mean ? `all (AP ${(100 * c.ap).toFixed(1)})` : c.name,
          legendgroup: c.name,
          showlegend: i === 0 && (mean || perClass <= 20),
          line: mean ? { color: '#222', width: 3 } : { color: PALETTE[(k - 1) % PALETTE.length], width: 1 },
          hovertemplate: `${c.name} @${iou}: recall %{x:.2f}, precision %{y:.2f}<extra></extra>`,
        });
      });
  });
  const layout: Record<string, unknown> = { title: { text: title }, legend: { orientation: 'h', y: -0.2 } };
  ious.forEach((iou, i) => {
    const axis = i === 0 ? '' : String(i + 1);
    const w = 1 / ious.length;
    layout[`xaxis${axis}`] = {
      domain: [i * w + (i ? 0.04 : 0), (i + 1) * w - (i + 1 < ious.length ? 0.04 : 0)],
      title: { text: `recall (IoU ${iou})` },
      range: [0, 1],
    };
    layout[`yaxis${axis}`] = { anchor: `x${axis}`, title: { text: i === 0 ? 'precision' : '' }, range: [0, 1.02] };
  });
  return { data, layout };
}

/** TIDE dAP per error type (AP50 points), one bar group per analysis. */
export function errorBreakdownFigure(
  runs: readonly { name: string; analysis: Pick<DetectionAnalysis, 'errors' | 'specialErrors' | 'tide'> }[],
  title?: string,
): PlotlyFigure {
  const labels = [...TIDE_ERROR_TYPES.map((k) => TIDE_ERROR_NAMES[k]), 'FalsePos', 'FalseNeg'];
  return {
    data: runs.map((r, i) => ({
      type: 'bar',
      name: r.name,
      x: labels,
      marker: { color: PALETTE[i % PALETTE.length] },
      y: [...TIDE_ERROR_TYPES.map((k) => 100 * r.analysis.errors[k]), 100 * r.analysis.specialErrors.fp, 100 * r.analysis.specialErrors.fn],
      hovertemplate: `${r.name} %{x}: dAP %{y:.2f}<extra></extra>`,
    })),
    layout: {
      title: { text: title ?? `TIDE error breakdown: AP${Math.round(100 * (runs[0]?.analysis.tide.tf ?? 0.5))} gained by fixing one error type` },
      barmode: 'group',
      yaxis: { title: { text: 'dAP50 (points)' } },
      xaxis: { title: { text: 'main error types | summaries' } },
      legend: { orientation: 'h', y: -0.2 },
    },
  };
}

/** AP, AP50 and AP75 by size range (left) and by aspect-ratio bin (right). */
export function rangeApFigure(a: Pick<DetectionAnalysis, 'apBySize' | 'apByRatio'>, title = 'AP by box size and aspect ratio'): PlotlyFigure {
  const data: PlotlyTrace[] = [];
  const metrics = [
    ['ap', 'AP'],
    ['ap50', 'AP50'],
    ['ap75', 'AP75'],
  ] as const;
  [a.apBySize, a.apByRatio].forEach((ranges, i) => {
    metrics.forEach(([key, label], m) =>
      data.push({
        type: 'bar',
        name: label,
        legendgroup: label,
        showlegend: i === 0,
        xaxis: i ? 'x2' : 'x',
        yaxis: i ? 'y2' : 'y',
        x: ranges.map((r) => `${r.label.replace(' (', '<br>(')}<br>${r.numGt} boxes`),
        y: ranges.map((r) => (r[key] < 0 ? null : 100 * r[key])) as number[],
        marker: { color: PALETTE[m] },
      }),
    );
  });
  return {
    data,
    layout: {
      title: { text: title },
      barmode: 'group',
      legend: { orientation: 'h', x: 0, y: 1.1 },
      xaxis: { domain: [0, 0.42], title: { text: 'COCO size range' }, tickangle: 0, automargin: true },
      xaxis2: { domain: [0.5, 1], title: { text: 'aspect ratio w/h' }, tickangle: 0, automargin: true },
      yaxis: { title: { text: 'AP (%)' } },
      yaxis2: { anchor: 'x2' },
    },
  };
}

/** Confusion matrix heatmap: colour = share of the row, text = count. */
export function confusionFigure(cm: ConfusionMatrix, title?: string): PlotlyFigure {
  const share = cm.matrix.map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (s ? v / s : 0));
  });
  return {
    data: [
      {
        type: 'heatmap',
        z: share,
        x: cm.labels,
        y: cm.labels,
        colorscale: 'Blues',
        reversescale: true,
        zmin: 0,
        zmax: 1,
        text: cm.matrix.map((row) => row.map(String)),
        texttemplate: cm.labels.length <= 21 ? '%{text}' : '',
        hovertemplate: 'ground truth %{y}, detected %{x}: %{text}<extra></extra>',
        colorbar: { title: { text: 'row share', side: 'right' } },
      },
    ],
    layout: {
      title: { text: title ?? `Confusion matrix (score >= ${cm.scoreThreshold}, IoU >= ${cm.iouThreshold})` },
      xaxis: { title: { text: 'detected class' }, type: 'category' },
      yaxis: { title: { text: 'ground-truth class' }, type: 'category', autorange: 'reversed', automargin: true },
    },
  };
}

/** Rows of the error table (for showTable): one row per analysis, dAP in points. */
export function errorRows(runs: readonly { name: string; analysis: DetectionAnalysis }[]): Row[] {
  return runs.map(({ name, analysis: a }) => ({
    run: name,
    AP50: 100 * a.ap['0.5'],
    AP75: 100 * a.ap['0.75'],
    ...Object.fromEntries(TIDE_ERROR_TYPES.map((k) => [TIDE_ERROR_NAMES[k], 100 * a.errors[k]])),
    FalsePos: 100 * a.specialErrors.fp,
    FalseNeg: 100 * a.specialErrors.fn,
  }));
}

/** A self-contained HTML page of the analysis (`analyze --html`). */
export function analysisHtml(a: DetectionAnalysis, title = 'Detection analysis'): string {
  const parts: PagePart[] = [
    { text: formatAnalysis(a).split('\n').slice(0, 2).join(' — ') },
    { heading: 'Error breakdown' },
    { figure: errorBreakdownFigure([{ name: 'detections', analysis: a }]) },
    { table: errorRows([{ name: 'detections', analysis: a }]), options: { digits: 2 } },
    { heading: 'Precision-recall' },
    { figure: prCurveFigure(a), heightPx: 480 },
    { heading: 'AP by size and aspect ratio' },
    { figure: rangeApFigure(a) },
    { heading: 'Confusion matrix' },
    { figure: confusionFigure(a.confusion), heightPx: Math.min(900, 240 + 24 * a.confusion.labels.length) },
  ];
  return htmlPage(title, parts);
}
