/**
 * Drawing one MNIST-Det image: digits cropped to their ink, resampled to a sampled box shape and
 * pasted on a noisy canvas with clutter strokes; the boxes are the tight boxes of the pasted ink.
 */
import { Rng, normal } from '../../util/seed';
import { DIGIT_SIDE_PX, MnistDigits } from '../mnist-digits';
import { CanvasStyle, INK_ALPHA_THRESHOLD, MnistDetConfig } from './config';
import { ioaSmaller, mulberry32, sampleBoxShape } from './sampling';

/**
 * Resampling weights along one axis (dst x src): bilinear when enlarging, exact area averaging
 * (box filter over the destination pixel's footprint) when shrinking, so small digits are not aliased.
 */
function axisWeights(srcN: number, dstN: number): Float32Array {
  const w = new Float32Array(dstN * srcN);
  const scale = dstN / srcN;
  for (let j = 0; j < dstN; j++) {
    if (scale >= 1) {
      const u = Math.min(Math.max((j + 0.5) / scale - 0.5, 0), srcN - 1);
      const i0 = Math.floor(u);
      const i1 = Math.min(i0 + 1, srcN - 1);
      const f = u - i0;
      w[j * srcN + i0] += 1 - f;
      w[j * srcN + i1] += f;
    } else {
      const lo = j / scale;
      const hi = (j + 1) / scale;
      for (let i = Math.floor(lo); i < Math.min(Math.ceil(hi), srcN); i++) {
        const overlap = Math.min(hi, i + 1) - Math.max(lo, i);
        if (overlap > 0) w[j * srcN + i] = overlap * scale;
      }
    }
  }
  return w;
}

/** Resample a (srcH x srcW) float image to (dstH x dstW), separably. */
export function resampleGrey(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number): Float32Array {
  const wx = axisWeights(srcW, dstW);
  const wy = axisWeights(srcH, dstH);
  const tmp = new Float32Array(srcH * dstW);
  for (let y = 0; y < srcH; y++) {
    for (let j = 0; j < dstW; j++) {
      let s = 0;
      for (let i = 0; i < srcW; i++) s += wx[j * srcW + i] * src[y * srcW + i];
      tmp[y * dstW + j] = s;
    }
  }
  const out = new Float32Array(dstH * dstW);
  for (let j = 0; j < dstH; j++) {
    for (let y = 0; y < srcH; y++) {
      const wv = wy[j * srcH + y];
      if (wv === 0) continue;
      for (let x = 0; x < dstW; x++) out[j * dstW + x] += wv * tmp[y * dstW + x];
    }
  }
  return out;
}

/** The digit's ink crop (rows/columns with any non-zero pixel) as alpha in [0, 1]. */
function inkCrop(digits: MnistDigits, index: number): { alpha: Float32Array; w: number; h: number } {
  const base = index * DIGIT_SIDE_PX * DIGIT_SIDE_PX;
  let x0 = DIGIT_SIDE_PX;
  let y0 = DIGIT_SIDE_PX;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < DIGIT_SIDE_PX; y++) {
    for (let x = 0; x < DIGIT_SIDE_PX; x++) {
      if (digits.pixels[base + y * DIGIT_SIDE_PX + x] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return { alpha: new Float32Array(0), w: 0, h: 0 };
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const alpha = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) alpha[y * w + x] = digits.pixels[base + (y0 + y) * DIGIT_SIDE_PX + x0 + x] / 255;
  }
  return { alpha, w, h };
}

function paintBackground(canvas: Float32Array, side: number, style: CanvasStyle, rng: Rng): void {
  const base = rng() * style.backgroundMax;
  const cells = style.smoothNoiseCells;
  const grid = new Float32Array((cells + 1) * (cells + 1));
  for (let i = 0; i < grid.length; i++) grid[i] = style.smoothNoiseSigma * normal(rng);
  const cellPx = side / cells;
  for (let y = 0; y < side; y++) {
    const gy = Math.min((y + 0.5) / cellPx, cells - 1e-6);
    const iy = Math.floor(gy);
    const fy = gy - iy;
    for (let x = 0; x < side; x++) {
      const gx = Math.min((x + 0.5) / cellPx, cells - 1e-6);
      const ix = Math.floor(gx);
      const fx = gx - ix;
      const g00 = grid[iy * (cells + 1) + ix];
      const g01 = grid[iy * (cells + 1) + ix + 1];
      const g10 = grid[(iy + 1) * (cells + 1) + ix];
      const g11 = grid[(iy + 1) * (cells + 1) + ix + 1];
      canvas[y * side + x] = base + (1 - fy) * ((1 - fx) * g00 + fx * g01) + fy * ((1 - fx) * g10 + fx * g11);
    }
  }
}

