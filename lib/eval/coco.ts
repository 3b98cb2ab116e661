/**
 * COCO bbox evaluation with pycocotools' exact semantics (COCOeval, iouType='bbox', default Params):
 * per image+category greedy matching at 10 IoU thresholds and 4 area ranges, precision sampled at 101
 * recall thresholds for maxDets 1/10/100, and the 12 summary statistics. The rules are spelled out in
 * docs/eval-cases.md section 2; the comments below cite the pycocotools function each step mirrors.
 *
 * Usage:
 *   const gt = prepareCocoGroundTruth('instances_val.json');   // index once
 *   const r = gt.evaluate(readCocoResults('results.json'));      // many times, cheaply
 *   r.stats[0]                                                    // AP@[.5:.95]
 *   gt.evaluate(dets, { imageIds: [1, 5, 9] })                     // = pycocotools with params.imgIds set
 *
 * Data layout: a "cell" is one (category, image) pair, ordered category-major then by ascending image id,
 * which is the order pycocotools' accumulate concatenates images in. Ground truth is indexed into cells
 * once; each evaluation radix-sorts the detections into cells, matches cell by cell into bit masks
 * (bit t = IoU threshold t) and accumulates per category from one score sort shared by all area ranges
 * and maxDets. Everything is typed arrays; no objects are created per detection.
 */
import { UserError } from '../util/errors';
import { COCO_AREA_RANGES, COCO_IOU_THRESHOLDS, COCO_MAX_DETS, MAX_MATCH_IOU } from './coco-params';
import { CocoDetections, CocoGroundTruthColumns, CocoGroundTruthJson, CocoResultJson, describeEntry, readCocoGroundTruth, readCocoResults } from './coco-input';
import { accumulateCoco, CocoEvalResult, CocoMatchResults, summarizeCoco } from './coco-accumulate';

export * from './coco-accumulate';
export {
  CocoDetections,
  CocoGroundTruthJson,
  CocoResultJson,
  cocoDetectionsFromColumns,
  concatCocoDetections,
  readCocoGroundTruth,
  readCocoResults,
} from './coco-input';
export { COCO_STAT_NAMES } from './coco-params';

// Module-local copies: imported bindings compile to property getters, too slow for the hot loops.
const AREA_LO = Float64Array.from(COCO_AREA_RANGES, (r) => r[0]);
const AREA_HI = Float64Array.from(COCO_AREA_RANGES, (r) => r[1]);
const T = COCO_IOU_THRESHOLDS.length; // 10
const A = COCO_AREA_RANGES.length; // 4
const M = COCO_MAX_DETS.length; // 3
const MAX_DETS_PER_CELL = COCO_MAX_DETS[M - 1]; // 100, per image AND category (evaluateImg's maxDet)
const ALL_THRESHOLDS_MASK = (1 << T) - 1;
/** Match thresholds as pycocotools uses them: min(t, 1 - 1e-10). */
const MATCH_THRESHOLDS = Float64Array.from(COCO_IOU_THRESHOLDS, (t) => Math.min(t, MAX_MATCH_IOU));

export interface CocoEvalOptions {
  /**
   * Evaluate only these images (pycocotools `params.imgIds`): detections and ground truth of other
   * images are left out. Every id must be a ground-truth image. Default: all ground-truth images.
   */
  imageIds?: ArrayLike<number>;
  /**
   * Also return, per evaluated detection and IoU threshold, which GT annotation it matched in area
   * range 'all' (`CocoMatchResults.matchedGt`). Off by default: evaluation does not need it.
   */
  recordMatches?: boolean;
}

/**
 * Ground truth indexed for repeated evaluation. Build with `prepareCocoGroundTruth`.
 *
 * Where pycocotools mishandles an input silently, this class differs on purpose: a GT annotation with
 * id 0 matches like any other (pycocotools stores the matched GT id and reads 0 as "unmatched", so such
 * a GT can never give a TP); duplicate annotation ids and annotations of unlisted images or categories
 * are rejected (pycocotools replaces or drops them); an empty results list evaluates to zeros
 * (pycocotools' loadRes([]) raises IndexError).
 */
