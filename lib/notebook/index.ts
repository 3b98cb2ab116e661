/** Display helpers for notebook cells (tslab kernel). */
export { display, newDisplay, setDisplaySink, escapeHtml } from './display';
export type { DisplaySink, DisplayTarget } from './display';
export { showPlot, figureHtml } from './plotly';
export type { PlotlyFigure, PlotlyTrace } from './plotly';
export { showTable, tableHtml } from './table';
export type { DataFrameLike, Row, TableOptions } from './table';
export { showImage, showImages, imageHtml, imagesHtml, imageFormat } from './image';
export type { ImagesOptions } from './image';
export { showLossCurve, lossCurveFigure, liveLossCurve, LiveLossCurve } from './loss-curve';
export type { LossPoint, LossSeries } from './loss-curve';
export { showBackend } from './backend';
export { explorerHtml, showExplorer } from './explorer';
export type { ExplorerPanel, ExplorerOptions } from './explorer';
