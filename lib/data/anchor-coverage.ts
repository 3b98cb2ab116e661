/**
 * Anchor coverage per anchor configuration (default Table 1's four): the best-anchor IoU of each
 * box in input pixels, summarised as a mean and the shares reaching the matcher's thresholds.
 */
import { AnchorConfig, TABLE1_NAMES, bestAnchorPerBox, tableOneConfig } from '../anchors';
import type { InputBoxes } from './stats';

export interface CoverageRow {
  config: string;
  anchorsPerPosition: number;
  meanBestIou: number;
  /** Fraction of boxes whose best anchor IoU >= 0.4, 0.5, 0.6 (the matcher's thresholds). */
  atLeast04: number;
  atLeast05: number;
  atLeast06: number;
}

/**
 * Best-anchor IoU statistics of each configuration over the boxes (input pixels), using the
 * exact grid search of lib/anchors/coverage.ts per input size.
 */
export function coverageTable(boxes: InputBoxes, configs: AnchorConfig[] = TABLE1_NAMES.map((n) => tableOneConfig(n))): CoverageRow[] {
  return configs.map((config) => {
    const best = Array.from(bestAnchorPerBox(boxes, config).bestIou);
    const n = best.length;
    const frac = (t: number): number => (n ? best.filter((v) => v >= t).length / n : NaN);
    return {
      config: config.name,
      anchorsPerPosition: config.shapes.length,
      meanBestIou: n ? best.reduce((s, v) => s + v, 0) / n : NaN,
      atLeast04: frac(0.4),
      atLeast05: frac(0.5),
      atLeast06: frac(0.6),
    };
  });
}
