/**
 * Data-driven anchor search, the baselines the paper's greedy search (Sec. 4.1.2) is compared with:
 *
 * - k-means on box (w, h) with distance 1 - IoU (YOLOv2, Redmon & Farhadi, CVPR 2017, Sec. 2
 *   "Dimension Clusters": boxes and centroids aligned at a corner, so IoU depends on w and h only);
 * - k-means followed by genetic evolution (YOLOv5's autoanchor, ultralytics/yolov5
 *   utils/autoanchor.py kmean_anchors): fitness = mean over boxes of best x if best x > 1/anchor_t
 *   else 0, with x = YOLOv5's ratio metric (lib/anchors/coverage-report.ts) against every anchor;
 *   each generation multiplies every anchor side by a factor 1 + u·sigma·N(0, 1) with probability
 *   0.9 (u uniform per generation, sigma 0.1, factors clipped to [0.3, 3], sides to >= 2 px) and
 *   keeps the mutant if its fitness is higher; 1000 generations.
 *
 * Anchors here are shapes of RetinaNet's FPN: one shape sits on every level P3-P7, doubling per
 * level, so a k-shape set holds 5k anchors. k-means therefore clusters boxes folded to P3: a box
 * of size sqrt(w·h) = s is divided by 2^(l-3) for its nearest level l = round(log2(s / 32)) + 3
 * (clamped to the levels; the stats' "nearest anchor level"), and a centroid (w, h) becomes the
 * spec item "h:<h>,w:<w>" (README "Anchor specs": sizes at P3). Evolution scores the real boxes
 * against the shapes on every level. Both are seeded and deterministic; the result is an anchor
 * spec for `train --anchors` (RetinaNet baseline) and `evaluate --anchors` (MetaAnchor inference).
 */
import { AnchorConfig, FPN_LEVELS, baseSizePx, configSizesPx, parseAnchorSpec, strideOfLevel } from '../anchors';
import { UserError } from '../util/errors';
import { Rng, makeRng, normal } from '../util/seed';

/** A box or anchor as (w, h) in px. */
export interface WH {
  w: number;
  h: number;
}

/** IoU of two (w, h) boxes aligned at a corner (YOLOv2's clustering distance is 1 - this). */
export function whIou(a: WH, b: WH): number {
  const inter = Math.min(a.w, b.w) * Math.min(a.h, b.h);
  return inter / (a.w * a.h + b.w * b.h - inter);
}

/** (w, h) of every non-degenerate box of a 4N (x1, y1, x2, y2) array. */
export function boxSizes(boxes: Float32Array): WH[] {
  const out: WH[] = [];
  for (let g = 0; g < boxes.length / 4; g++) {
    const w = boxes[4 * g + 2] - boxes[4 * g];
    const h = boxes[4 * g + 3] - boxes[4 * g + 1];
    if (w > 0 && h > 0) out.push({ w, h });
  }
  return out;
}

/** Boxes folded to P3 sizes: divided by 2^(l-3) for their nearest level l among `levels`. */
export function foldToP3(sizes: readonly WH[], levels: readonly number[] = FPN_LEVELS): WH[] {
  const lo = Math.min(...levels);
  const hi = Math.max(...levels);
  const base = baseSizePx(strideOfLevel(3));
  return sizes.map(({ w, h }) => {
    const l = Math.min(hi, Math.max(lo, Math.round(Math.log2(Math.sqrt(w * h) / base)) + 3));
    const f = 2 ** (l - 3);
    return { w: w / f, h: h / f };
  });
}

export interface KmeansResult {
  /** Centroids sorted by area, ascending. */
  centroids: WH[];
  /** Mean over points of the IoU with their centroid (YOLOv2's "Avg IOU"). */
  meanIou: number;
  iterations: number;
}

/** k-means++ seeding with D² weights on the 1 - IoU distance. */
function seedCentroids(points: readonly WH[], k: number, rng: Rng): WH[] {
  const centroids: WH[] = [{ ...points[Math.floor(rng() * points.length)] }];
  const d2 = points.map((p) => (1 - whIou(p, centroids[0])) ** 2);
  while (centroids.length < k) {
    const total = d2.reduce((s, v) => s + v, 0);
    let pick = points.length - 1;
    if (total > 0) {
      let r = rng() * total;
      for (let i = 0; i < points.length; i++) {
        r -= d2[i];
        if (r < 0) {
          pick = i;
          break;
        }
      }
    } else {
      pick = Math.floor(rng() * points.length);
    }
    const c = { ...points[pick] };
    centroids.push(c);
    points.forEach((p, i) => (d2[i] = Math.min(d2[i], (1 - whIou(p, c)) ** 2)));
  }
  return centroids;
}

