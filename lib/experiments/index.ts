/** The paper's tables as experiment grids with a results cache (see run-cache.ts for the layout). */
export * from './stats';
export * from './key';
export * from './settings';
export * from './tables';
export * from './run-cache';
export * from './run-eval';
export * from './run-selection';
export * from './runner';
export * from './plan';
export * from './parallel';
export * from './format';
export { PAPER } from './paper';
export * from './figures';
export * from './figure2';
export * from './paper-commands';
export * from './anchor-search';
export * from './analysis';