/** An anti-aliased straight stroke (unannotated clutter). */
function paintLine(canvas: Float32Array, side: number, rng: Rng, style: CanvasStyle): void {
  const ax = rng() * side;
  const ay = rng() * side;
  const len = side * (0.1 + 0.3 * rng());
  const ang = rng() * 2 * Math.PI;
  const bx = ax + len * Math.cos(ang);
  const by = ay + len * Math.sin(ang);
  const half = 0.5 + rng(); // half thickness 0.5..1.5 px
  const level = style.backgroundMax + (style.inkMin - style.backgroundMax) * rng();
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - half - 1));
  const x1 = Math.min(side - 1, Math.ceil(Math.max(ax, bx) + half + 1));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - half - 1));
  const y1 = Math.min(side - 1, Math.ceil(Math.max(ay, by) + half + 1));
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5 - ax;
      const py = y + 0.5 - ay;
      const t = Math.min(Math.max((px * dx + py * dy) / len2, 0), 1);
      const ex = px - t * dx;
      const ey = py - t * dy;
      const a = Math.min(Math.max(half + 0.5 - Math.sqrt(ex * ex + ey * ey), 0), 1);
      if (a > 0) canvas[y * side + x] = canvas[y * side + x] * (1 - a) + level * a;
    }
  }
}

export interface GeneratedObject {
  digitIndex: number;
  label: number;
  /** Tight ink box (x1, y1, x2, y2), integer pixel edges. */
  box: [number, number, number, number];
}

export interface GeneratedImage {
  /** side x side grey levels 0..255. */
  pixels: Uint8Array;
  objects: GeneratedObject[];
  /** Objects that found no place within the overlap cap (dropped, counted for the manifest). */
  unplaced: number;
}

/** Draw one image. `nextDigit()` yields the global digit sample index to use next. */
export function renderImage(cfg: MnistDetConfig, digits: MnistDigits, rng: Rng, nextDigit: () => number): GeneratedImage {
  const side = cfg.imageSizePx;
  const d = cfg.boxes;
  const canvas = new Float32Array(side * side);
  paintBackground(canvas, side, cfg.canvas, rng);
  const nLines = Math.floor(rng() * (cfg.canvas.clutterLinesMax + 1));
  for (let i = 0; i < nLines; i++) paintLine(canvas, side, rng, cfg.canvas);

  const n = d.objectsMin + Math.floor(rng() * (d.objectsMax - d.objectsMin + 1));
  const shapes = Array.from({ length: n }, () => sampleBoxShape(rng, d, side));
  // Largest first: placing big boxes into an empty canvas keeps the rejection step from
  // preferentially discarding large boxes (which would bias the size distribution).
  shapes.sort((p, q) => q.widthPx * q.heightPx - p.widthPx * p.heightPx);
  const placed: number[][] = [];
  const objects: GeneratedObject[] = [];
  let unplaced = 0;
  for (const s of shapes) {
    const w = Math.max(2, Math.min(side, Math.round(s.widthPx)));
    const h = Math.max(2, Math.min(side, Math.round(s.heightPx)));
    let pos: number[] | undefined;
    for (let attempt = 0; attempt < 50 && !pos; attempt++) {
      const x = Math.floor(rng() * (side - w + 1));
      const y = Math.floor(rng() * (side - h + 1));
      const cand = [x, y, x + w, y + h];
      if (placed.every((p) => ioaSmaller(p, cand) <= d.maxOverlapIoA)) pos = cand;
    }
    if (!pos) {
      unplaced++;
      continue;
    }
    const digitIndex = nextDigit();
    const crop = inkCrop(digits, digitIndex);
    if (crop.w === 0) {
      unplaced++;
      continue;
    }
    const alpha = resampleGrey(crop.alpha, crop.w, crop.h, w, h);
    const ink = cfg.canvas.inkMin + (cfg.canvas.inkMax - cfg.canvas.inkMin) * rng();
    let bx0 = w;
    let by0 = h;
    let bx1 = -1;
    let by1 = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const a = Math.min(1, Math.max(0, alpha[y * w + x]));
        if (a <= 0) continue;
        const k = (pos[1] + y) * side + pos[0] + x;
        canvas[k] = canvas[k] * (1 - a) + ink * a;
        if (a >= INK_ALPHA_THRESHOLD) {
          if (x < bx0) bx0 = x;
          if (x > bx1) bx1 = x;
          if (y < by0) by0 = y;
          if (y > by1) by1 = y;
        }
      }
    }
    if (bx1 < 0) {
      unplaced++;
      continue;
    }
    placed.push(pos);
    objects.push({
      digitIndex,
      label: digits.labels[digitIndex],
      box: [pos[0] + bx0, pos[1] + by0, pos[0] + bx1 + 1, pos[1] + by1 + 1],
    });
  }
  const pixels = new Uint8Array(side * side);
  const sigma = cfg.canvas.pixelNoiseSigma;
  // Per-pixel noise needs a normal draw per pixel: a small seeded generator (mulberry32, seeded
  // from the image's stream) is ~10x faster than seedrandom's ARC4 and just as deterministic.
  const noise = mulberry32(Math.floor(rng() * 4294967296));
  for (let i = 0; i < canvas.length; i += 2) {
    // Box-Muller: two independent normals per pair of uniforms.
    const u = 1 - noise();
    const r = sigma * Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * noise();
    pixels[i] = Math.round(Math.min(1, Math.max(0, canvas[i] + r * Math.cos(t))) * 255);
    if (i + 1 < canvas.length) pixels[i + 1] = Math.round(Math.min(1, Math.max(0, canvas[i + 1] + r * Math.sin(t))) * 255);
  }
  return { pixels, objects, unplaced };
}