export class PreparedCocoGroundTruth {
  /** Ground-truth image ids, ascending and unique (pycocotools params.imgIds). */
  readonly imageIds: number[];
  /** Category ids, ascending and unique (pycocotools params.catIds). */
  readonly categoryIds: number[];
  readonly numAnnotations: number;
  private readonly imageIndex: Map<number, number>;
  private readonly categoryIndex: Map<number, number>;
  /** GT cells (category, image) with at least one annotation, sorted by key = k*numImages + i. */
  private readonly cellKey: Float64Array;
  private readonly cellStart: Int32Array;
  /** Annotations in cell order (file order inside a cell, as pycocotools' _gts lists). */
  private readonly gtBox: Float64Array;
  private readonly gtImage: Int32Array;
  private readonly gtCategory: Int32Array;
  private readonly gtCrowd: Uint8Array;
  /** gtIgnore[a*n + g]: iscrowd or area field outside range a (evaluateImg's gt['_ignore']). */
  private readonly gtIgnore: Uint8Array;
  /**
   * gtSorted[a*n + cellStart + s] = annotation at position s of its cell after pycocotools' stable
   * sort by _ignore (non-ignored first).
   */
  private readonly gtSorted: Int32Array;
  /** gtInput[g]: position of annotation g (cell order) in the input (file order). */
  private readonly gtInput: Int32Array;
  /** npig / counts for the full image set, computed once. */
  private readonly fullCounts: { npig: Int32Array; numGt: Int32Array; numGtCrowd: Int32Array };
  // Scratch buffers reused across evaluations (evaluation is synchronous, so never shared).
  private iouScratch = new Float64Array(1024);
  private maxIouScratch = new Float64Array(128);
  private matchedScratch = new Uint8Array(128);

  constructor(cols: CocoGroundTruthColumns) {
    this.imageIds = cols.imageIds;
    this.categoryIds = cols.categoryIds;
    this.imageIndex = new Map(cols.imageIds.map((id, i) => [id, i]));
    this.categoryIndex = new Map(cols.categoryIds.map((id, k) => [id, k]));
    const n = cols.count;
    const I = this.imageIds.length;
    const K = this.categoryIds.length;
    this.numAnnotations = n;

    const imgOf = new Int32Array(n);
    const catOf = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      imgOf[j] = this.imageIndex.get(cols.imageId[j]) as number;
      catOf[j] = this.categoryIndex.get(cols.categoryId[j]) as number;
    }
    // Stable LSD radix sort by (category, image): file order survives inside a cell.
    const order = radixSortByCell(n, imgOf, I, catOf, K, null);
    this.gtInput = order;

    this.gtBox = new Float64Array(4 * n);
    this.gtImage = new Int32Array(n);
    this.gtCategory = new Int32Array(n);
    this.gtCrowd = new Uint8Array(n);
    this.gtIgnore = new Uint8Array(A * n);
    const areaField = new Float64Array(n);
    const keys: number[] = [];
    const starts: number[] = [];
    let lastKey = -1;
    for (let g = 0; g < n; g++) {
      const j = order[g];
      for (let c = 0; c < 4; c++) this.gtBox[4 * g + c] = cols.boxXYWH[4 * j + c];
      this.gtImage[g] = imgOf[j];
      this.gtCategory[g] = catOf[j];
      this.gtCrowd[g] = cols.isCrowd[j];
      areaField[g] = cols.area[j];
      const key = catOf[j] * I + imgOf[j];
      if (key !== lastKey) {
        keys.push(key);
        starts.push(g);
        lastKey = key;
      }
    }
    starts.push(n);
    this.cellKey = Float64Array.from(keys);
    this.cellStart = Int32Array.from(starts);