/** Lloyd's k-means with distance 1 - IoU; centroids are the mean w and mean h of their points. */
export function kmeansIou(points: readonly WH[], k: number, options: { seed?: number; maxIterations?: number } = {}): KmeansResult {
  if (!Number.isInteger(k) || k < 1) throw new UserError(`k must be a whole number >= 1, got ${k}`, "e.g. --k 9 (Table 1's 3x3)");
  if (points.length < k) throw new UserError(`k-means needs at least k = ${k} boxes, got ${points.length}`, 'use fewer clusters or more data');
  const rng = makeRng(options.seed ?? 0);
  const maxIterations = options.maxIterations ?? 300;
  const centroids = seedCentroids(points, k, rng);
  const assign = new Int32Array(points.length).fill(-1);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    let changed = false;
    points.forEach((p, i) => {
      let best = 0;
      let bestIou = -1;
      centroids.forEach((c, j) => {
        const v = whIou(p, c);
        if (v > bestIou) {
          bestIou = v;
          best = j;
        }
      });
      if (assign[i] !== best) {
        assign[i] = best;
        changed = true;
      }
    });
    if (!changed) break;
    const sum = centroids.map(() => ({ w: 0, h: 0, n: 0 }));
    points.forEach((p, i) => {
      const s = sum[assign[i]];
      s.w += p.w;
      s.h += p.h;
      s.n++;
    });
    sum.forEach((s, j) => {
      if (s.n > 0) {
        centroids[j] = { w: s.w / s.n, h: s.h / s.n };
        return;
      }
      // An empty cluster restarts at the point farthest from its centroid.
      let far = 0;
      let farIou = Infinity;
      points.forEach((p, i) => {
        const v = whIou(p, centroids[assign[i]]);
        if (v < farIou) {
          farIou = v;
          far = i;
        }
      });
      centroids[j] = { ...points[far] };
      assign[far] = j;
    });
  }
  const meanIou = points.reduce((s, p, i) => s + whIou(p, centroids[assign[i]]), 0) / points.length;
  return { centroids: centroids.slice().sort((a, b) => a.w * a.h - b.w * b.h), meanIou, iterations };
}

/** Anchors (w, h) of P3-sized shapes on every level. */
function onLevels(shapes: readonly WH[], levels: readonly number[]): WH[] {
  return levels.flatMap((l) => shapes.map((s) => ({ w: s.w * 2 ** (l - 3), h: s.h * 2 ** (l - 3) })));
}

/** YOLOv5's anchor fitness of P3 shapes (placed on every level) for boxes of the given sizes. */
export function anchorFitness(sizes: readonly WH[], shapesP3: readonly WH[], options: { anchorT?: number; levels?: readonly number[] } = {}): number {
  const thr = 1 / (options.anchorT ?? 4);
  const anchors = onLevels(shapesP3, options.levels ?? FPN_LEVELS);
  const aw = Float64Array.from(anchors, (a) => a.w);
  const ah = Float64Array.from(anchors, (a) => a.h);
  let sum = 0;
  for (const b of sizes) {
    let best = 0;
    for (let a = 0; a < aw.length; a++) {
      // ratioMetric(b.w, b.h, aw[a], ah[a]), unrolled: this loop runs boxes x anchors x generations times.
      let rw = b.w / aw[a];
      if (rw > 1) rw = 1 / rw;
      if (rw <= best) continue;
      let rh = b.h / ah[a];
      if (rh > 1) rh = 1 / rh;
      const x = rw < rh ? rw : rh;
      if (x > best) best = x;
    }
    if (best > thr) sum += best;
  }
  return sizes.length ? sum / sizes.length : 0;
}

export interface EvolveOptions {
  generations?: number;
  mutationProb?: number;
  sigma?: number;
  anchorT?: number;
  levels?: readonly number[];
  seed?: number;
}

export interface EvolveResult {
  shapes: WH[];
  fitness: number;
  initialFitness: number;
  /** Best fitness after each generation (length = generations). */
  trace: number[];
  accepted: number;
}

