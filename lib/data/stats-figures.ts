/**
 * Histograms of box size sqrt(w*h) and shape ln(w/h) as plain plotly JSON, with the anchor levels,
 * Table 1's extreme ratios and Table 4's drop range marked.
 */
import { InputConfig } from './pipeline';
import { DetectionDataset } from './types';
import { boxLogRatiosWH, boxSizesPx, collectInputBoxes, quantiles } from './stats';
import { DropRange, table4DropRange } from './box-drop';

export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

function histogramCounts(values: ArrayLike<number>, edges: number[]): number[] {
  const counts = new Array(edges.length - 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= edges[0] && v < edges[edges.length - 1])) continue;
    let lo = 0;
    let hi = edges.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (v >= edges[mid]) lo = mid;
      else hi = mid;
    }
    counts[lo]++;
  }
  return counts;
}

/**
 * Histogram of sqrt(w*h) on a log axis (bins 2^(1/4) wide), with the base anchor size 4*stride of
 * P3..P7 marked and the Table 4 drop range shaded.
 */
export function sizeHistogramFigure(boxes: Float32Array, options: { title?: string; dropRange?: DropRange } = {}): PlotlyFigure {
  const sizes = boxSizesPx(boxes);
  const lo = Math.floor(4 * Math.log2(Math.max(1, quantiles(sizes, [0])[0] || 1)));
  const hi = Math.ceil(4 * Math.log2(Math.max(2, quantiles(sizes, [1])[0] || 2))) + 1;
  const edges = Array.from({ length: hi - lo + 1 }, (_, k) => 2 ** ((lo + k) / 4));
  const counts = histogramCounts(sizes, edges);
  const centres = counts.map((_, k) => Math.sqrt(edges[k] * edges[k + 1]));
  const widths = counts.map((_, k) => edges[k + 1] - edges[k]);
  const shapes: Record<string, unknown>[] = [3, 4, 5, 6, 7].map((l) => ({
    type: 'line', x0: 4 * 2 ** l, x1: 4 * 2 ** l, y0: 0, y1: 1, yref: 'paper', line: { dash: 'dot', width: 1, color: '#888' },
  }));
  const annotations: Record<string, unknown>[] = [3, 4, 5, 6, 7].map((l) => ({
    x: Math.log10(4 * 2 ** l), y: 1, yref: 'paper', text: `P${l}`, showarrow: false, yanchor: 'bottom', font: { size: 10 },
  }));
  if (options.dropRange) {
    shapes.push({ type: 'rect', x0: options.dropRange.sqrtMinPx, x1: options.dropRange.sqrtMaxPx, y0: 0, y1: 1, yref: 'paper', fillcolor: '#e15759', opacity: 0.12, line: { width: 0 } });
  }
  return {
    data: [{ type: 'bar', x: centres, y: counts, width: widths, marker: { color: '#4e79a7' }, name: 'boxes', hovertemplate: 'sqrt(wh) %{x:.1f} px: %{y}<extra></extra>' }],
    layout: {
      title: { text: options.title ?? 'Box size sqrt(w·h) (input px)' },
      xaxis: { type: 'log', title: { text: 'sqrt(w·h), px (dotted: base anchor 4·stride of P3..P7)' } },
      yaxis: { title: { text: 'boxes' } },
      shapes,
      annotations,
      bargap: 0,
      showlegend: false,
    },
  };
}

/** Histogram of ln(w/h), bins 0.1 wide, with Table 1's extreme ratios (1:5 .. 5:1) marked. */
export function logRatioHistogramFigure(boxes: Float32Array, options: { title?: string; dropRange?: DropRange } = {}): PlotlyFigure {
  const ratios = boxLogRatiosWH(boxes);
  const maxAbs = ratios.reduce((m, r) => Math.max(m, Math.abs(r)), 0);
  const lim = Math.max(2, Math.ceil(10 * maxAbs) / 10);
  const edges: number[] = [];
  for (let v = -lim; v <= lim + 1e-9; v += 0.1) edges.push(Math.round(v * 10) / 10);
  const counts = histogramCounts(ratios, edges);
  const centres = counts.map((_, k) => (edges[k] + edges[k + 1]) / 2);
  const marks = [1 / 5, 1 / 3, 1, 3, 5];
  const shapes: Record<string, unknown>[] = marks.map((r) => ({
    type: 'line', x0: Math.log(r), x1: Math.log(r), y0: 0, y1: 1, yref: 'paper', line: { dash: 'dot', width: 1, color: '#888' },
  }));
  if (options.dropRange) {
    shapes.push({ type: 'rect', x0: options.dropRange.logRatioMin, x1: options.dropRange.logRatioMax, y0: 0, y1: 1, yref: 'paper', fillcolor: '#e15759', opacity: 0.12, line: { width: 0 } });
  }
  return {
    data: [{ type: 'bar', x: centres, y: counts, width: 0.1, marker: { color: '#f28e2b' }, name: 'boxes', hovertemplate: 'ln(w/h) %{x:.2f}: %{y}<extra></extra>' }],
    layout: {
      title: { text: options.title ?? 'Box shape ln(w/h)' },
      xaxis: { title: { text: 'ln(w/h) (dotted: w/h = 1/5, 1/3, 1, 3, 5)' } },
      yaxis: { title: { text: 'boxes' } },
      annotations: marks.map((r) => ({ x: Math.log(r), y: 1, yref: 'paper', text: r < 1 ? `1:${Math.round(1 / r)}` : `${r}:1`, showarrow: false, yanchor: 'bottom', font: { size: 10 } })),
      shapes,
      bargap: 0,
      showlegend: false,
    },
  };
}

/** Both histograms of a dataset's non-ignore boxes in input pixels, with the Table 4 range shaded. */
export function boxFigures(
  ds: DetectionDataset,
  input?: Pick<InputConfig, 'maxSizePx' | 'minSizePx' | 'pad' | 'sizeDivisor'>,
): { size: PlotlyFigure; ratio: PlotlyFigure } {
  const ib = collectInputBoxes(ds, input);
  const dropRange = table4DropRange();
  return {
    size: sizeHistogramFigure(ib.boxes, { title: `${ds.name}: box size sqrt(w·h) (input px)`, dropRange }),
    ratio: logRatioHistogramFigure(ib.boxes, { title: `${ds.name}: box shape ln(w/h)`, dropRange }),
  };
}