    for (let a = 0; a < A; a++) {
      const lo = AREA_LO[a];
      const hi = AREA_HI[a];
      for (let g = 0; g < n; g++) {
        this.gtIgnore[a * n + g] = this.gtCrowd[g] || areaField[g] < lo || areaField[g] > hi ? 1 : 0;
      }
    }
    this.gtSorted = new Int32Array(A * n);
    for (let a = 0; a < A; a++) {
      for (let c = 0; c + 1 < this.cellStart.length; c++) {
        const s = this.cellStart[c];
        const e = this.cellStart[c + 1];
        let w = a * n + s;
        for (let g = s; g < e; g++) if (!this.gtIgnore[a * n + g]) this.gtSorted[w++] = g;
        for (let g = s; g < e; g++) if (this.gtIgnore[a * n + g]) this.gtSorted[w++] = g;
      }
    }
    this.fullCounts = this.countGroundTruth(null);
  }

  get numImages(): number {
    return this.imageIds.length;
  }

  get numCategories(): number {
    return this.categoryIds.length;
  }

  /** Evaluate + accumulate + summarize: the numbers of COCOeval.evaluate(); accumulate(); summarize(). */
  evaluate(detections: CocoDetections | readonly CocoResultJson[] | string, options: CocoEvalOptions = {}): CocoEvalResult {
    const matches = this.matchDetections(detections, options);
    return summarizeCoco(matches, accumulateCoco(matches), this.categoryIds);
  }

  /**
   * pycocotools COCOeval.evaluate(): for every evaluated (image, category), sort its detections by score
   * (stable), keep the best 100 and match them greedily to the ground truth at every IoU threshold and
   * area range.
   */
  matchDetections(detections: CocoDetections | readonly CocoResultJson[] | string, options: CocoEvalOptions = {}): CocoMatchResults {
    const dets = isCocoDetections(detections) ? detections : readCocoResults(detections as readonly unknown[] | string);
    const I = this.numImages;
    const K = this.numCategories;
    const subset = this.subsetMask(options.imageIds);
    const nDet = dets.count;

    // Map ids to indices; drop detections of unknown categories (pycocotools evaluates params.catIds
    // only) and of images outside the subset. Unknown images are an error (loadRes asserts on them).
    const detImg = new Int32Array(nDet);
    const detCat = new Int32Array(nDet);
    const numDt = new Int32Array(K);
    let nEval = 0;
    let lastImageId = NaN;
    let lastImage = -1;
    for (let j = 0; j < nDet; j++) {
      const imageId = dets.imageId[j];
      let i: number;
      if (imageId === lastImageId) {
        i = lastImage;
      } else {
        const found = this.imageIndex.get(imageId);
        if (found === undefined) {
          const entry = { image_id: imageId, category_id: dets.categoryId[j], bbox: Array.from(dets.boxXYWH.subarray(4 * j, 4 * j + 4)), score: dets.score[j] };
          throw new UserError(
            `detection #${j} is for image_id ${imageId}, which is not in the ground truth: ${describeEntry(entry)}`,
            'detections must refer to images of the ground-truth file; check that the results and the annotations belong to the same split',
          );
        }
        i = found;
        lastImageId = imageId;
        lastImage = i;
      }
      const k = this.categoryIndex.get(dets.categoryId[j]);
      if (k === undefined || (subset !== null && !subset[i])) {
        detCat[j] = -1;
        continue;
      }
      detImg[j] = i;
      detCat[j] = k;
      numDt[k]++;
      nEval++;
    }
    const detOrder = radixSortByCell(nDet, detImg, I, detCat, K, nEval);

    // Output arrays sized for every evaluated detection; cells over the 100 limit fill fewer entries.
    const detIndex = new Int32Array(nEval);
    const score = new Float64Array(nEval);
    const rank = new Uint8Array(nEval);
    const tpMask = new Uint16Array(A * nEval);
    const ignoreMask = new Uint16Array(A * nEval);
    const matchedGt = options.recordMatches ? new Int32Array(T * nEval).fill(-1) : null;
    const categoryStart = new Int32Array(K + 1);

    let out = 0;
    let gtCell = 0;
    const numGtCells = this.cellKey.length;
    let p = 0;
    let nextCategory = 0;
    while (p < nEval) {
      const first = detOrder[p];
      const k = detCat[first];
      const i = detImg[first];
      let q = p + 1;
      while (q < nEval && detCat[detOrder[q]] === k && detImg[detOrder[q]] === i) q++;
      while (nextCategory <= k) categoryStart[nextCategory++] = out;
      // Sort the cell's detections by descending score; ties keep results-file order (mergesort in
      // evaluateImg / computeIoU).
      sortByScoreDesc(detOrder, p, q, dets.score);
      const D = Math.min(q - p, MAX_DETS_PER_CELL);
      const key = k * I + i;
      while (gtCell < numGtCells && this.cellKey[gtCell] < key) gtCell++;
      const hasGt = gtCell < numGtCells && this.cellKey[gtCell] === key;
      const gs = hasGt ? this.cellStart[gtCell] : 0;
      const G = hasGt ? this.cellStart[gtCell + 1] - gs : 0;
      for (let d = 0; d < D; d++) {
        const j = detOrder[p + d];
        detIndex[out + d] = j;
        score[out + d] = dets.score[j];
        rank[out + d] = d;
      }
      this.matchCell(dets, detOrder, p, D, gs, G, out, nEval, tpMask, ignoreMask, matchedGt);
      out += D;
      p = q;
    }
    while (nextCategory <= K) categoryStart[nextCategory++] = out;

    const gtCounts = subset === null ? this.fullCounts : this.countGroundTruth(subset);
    let gtTotal = 0;
    let gtCrowdTotal = 0;
    for (let k = 0; k < K; k++) {
      gtTotal += gtCounts.numGt[k] + gtCounts.numGtCrowd[k];
      gtCrowdTotal += gtCounts.numGtCrowd[k];
    }
    const imageIds = subset === null ? this.imageIds.slice() : this.imageIds.filter((_, i) => subset[i]);
    return {
      numImages: imageIds.length,
      numCategories: K,
      categoryStart,
      detIndex: detIndex.subarray(0, out),
      score: score.subarray(0, out),
      rank: rank.subarray(0, out),
      // Masks keep stride nEval (area a at a*nEval); entries past `out` are unused.
      tpMask,
      ignoreMask,
      npig: gtCounts.npig,
      numGt: gtCounts.numGt,
      numGtCrowd: gtCounts.numGtCrowd,
      numDt,
      imageIds,
      ...(matchedGt ? { matchedGt } : {}),
      counts: {
        images: imageIds.length,
        categories: K,
        gt: gtTotal,
        gtCrowd: gtCrowdTotal,
        dt: nDet,
        dtEvaluated: nEval,
      },
    };
  }

  /**
   * evaluateImg for one (image, category): D score-sorted detections (detOrder[p .. p+D)) against the
   * G annotations gs .. gs+G-1; writes TP / ignore bit masks at entries out .. out+D-1 (and, when
   * given, the matched annotation of area 'all' at matchedGt[t*stride + entry]).
   */
  private matchCell(
    dets: CocoDetections,
    detOrder: Int32Array,
    p: number,
    D: number,
    gs: number,
    G: number,
    out: number,
    stride: number,
    tpMask: Uint16Array,
    ignoreMask: Uint16Array,
    matchedGt: Int32Array | null,
  ): void {
    const box = dets.boxXYWH;
    const rangeArea = dets.areaForRanges;
    if (G === 0) {
      // No GT: every detection is unmatched; it is a FP unless its own area is outside the range.
      for (let d = 0; d < D; d++) {
        const j = detOrder[p + d];
        const areaPx = rangeArea ? rangeArea[j] : box[4 * j + 2] * box[4 * j + 3];
        for (let a = 0; a < A; a++) {
          if (areaPx < AREA_LO[a] || areaPx > AREA_HI[a]) ignoreMask[a * stride + out + d] = ALL_THRESHOLDS_MASK;
        }
      }
      return;
    }
    if (this.iouScratch.length < D * G) this.iouScratch = new Float64Array(Math.max(D * G, 2 * this.iouScratch.length));
    if (this.maxIouScratch.length < D) this.maxIouScratch = new Float64Array(Math.max(D, 2 * this.maxIouScratch.length));
    const iou = this.iouScratch;
    const maxIou = this.maxIouScratch;
    const gtBox = this.gtBox;
    // IoU in maskApi.c bbIou's operation order; a crowd GT's union is the detection area.
    for (let d = 0; d < D; d++) {
      const j = detOrder[p + d];
      const dx = box[4 * j];
      const dy = box[4 * j + 1];
      const dw = box[4 * j + 2];
      const dh = box[4 * j + 3];
      const da = dw * dh;
      let best = 0;
      for (let g = 0; g < G; g++) {
        const b = 4 * (gs + g);
        const gx = gtBox[b];
        const gy = gtBox[b + 1];
        const gw = gtBox[b + 2];
        const gh = gtBox[b + 3];
        const v = cocoBoxIou(dx, dy, dw, dh, da, gx, gy, gw, gh, this.gtCrowd[gs + g] === 1);
        iou[d * G + g] = v;
        if (v > best) best = v;
      }
      maxIou[d] = best;
    }

    const n = this.numAnnotations;
    if (this.matchedScratch.length < G) this.matchedScratch = new Uint8Array(Math.max(G, 2 * this.matchedScratch.length));
    const matched = this.matchedScratch;
    for (let a = 0; a < A; a++) {
      const lo = AREA_LO[a];
      const hi = AREA_HI[a];
      const sortedBase = a * n + gs;
      const ignBase = a * n;
      const maskBase = a * stride + out;
      for (let t = 0; t < T; t++) {
        const thr = MATCH_THRESHOLDS[t];
        const bit = 1 << t;
        matched.fill(0, 0, G);
        for (let d = 0; d < D; d++) {
          let m = -1;
          let mIgnored = 0;
          if (maxIou[d] >= thr) {
            let best = thr;
            const row = d * G;
            for (let s = 0; s < G; s++) {
              const g = this.gtSorted[sortedBase + s];
              if (matched[s] && !this.gtCrowd[g]) continue;
              const ign = this.gtIgnore[ignBase + g];
              // Non-ignored GT come first; once one is matched, ignored ones cannot replace it.
              if (m > -1 && mIgnored === 0 && ign === 1) break;
              const v = iou[row + g - gs];
              if (v < best) continue; // an equal IoU replaces the candidate: the later GT wins ties
              best = v;
              m = s;
              mIgnored = ign;
            }
          }
          if (m > -1) {
            matched[m] = 1;
            if (mIgnored) ignoreMask[maskBase + d] |= bit;
            else tpMask[maskBase + d] |= bit;
            if (matchedGt !== null && a === 0) matchedGt[t * stride + out + d] = this.gtInput[this.gtSorted[sortedBase + m]];
          } else {
            const j = detOrder[p + d];
            const areaPx = rangeArea ? rangeArea[j] : box[4 * j + 2] * box[4 * j + 3];
            if (areaPx < lo || areaPx > hi) ignoreMask[maskBase + d] |= bit;
          }
        }
      }
    }
  }

  private subsetMask(imageIds: ArrayLike<number> | undefined): Uint8Array | null {
    if (imageIds === undefined) return null;
    const mask = new Uint8Array(this.numImages);
    for (let j = 0; j < imageIds.length; j++) {
      const i = this.imageIndex.get(imageIds[j]);
      if (i === undefined) {
        throw new UserError(
          `imageIds[${j}] = ${describeEntry(imageIds[j])} is not an image of the ground truth`,
          'restrict evaluation to ids listed in the ground truth "images"',
        );
      }
      mask[i] = 1;
    }
    return mask;
  }

  /** Non-ignored GT per (category, area) and GT counts per category over the images in `subset`. */
  private countGroundTruth(subset: Uint8Array | null): { npig: Int32Array; numGt: Int32Array; numGtCrowd: Int32Array } {
    const K = this.numCategories;
    const n = this.numAnnotations;
    const npig = new Int32Array(K * A);
    const numGt = new Int32Array(K);
    const numGtCrowd = new Int32Array(K);
    for (let g = 0; g < n; g++) {
      if (subset !== null && !subset[this.gtImage[g]]) continue;
      const k = this.gtCategory[g];
      if (this.gtCrowd[g]) numGtCrowd[k]++;
      else numGt[k]++;
      for (let a = 0; a < A; a++) if (!this.gtIgnore[a * n + g]) npig[k * A + a]++;
    }
    return { npig, numGt, numGtCrowd };
  }
}