/** YOLOv5's genetic evolution of P3 shapes (see the file header). */
export function evolveAnchors(sizes: readonly WH[], initial: readonly WH[], options: EvolveOptions = {}): EvolveResult {
  const generations = options.generations ?? 1000;
  const mp = options.mutationProb ?? 0.9;
  const sigma = options.sigma ?? 0.1;
  const fit = (s: readonly WH[]) => anchorFitness(sizes, s, options);
  const rng = makeRng(options.seed ?? 0);
  let best = initial.map((s) => ({ ...s }));
  let f = fit(best);
  const initialFitness = f;
  const trace: number[] = [];
  let accepted = 0;
  const factor = (u: number) => Math.min(3, Math.max(0.3, (rng() < mp ? 1 : 0) * u * normal(rng) * sigma + 1));
  for (let g = 0; g < generations; g++) {
    let v: number[];
    do {
      const u = rng();
      v = best.flatMap(() => [factor(u), factor(u)]);
    } while (v.every((x) => x === 1));
    const mutant = best.map((s, i) => ({ w: Math.max(2, s.w * v[2 * i]), h: Math.max(2, s.h * v[2 * i + 1]) }));
    const fm = fit(mutant);
    if (fm > f) {
      f = fm;
      best = mutant;
      accepted++;
    }
    trace.push(f);
  }
  return { shapes: best.slice().sort((a, b) => a.w * a.h - b.w * b.h), fitness: f, initialFitness, trace, accepted };
}

/** "h:<h>,w:<w>; ..." with sizes rounded to 0.01 px (repeated shapes after rounding kept once). */
export function shapesToSpec(shapesP3: readonly WH[]): string {
  const items = [...new Set(shapesP3.map((s) => `h:${Math.round(100 * s.h) / 100},w:${Math.round(100 * s.w) / 100}`))];
  return items.join(';');
}

/** P3 (w, h) of a configuration's shapes. */
export function configShapesP3(config: AnchorConfig): WH[] {
  return configSizesPx(config, strideOfLevel(3)).map((s) => ({ w: s.widthPx, h: s.heightPx }));
}

export type AnchorSearchMethod = 'kmeans' | 'evolve';

/** What `anchors kmeans|evolve` writes: the spec and how it was found. */
export interface AnchorSearchFile {
  method: AnchorSearchMethod;
  /** The anchor spec (h/w items at P3). */
  anchors: string;
  k: number;
  seed: number;
  /** Boxes clustered (non-degenerate, input px). */
  boxes: number;
  /** k-means objective: mean IoU of the folded boxes with their centroid. */
  kmeansMeanIou: number;
  kmeansIterations: number;
  /** YOLOv5 fitness of the k-means set and of the final set. */
  kmeansFitness: number;
  fitness: number;
  anchorT: number;
  generations?: number;
  accepted?: number;
  /** Best fitness per generation (evolve). */
  trace?: number[];
  dataset: string;
  seconds: number;
}

export interface AnchorSearchOptions extends EvolveOptions {
  k?: number;
  dataset?: string;
}

/** k-means (and, for 'evolve', evolution) on boxes in input px; returns the result file. */
export function searchAnchorsFromBoxes(boxes: Float32Array, method: AnchorSearchMethod, options: AnchorSearchOptions = {}): AnchorSearchFile {
  const t0 = Date.now();
  const k = options.k ?? 9;
  const seed = options.seed ?? 0;
  const anchorT = options.anchorT ?? 4;
  const levels = options.levels ?? FPN_LEVELS;
  const sizes = boxSizes(boxes);
  const km = kmeansIou(foldToP3(sizes, levels), k, { seed });
  const kmeansFitness = anchorFitness(sizes, km.centroids, { anchorT, levels });
  const evo = method === 'evolve' ? evolveAnchors(sizes, km.centroids, { ...options, seed, anchorT, levels }) : undefined;
  const anchors = shapesToSpec(evo ? evo.shapes : km.centroids);
  parseAnchorSpec(anchors);
  return {
    method,
    anchors,
    k,
    seed,
    boxes: sizes.length,
    kmeansMeanIou: km.meanIou,
    kmeansIterations: km.iterations,
    kmeansFitness,
    fitness: evo ? evo.fitness : kmeansFitness,
    anchorT,
    ...(evo ? { generations: evo.trace.length, accepted: evo.accepted, trace: evo.trace } : {}),
    dataset: options.dataset ?? '',
    seconds: (Date.now() - t0) / 1000,
  };
}
