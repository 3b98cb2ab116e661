/**
 * Plotly figures in notebook cells.
 *
 * plotly.js (plotly.js-dist-min 4.1.2, ~4.8 MB) is embedded in the notebook once per kernel session,
 * as its own output right before the first figure, so that figures render offline: in the HTML
 * export (nbconvert) and in Jupyter Notebook 6. plotly.js 4 always sets window.Plotly and never calls
 * require.js' define(), so it works with and without Notebook 6's require.js (docs/DESIGN.md section 5).
 * Each figure output is a <div> plus a small script that draws it with window.Plotly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { display, DisplaySink, jsonForScript, uniqueId } from './display';
import { UserError } from '../util/errors';

/** One trace, as plotly.js takes it (https://plotly.com/javascript/reference/). */
export interface PlotlyTrace {
  type?: 'scatter' | 'scattergl' | 'bar' | 'heatmap' | 'histogram' | 'box' | string;
  x?: ArrayLike<number | string>;
  y?: ArrayLike<number | string>;
  z?: ArrayLike<ArrayLike<number>>;
  name?: string;
  mode?: 'lines' | 'markers' | 'lines+markers' | string;
  [attribute: string]: unknown;
}

export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface FigureHtmlOptions {
  /** Height of the plot area; width follows the output area. Default 400. */
  heightPx?: number;
}

// Kept on globalThis, not in this module: tslab reloads a module when its source changes, and the
// library is still loaded in the page then.
const EMBEDDED = Symbol.for('metaanchor.notebook.plotlyEmbedded');

type GlobalWithFlag = typeof globalThis & { [EMBEDDED]?: boolean };

/** Absolute path of the plotly.js bundle that gets embedded. */
export function plotlyBundlePath(): string {
  return require.resolve('plotly.js-dist-min/plotly.min.js');
}

/** The plotly.js version of the embedded bundle, read from its banner ("plotly.js v4.1.2"). */
export function plotlyVersion(): string {
  const head = fs.readFileSync(plotlyBundlePath(), 'utf8').slice(0, 200);
  const m = /plotly\.js v(\d+\.\d+\.\d+)/.exec(head);
  if (!m) throw new Error(`no version banner in ${path.basename(plotlyBundlePath())}`);
  return m[1];
}

/** A <script> element holding all of plotly.js. */
export function plotlyLibraryHtml(): string {
  const source = fs.readFileSync(plotlyBundlePath(), 'utf8').replace(/<\/script/gi, '<\\/script');
  return `<script type="text/javascript">${source}</script>`;
}

/**
 * A <div> and a script that draws `figure` into it. When plotly.js is missing (the output that embedded
 * it was cleared and the page reloaded), the div says how to get it back instead of staying blank.
 */
export function figureHtml(figure: PlotlyFigure, options: FigureHtmlOptions = {}): string {
  if (!Array.isArray(figure.data)) {
    throw new UserError('a plotly figure needs a `data` array of traces', 'pass { data: [{ x, y, type: "scatter" }] }');
  }
  const heightPx = options.heightPx ?? 400;
  const id = uniqueId('plotly');
  const layout = { height: heightPx, margin: { t: 40, r: 20, b: 50, l: 60 }, ...(figure.layout ?? {}) };
  const config = { responsive: true, displaylogo: false, ...(figure.config ?? {}) };
  const fig = jsonForScript({ data: figure.data, layout, config });
  return [
    `<div id="${id}" class="metaanchor-plot" style="width:100%;min-height:${heightPx}px"></div>`,
    '<script type="text/javascript">',
    '(function () {',
    `  var fig = ${fig};`,
    `  var el = document.getElementById(${JSON.stringify(id)});`,
    '  var tries = 0;',
    '  (function draw() {',
    '    if (window.Plotly) { window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); return; }',
    '    if (++tries < 50) { setTimeout(draw, 100); return; }',
    "    el.textContent = 'plotly.js is not loaded in this page: run the notebook again (Kernel > Restart & Run All).';",
    '  })();',
    '})();',
    '</script>',
  ].join('\n');
}

/** Embed plotly.js as an output of the current cell unless this kernel session already did. */
export function ensurePlotly(sink: DisplaySink = display()): void {
  const g = globalThis as GlobalWithFlag;
  if (g[EMBEDDED]) return;
  sink.html(plotlyLibraryHtml());
  g[EMBEDDED] = true;
}

/** For tests: forget that plotly.js was embedded. */
export function resetPlotlyEmbedding(): void {
  delete (globalThis as GlobalWithFlag)[EMBEDDED];
}

/** Show a figure in the current cell (embedding plotly.js first if needed). */
export function showPlot(figure: PlotlyFigure, options: FigureHtmlOptions = {}): void {
  const out = display();
  ensurePlotly(out);
  out.html(figureHtml(figure, options));
}