/** Indexes a COCO instances json (object or file path) for repeated evaluation. */
export function prepareCocoGroundTruth(gt: string | CocoGroundTruthJson | CocoGroundTruthColumns): PreparedCocoGroundTruth {
  if (typeof gt === 'object' && gt !== null && 'annotationId' in gt) return new PreparedCocoGroundTruth(gt as CocoGroundTruthColumns);
  return new PreparedCocoGroundTruth(readCocoGroundTruth(gt as string | CocoGroundTruthJson));
}

/** One-shot evaluation: ground truth (json, path or prepared) against detections (json, path or columns). */
export function evaluateCoco(
  gt: string | CocoGroundTruthJson | PreparedCocoGroundTruth,
  dt: string | readonly CocoResultJson[] | CocoDetections,
  options: CocoEvalOptions = {},
): CocoEvalResult {
  const prepared = gt instanceof PreparedCocoGroundTruth ? gt : prepareCocoGroundTruth(gt);
  return prepared.evaluate(dt, options);
}

/**
 * IoU of a detection box (x, y, w, h; area da = w·h) and a GT box, in the operation order of
 * pycocotools' maskApi.c bbIou, so that threshold comparisons agree to the last bit. A crowd GT's
 * union is the detection's area (intersection over the detection).
 */
export function cocoBoxIou(dx: number, dy: number, dw: number, dh: number, da: number, gx: number, gy: number, gw: number, gh: number, crowd: boolean): number {
  const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
  if (!(w > 0)) return 0;
  const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
  if (!(h > 0)) return 0;
  const inter = w * h;
  return inter / (crowd ? da : da + gw * gh - inter);
}

