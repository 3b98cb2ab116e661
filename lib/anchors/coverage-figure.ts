/**
 * Plotly figure of anchor coverage reports (lib/anchors/coverage-report.ts), after pyodi's
 * train-config evaluation page: 2 x 2 panels — best-IoU CDF per anchor set, BPR (IoU and YOLOv5's
 * ratio metric) per set, where boxes find their best anchor (share per FPN level, colours as in the
 * CDF), and BPR by scale
 * x ratio bin for one set (text: boxes in the bin).
 */
import type { PlotlyFigure, PlotlyTrace } from '../notebook/plotly';
import { AnchorCoverageReport } from './coverage-report';

const PALETTE = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];

export function coverageFigure(reports: readonly AnchorCoverageReport[], options: { title?: string; gridOf?: string } = {}): PlotlyFigure {
  const data: PlotlyTrace[] = [];
  const names = reports.map((r) => r.anchors);
  reports.forEach((r, i) =>
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: r.anchors,
      legendgroup: r.anchors,
      x: r.bestIouCdf.iou,
      y: r.bestIouCdf.fraction,
      line: { color: PALETTE[i % PALETTE.length], width: 2 },
      hovertemplate: `${r.anchors}: %{y:.0%} of boxes have best IoU <= %{x:.2f}<extra></extra>`,
    }),
  );
  const pos = reports[0]?.posIou ?? 0.5;
  data.push(
    { type: 'bar', name: `BPR IoU >= ${pos}`, x: names, y: reports.map((r) => 100 * r.bprIou), xaxis: 'x2', yaxis: 'y2', marker: { color: '#4e79a7' } },
    {
      type: 'bar',
      name: `BPR ratio > 1/${reports[0]?.anchorT ?? 4}`,
      x: names,
      y: reports.map((r) => 100 * r.bprRatio),
      xaxis: 'x2',
      yaxis: 'y2',
      marker: { color: '#f28e2b' },
    },
  );
  reports.forEach((r, i) =>
    data.push({
      type: 'bar',
      name: r.anchors,
      legendgroup: r.anchors,
      showlegend: false,
      x: r.levels.map((l) => `P${l.level}`),
      y: r.levels.map((l) => 100 * l.bestShare),
      xaxis: 'x3',
      yaxis: 'y3',
      marker: { color: PALETTE[i % PALETTE.length] },
      hovertemplate: `${r.anchors}: %{y:.1f}% of boxes have their best anchor on %{x}<extra></extra>`,
    }),
  );
  const focus = reports.find((r) => r.anchors === options.gridOf) ?? reports[0];
  if (focus) {
    const g = focus.grid;
    // Size rows without boxes (e.g. above the largest box) are left out.
    const rows = g.count.map((_row, i) => i).filter((i) => g.count[i].some((c) => c > 0));
    data.push({
      type: 'heatmap',
      x: g.ratioLabels,
      y: rows.map((i) => g.sizeLabels[i]),
      z: rows.map((i) => g.bprIou[i].map((v) => (Number.isFinite(v) ? 100 * v : null))) as unknown as number[][],
      text: rows.map((i) => g.count[i].map((c) => (c ? `${c}` : ''))),
      texttemplate: '%{text}',
      xaxis: 'x4',
      yaxis: 'y4',
      colorscale: 'Viridis',
      zmin: 0,
      zmax: 100,
      showscale: true,
      colorbar: { x: 1.0, y: 0.22, len: 0.45, title: { text: 'BPR %', side: 'right' } },
      name: focus.anchors,
      hovertemplate: `${focus.anchors}: %{y}, %{x}: BPR %{z:.0f}% of %{text} boxes<extra></extra>`,
    });
  }
  return {
    data,
    layout: {
      title: { text: options.title ?? 'Anchor coverage' },
      height: 760,
      barmode: 'group',
      legend: { orientation: 'h', y: -0.12 },
      xaxis: { domain: [0, 0.44], anchor: 'y', title: { text: 'best IoU with any anchor' }, range: [0, 1] },
      yaxis: { domain: [0.58, 1], title: { text: 'share of boxes (CDF)' }, range: [0, 1.02] },
      xaxis2: { domain: [0.56, 1], anchor: 'y2', type: 'category' },
      yaxis2: { domain: [0.58, 1], anchor: 'x2', title: { text: 'BPR (%)' }, range: [0, 102] },
      xaxis3: { domain: [0, 0.44], anchor: 'y3', type: 'category', title: { text: 'FPN level' } },
      yaxis3: { domain: [0, 0.42], anchor: 'x3', title: { text: 'boxes with their best anchor there (%)' } },
      xaxis4: { domain: [0.56, 0.94], anchor: 'y4', title: { text: `w/h (BPR IoU >= ${pos} of ${focus?.anchors ?? ''})` }, type: 'category' },
      yaxis4: { domain: [0, 0.42], anchor: 'x4', title: { text: 'sqrt(w·h) px' }, type: 'category' },
      annotations: [],
    },
  };
}
