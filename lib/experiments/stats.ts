/**
 * Seeds of one table cell summarised as mean ± standard deviation, and whether a difference between
 * two cells is larger than their seed-to-seed noise.
 *
 * The paper reports single runs; on MNIST-Det with short CPU schedules a few tenths of mmAP are
 * well within the spread of seeds, so a table compares cells only against that spread.
 */

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); NaN for a single value. */
  sd: number;
  n: number;
}

export function meanSd(values: readonly number[]): MeanSd {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN, n: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, sd: NaN, n };
  const ss = values.reduce((a, v) => a + (v - mean) * (v - mean), 0);
  return { mean, sd: Math.sqrt(ss / (n - 1)), n };
}

export type NoiseVerdict = 'beyond noise' | 'within noise' | 'single seed';

export interface Difference {
  /** b.mean - a.mean. */
  diff: number;
  /** 2·sqrt(sd_a² + sd_b²): the threshold the difference is compared with (NaN for single seeds). */
  noise: number;
  verdict: NoiseVerdict;
}

/**
 * b - a, flagged "within noise" when |diff| < 2·sqrt(sd_a² + sd_b²) (about two standard errors of a
 * difference of two single runs); "single seed" when either side has one seed and no spread.
 */
export function compareCells(a: MeanSd, b: MeanSd): Difference {
  const diff = b.mean - a.mean;
  if (a.n < 2 || b.n < 2) return { diff, noise: NaN, verdict: 'single seed' };
  const noise = 2 * Math.sqrt(a.sd * a.sd + b.sd * b.sd);
  return { diff, noise, verdict: Math.abs(diff) < noise ? 'within noise' : 'beyond noise' };
}

/** "21.9 ± 0.4" (in percent when `percent`), "21.9" for a single seed, "" when missing. */
export function formatMeanSd(m: MeanSd | undefined, options: { percent?: boolean; digits?: number } = {}): string {
  if (!m || m.n === 0 || !Number.isFinite(m.mean)) return '';
  const f = options.percent === false ? 1 : 100;
  const d = options.digits ?? 1;
  const mean = (m.mean * f).toFixed(d);
  return m.n > 1 ? `${mean} ± ${(m.sd * f).toFixed(d)}` : mean;
}

/** "+0.4 (within noise)", in percent points. */
export function formatDifference(d: Difference, digits = 1): string {
  if (!Number.isFinite(d.diff)) return '';
  const v = (100 * d.diff).toFixed(digits);
  return `${d.diff >= 0 ? '+' : ''}${v} (${d.verdict})`;
}