function isCocoDetections(x: unknown): x is CocoDetections {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const d = x as Partial<CocoDetections>;
  return (
    typeof d.count === 'number' &&
    d.score instanceof Float64Array &&
    d.imageId instanceof Float64Array &&
    d.categoryId instanceof Float64Array &&
    d.boxXYWH instanceof Float64Array
  );
}

/**
 * Stable LSD radix sort of entries 0..n-1 by (category, image): returns entry indices ordered by
 * category index, then image index, then original position. Entries with category -1 are left out
 * (`kept` = how many remain, or null when none are left out).
 */
function radixSortByCell(n: number, img: Int32Array, numImages: number, cat: Int32Array, numCategories: number, kept: number | null): Int32Array {
  const m = kept === null ? n : kept;
  const byImage = new Int32Array(m);
  const counts = new Int32Array(Math.max(numImages, numCategories) + 1);
  for (let j = 0; j < n; j++) if (cat[j] >= 0) counts[img[j] + 1]++;
  for (let i = 0; i < numImages; i++) counts[i + 1] += counts[i];
  for (let j = 0; j < n; j++) if (cat[j] >= 0) byImage[counts[img[j]]++] = j;
  const out = new Int32Array(m);
  counts.fill(0);
  for (let x = 0; x < m; x++) counts[cat[byImage[x]] + 1]++;
  for (let k = 0; k < numCategories; k++) counts[k + 1] += counts[k];
  for (let x = 0; x < m; x++) {
    const j = byImage[x];
    out[counts[cat[j]]++] = j;
  }
  return out;
}

/** Stable sort of idx[from .. to) by descending score (entries arrive in ascending input order). */
function sortByScoreDesc(idx: Int32Array, from: number, to: number, score: Float64Array): void {
  if (to - from <= 24) {
    for (let x = from + 1; x < to; x++) {
      const j = idx[x];
      const sj = score[j];
      let y = x - 1;
      while (y >= from && score[idx[y]] < sj) {
        idx[y + 1] = idx[y];
        y--;
      }
      idx[y + 1] = j;
    }
    return;
  }
  idx.subarray(from, to).sort((a, b) => score[b] - score[a] || a - b);
}
