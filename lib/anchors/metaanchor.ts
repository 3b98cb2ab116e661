/**
 * MetaAnchor's anchor-box encoding (Eq. 7) and its training-time augmentation (Sec. 4).
 *
 *   b = (log(ah / AH_l), log(aw / AW_l)),   (AH_{l+1}, AW_{l+1}) = 2·(AH_l, AW_l)   (Sec. 3.2)
 *
 * with (AH_3, AW_3) the training configuration's standard box (Table 1). Because anchor sizes and
 * standard boxes both double per level, one shape has the same b at every level, and one generated
 * anchor function serves all levels, as RetinaNet shares its head. b is stored as Float32Array rows
 * [bh, bw] (A x 2, ready for a Tensor2D [A, 2]); anchor sizes derived from b use those float32
 * values, so the anchors that define targets are exactly those the generator sees.
 */
import { Rng, uniform } from '../util/seed';
import { AnchorConfig, AnchorShape, AnchorSizePx, StandardBox, anchorSizePx } from './config';
import { FPN_LEVELS, strideOfLevel } from './grid';
import { table8CandidateShapes } from './presets';

/** Half-width of the uniform jitter of every b component during training (Sec. 4: "within ±0.5"). */
export const B_JITTER = 0.5;

/** (AH_l, AW_l) = 2^(l-3)·(AH_3, AW_3). */
export function standardBoxAtLevel(standardBoxP3: StandardBox, level: number): StandardBox {
  const f = Math.pow(2, level - 3);
  return { heightPx: standardBoxP3.heightPx * f, widthPx: standardBoxP3.widthPx * f };
}

/** Eq. 7: [bh, bw] of an anchor of heightPx x widthPx at FPN `level`. */
export function encodeB(heightPx: number, widthPx: number, level: number, standardBoxP3: StandardBox): [number, number] {
  if (!(heightPx > 0 && widthPx > 0)) throw new RangeError(`encodeB: anchor size ${heightPx}x${widthPx} must be positive`);
  const std = standardBoxAtLevel(standardBoxP3, level);
  return [Math.log(heightPx / std.heightPx), Math.log(widthPx / std.widthPx)];
}

/** Inverse of Eq. 7: the anchor size that b denotes at `level`. */
export function decodeB(bh: number, bw: number, level: number, standardBoxP3: StandardBox): AnchorSizePx {
  const std = standardBoxAtLevel(standardBoxP3, level);
  return { heightPx: std.heightPx * Math.exp(bh), widthPx: std.widthPx * Math.exp(bw) };
}

/**
 * b of every shape (A x 2 rows [bh, bw]), computed at P3 (the same at every level). For inference with
 * another anchor set, pass the *training* configuration's standard box (Sec. 4.1.2).
 */
export function shapesB(shapes: readonly AnchorShape[], standardBoxP3: StandardBox): Float32Array {
  const b = new Float32Array(2 * shapes.length);
  shapes.forEach((shape, i) => {
    const size = anchorSizePx(shape, strideOfLevel(3));
    const [bh, bw] = encodeB(size.heightPx, size.widthPx, 3, standardBoxP3);
    b[2 * i] = bh;
    b[2 * i + 1] = bw;
  });
  return b;
}

/** b of a configuration with its own standard box (training) or with `standardBoxP3` (inference). */
export function configB(config: AnchorConfig, standardBoxP3: StandardBox = config.standardBoxP3): Float32Array {
  return shapesB(config.shapes, standardBoxP3);
}

/** b + independent uniform noise in [-amplitude, amplitude) on every component (Sec. 4). */
export function jitterB(b: Float32Array, rng: Rng, amplitude: number = B_JITTER): Float32Array {
  const out = new Float32Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b[i] + uniform(rng, -amplitude, amplitude);
  return out;
}

/** Anchor sizes (per level, per anchor) that the rows of b denote. */
export function sizesFromB(b: Float32Array, standardBoxP3: StandardBox, levels: readonly number[] = FPN_LEVELS): AnchorSizePx[][] {
  if (b.length % 2 !== 0) throw new RangeError(`sizesFromB: b has odd length ${b.length}; expected A x 2`);
  return levels.map((level) => {
    const sizes: AnchorSizePx[] = [];
    for (let i = 0; i < b.length / 2; i++) sizes.push(decodeB(b[2 * i], b[2 * i + 1], level, standardBoxP3));
    return sizes;
  });
}

export interface JitteredAnchors {
  /** A x 2 jittered [bh, bw], fed to the generators. */
  b: Float32Array;
  /** Sizes the jittered b denote at every level (for `anchorGrid` and the matcher). */
  sizesPerLevel: AnchorSizePx[][];
}

/**
 * One training iteration's anchors ("training with 5x5 anchors", Sec. 4): the configuration's b_i,
 * each component jittered uniformly within ±amplitude, shared by all levels and all images of the
 * batch, with the sizes they denote.
 */
export function jitteredTrainingAnchors(config: AnchorConfig, rng: Rng, opts: { levels?: readonly number[]; amplitude?: number } = {}): JitteredAnchors {
  const b = jitterB(configB(config), rng, opts.amplitude ?? B_JITTER);
  return { b, sizesPerLevel: sizesFromB(b, config.standardBoxP3, opts.levels ?? FPN_LEVELS) };
}

/** Table 8's greedy-search candidate shapes (161); see lib/anchors/presets.ts. */
export function greedySearchCandidates(): AnchorShape[] {
  return table8CandidateShapes();
}

/** YOLOv2 variant of Eq. 7 (single level, sizes in grid cells, Table 7 standard box (4.18, 4.69)). */
export function encodeBCells(heightCells: number, widthCells: number, standard: { heightCells: number; widthCells: number }): [number, number] {
  return [Math.log(heightCells / standard.heightCells), Math.log(widthCells / standard.widthCells)];
}
