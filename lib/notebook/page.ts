/**
 * A self-contained HTML page of figures and tables (plotly.js embedded once), for command-line
 * outputs that a notebook would show inline: `analyze --html`, `data stats --html`.
 */
import { escapeHtml } from './display';
import { PlotlyFigure, figureHtml, plotlyLibraryHtml } from './plotly';
import { Row, TableOptions, tableHtml } from './table';

export type PagePart = { heading: string } | { text: string } | { figure: PlotlyFigure; heightPx?: number } | { table: Row[]; options?: TableOptions };

export function htmlPage(title: string, parts: readonly PagePart[]): string {
  const body = parts.map((p) => {
    if ('heading' in p) return `<h2>${escapeHtml(p.heading)}</h2>`;
    if ('text' in p) return `<p>${escapeHtml(p.text)}</p>`;
    if ('figure' in p) return figureHtml(p.figure, { heightPx: p.heightPx });
    return tableHtml(p.table, p.options);
  });
  return [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{font-family:sans-serif;max-width:1240px;margin:16px auto;padding:0 12px}</style>',
    plotlyLibraryHtml(),
    '</head><body>',
    `<h1>${escapeHtml(title)}</h1>`,
    ...body,
    '</body></html>',
  ].join('\n');
}
