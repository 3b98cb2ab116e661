/** Anchor configurations, grids, MetaAnchor's b encoding and anchor coverage statistics. */
export * from './config';
export * from './presets';
export * from './grid';
export * from './metaanchor';
export * from './coverage';
export * from './coverage-report';
