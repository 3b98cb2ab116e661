/**
 * Plotly figures in notebook cells.
 *
 * A figure output is a <div> plus a small script that draws it with window.Plotly; plotly.js itself
 * (plotly.js-dist-min 4.1.2, ~4.8 MB) is never stored in a notebook. Each page gets it on its own
 * (docs/DESIGN.md section 5):
 *  - live Jupyter (`npm run notebook`): the first figure script of a page loads it from the server,
 *    which serves the bundle as a static file (scripts/notebook.js passes
 *    --NotebookApp.extra_static_paths), so plots render
 *    after a reload, in a second tab, and when a saved notebook is reopened;
 *  - the HTML export (scripts/run_notebooks.py) inlines it once in the page's <head>, so the page
 *    opens offline;
 *  - CLI pages (`figurePageHtml`) inline it once as well.
 * plotly.js 4 always sets window.Plotly and never calls require.js' define(), so it loads the same
 * with and without Notebook 6's require.js.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { display, jsonForScript, uniqueId } from './display';
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

/** Where a Jupyter server started by scripts/notebook.js serves the bundle, under its base URL. */
export const PLOTLY_STATIC_PATH = 'static/plotly.min.js';

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
 * The script that gives a page window.Plotly once: Jupyter Notebook pages carry their server's base URL
 * (body data-base-url), from which the bundle is loaded; other pages (the HTML export) already have it.
 * One promise per page, shared by every figure of the page.
 */
const LOADER = [
  'function metaanchorPlotly() {',
  '  if (window.Plotly) return Promise.resolve(window.Plotly);',
  '  if (window.metaanchorPlotlyLoading) return window.metaanchorPlotlyLoading;',
  "  var base = document.body && document.body.getAttribute('data-base-url');",
  "  if (base === null || base === undefined) return Promise.reject(new Error('no Jupyter server'));",
  '  window.metaanchorPlotlyLoading = new Promise(function (resolve, reject) {',
  "    var s = document.createElement('script');",
  `    s.src = base.replace(/\\/?$/, '/') + ${JSON.stringify(PLOTLY_STATIC_PATH)};`,
  '    s.onload = function () { window.Plotly ? resolve(window.Plotly) : reject(new Error(s.src + " did not define Plotly")); };',
  "    s.onerror = function () { window.metaanchorPlotlyLoading = undefined; reject(new Error('cannot load ' + s.src)); };",
  '    document.head.appendChild(s);',
  '  });',
  '  return window.metaanchorPlotlyLoading;',
  '}',
].join('\n');

/**
 * A <div> and a script that draws `figure` into it, loading plotly.js into the page first if needed.
 * When it cannot (a server not started by `npm run notebook`), the div says so instead of staying blank.
 */
export function figureHtml(figure: PlotlyFigure, options: FigureHtmlOptions = {}): string {
  if (!Array.isArray(figure.data)) {
    throw new UserError('a plotly figure needs a `data` array of traces', 'pass { data: [{ x, y, type: "scatter" }] }');
  }
  const heightPx = options.heightPx ?? 400;
  const id = uniqueId('plotly');
  const layout = withRoomForRightAxes({ height: heightPx, margin: { t: 40, r: 20, b: 50, l: 60 }, ...(figure.layout ?? {}) });
  const config = { responsive: true, displaylogo: false, ...(figure.config ?? {}) };
  const fig = jsonForScript({ data: figure.data, layout, config });
  return [
    `<div id="${id}" class="metaanchor-plot" style="width:100%;min-height:${heightPx}px"></div>`,
    '<script type="text/javascript">',
    '(function () {',
    `  var fig = ${fig};`,
    `  var el = document.getElementById(${JSON.stringify(id)});`,
    LOADER.replace(/^/gm, '  '),
    '  metaanchorPlotly().then(function (Plotly) { Plotly.newPlot(el, fig.data, fig.layout, fig.config); }, function () {',
    "    el.style.minHeight = '0';",
    "    el.textContent = 'plotly.js is not loaded in this page: open the notebook with `npm run notebook` (its server provides plotly.js), or the exported .html.';",
    '  });',
    '})();',
    '</script>',
  ].join('\n');
}

/**
 * A y axis on the right (a second scale, e.g. the paper's numbers) needs room for its tick labels and
 * title: with the default 20 px right margin both were cut off. Right-side axes get automargin (plotly
 * grows the margin to fit them) and the right margin at least 70 px.
 */
export function withRoomForRightAxes(layout: Record<string, unknown>): Record<string, unknown> {
  const right = Object.keys(layout).filter((k) => /^yaxis\d*$/.test(k) && (layout[k] as { side?: string } | undefined)?.side === 'right');
  if (right.length === 0) return layout;
  const out: Record<string, unknown> = { ...layout };
  for (const k of right) out[k] = { automargin: true, ...(layout[k] as Record<string, unknown>) };
  const margin = (layout.margin ?? {}) as { r?: number };
  out.margin = { ...margin, r: Math.max(70, margin.r ?? 0) };
  return out;
}

/** Show a figure in the current cell. */
export function showPlot(figure: PlotlyFigure, options: FigureHtmlOptions = {}): void {
  display().html(figureHtml(figure, options));
}
