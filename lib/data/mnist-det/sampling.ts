/**
 * MNIST-Det's random draws: box shapes from the configured distribution, the fast seeded generator
 * of the pixel noise, and the overlap test of placements.
 */
import { Rng, normal } from '../../util/seed';
import { UserError } from '../../util/errors';
import { BoxDistribution } from './config';

/** One box shape: sqrt(w*h) and ln(w/h) drawn from the distribution, truncated so it fits the image. */
export function sampleBoxShape(rng: Rng, d: BoxDistribution, imageSizePx: number): { widthPx: number; heightPx: number } {
  const minPx = d.sizeMinFrac * imageSizePx;
  const maxPx = d.sizeMaxFrac * imageSizePx;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const size = d.sizeMedianFrac * imageSizePx * Math.exp(d.sizeLogSigma * normal(rng));
    if (size < minPx || size > maxPx) continue;
    const sigma = rng() < d.logRatioTailWeight ? d.logRatioTailSigma : d.logRatioCoreSigma;
    const logRatio = d.logRatioMean + sigma * normal(rng);
    if (Math.abs(logRatio) > d.logRatioMaxAbs) continue;
    const widthPx = size * Math.exp(logRatio / 2);
    const heightPx = size * Math.exp(-logRatio / 2);
    // Whole digit inside the canvas, at least 2 px on each side so a stroke survives resampling.
    if (widthPx > imageSizePx || heightPx > imageSizePx || widthPx < 2 || heightPx < 2) continue;
    return { widthPx, heightPx };
  }
  throw new UserError('MNIST-Det box distribution rejects almost every sample', 'check boxes.size*/logRatio* against the image size');
}

/** mulberry32: a tiny 32-bit generator, uniform in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Intersection over the smaller box's area. */
export function ioaSmaller(a: number[], b: number[]): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const areaA = (a[2] - a[0]) * (a[3] - a[1]);
  const areaB = (b[2] - b[0]) * (b[3] - b[1]);
  return (iw * ih) / Math.min(areaA, areaB);
}
