/**
 * PASCAL VOC detection AP as computed by py-faster-rcnn's voc_eval() / voc_ap() (the Python port of the
 * VOCdevkit used by most detection papers): per class, detections sorted by score are matched to the
 * single GT box of highest IoU in their image (inclusive pixel coordinates, the "+1" convention);
 * IoU > 0.5 (strict) on an unmatched GT is a TP, on a matched GT a FP, on a difficult GT neither.
 * AP is the VOC2007 11-point interpolated AP (use_07_metric=True) or the VOC2010+ all-point AP.
 * docs/eval-cases.md section 3 states the rules in full.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors';
import { formatFixed, numpySumChunked } from './py-compat';
import { invalidBoxesError, vocBoxProblem } from '../data/validate-boxes';
import { readVocAnnotation, readVocDetections, readVocImageSet } from './voc-annotations';

export type VocMetric = 'voc07' | 'all-point';

/** [xmin, ymin, xmax, ymax] in inclusive pixel coordinates. */
export type VocBox = [number, number, number, number] | readonly number[];

export interface VocGroundTruthBox {
  image: string;
  className: string;
  bbox: VocBox;
  difficult: boolean | number;
}

export interface VocDetection {
  image: string;
  className: string;
  score: number;
  bbox: VocBox;
}

export interface VocEvalInput {
  /** Classes to evaluate; mAP is the mean over exactly these. */
  classes: readonly string[];
  /**
   * The image set. GT of other images is ignored; a detection on another image is an error.
   * Default: every image that has GT or detections.
   */
  images?: readonly string[];
  groundTruth: readonly VocGroundTruthBox[];
  detections: readonly VocDetection[];
}

export interface VocEvalOptions {
  /** Which AP is reported as `ap` / `mAP`: 'voc07' (11-point, default) or 'all-point' (VOC2010+). Both are always computed. */
  metric?: VocMetric;
  /** Overlap a match must exceed (strictly). Default 0.5. */
  iouThreshold?: number;
}

export type VocOutcome = 'tp' | 'fp' | 'ignored';

export interface VocClassResult {
  className: string;
  /** Non-difficult GT boxes. */
  npos: number;
  numDets: number;
  /** AP under the selected metric. */
  ap: number;
  /** VOC2007 11-point AP (thresholds np.arange(0, 1.1, 0.1)). */
  ap11Point: number;
  /** VOC2010+ all-point AP; NaN when npos = 0 and there are detections (recall is 0/0). */
  apAllPoint: number;
  /** detOrder[i]: index, among this class's detections in input order, of the i-th detection by score. */
  detOrder: Int32Array;
  detOutcome: VocOutcome[];
  /** Cumulative recall / precision after each sorted detection (recall NaN when npos = 0). */
  rec: Float64Array;
  prec: Float64Array;
}

export interface VocEvalResult {
  metric: VocMetric;
  iouThreshold: number;
  perClass: VocClassResult[];
  /**
   * Mean of per-class `ap` over the classes with ground truth (npos > 0). py-faster-rcnn averages
   * every class, counting a class without ground truth as 0, which measures the image set rather
   * than the detector (docs/eval-cases.md section 3); the classes left out are listed below.
   */
  mAP: number;
  mAP11Point: number;
  mAPAllPoint: number;
  /** Classes without non-difficult ground truth in the image set: left out of the means. */
  classesWithoutGroundTruth: string[];
}

/** np.arange(0., 1.1, 0.1): i*0.1, so 0.30000000000000004, 0.6000000000000001, 0.7000000000000001. */
export const VOC07_RECALL_THRESHOLDS: Float64Array = Float64Array.from({ length: 11 }, (_, i) => i * 0.1);
const EPS = 2.220446049250313e-16; // np.finfo(np.float64).eps

/** voc_ap(rec, prec, use_07_metric=True). */
export function vocAp11Point(rec: ArrayLike<number>, prec: ArrayLike<number>): number {
  let ap = 0;
  for (let i = 0; i < VOC07_RECALL_THRESHOLDS.length; i++) {
    const t = VOC07_RECALL_THRESHOLDS[i];
    let p = 0;
    let any = false;
    for (let j = 0; j < rec.length; j++) {
      if (rec[j] >= t) {
        if (!any || prec[j] > p) p = prec[j];
        any = true;
      }
    }
    ap = ap + p / 11;
  }
  return ap;
}

/** voc_ap(rec, prec, use_07_metric=False): area under the precision envelope, summed where recall changes. */
export function vocApAllPoint(rec: ArrayLike<number>, prec: ArrayLike<number>): number {
  const n = rec.length + 2;
  const mrec = new Float64Array(n);
  const mpre = new Float64Array(n);
  mrec[n - 1] = 1;
  for (let i = 0; i < rec.length; i++) {
    mrec[i + 1] = rec[i];
    mpre[i + 1] = prec[i];
  }
  // np.maximum propagates NaN; precision is never NaN here, so plain max is the same.
  for (let i = n - 1; i > 0; i--) mpre[i - 1] = Math.max(mpre[i - 1], mpre[i]);
  const terms = new Float64Array(n);
  let m = 0;
  for (let i = 0; i + 1 < n; i++) {
    // `!==` is true for NaN, as numpy's `!=`.
    if (mrec[i + 1] !== mrec[i]) terms[m++] = (mrec[i + 1] - mrec[i]) * mpre[i + 1];
  }
  return numpySumChunked(terms, m);
}

function checkBox(b: VocBox, what: string): void {
  if (!b || b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new UserError(`${what} has a malformed bbox ${JSON.stringify(b)}`, 'a VOC box is [xmin, ymin, xmax, ymax], 4 finite numbers');
  }
}

/** Evaluates in-memory ground truth and detections (no files). */
export function evaluateVoc(input: VocEvalInput, options: VocEvalOptions = {}): VocEvalResult {
  const metric = options.metric ?? 'voc07';
  const iouThreshold = options.iouThreshold ?? 0.5;
  const images = new Set(input.images ?? [...input.groundTruth.map((g) => g.image), ...input.detections.map((d) => d.image)]);

  // class -> image -> GT boxes (input order, difficult included: they still absorb detections).
  const gtByClass = new Map<string, Map<string, { boxes: number[][]; difficult: boolean[] }>>();
  input.groundTruth.forEach((g, i) => {
    checkBox(g.bbox, `ground-truth box #${i} (${g.image}, ${g.className})`);
    if (!images.has(g.image)) return;
    let byImage = gtByClass.get(g.className);
    if (!byImage) gtByClass.set(g.className, (byImage = new Map()));
    let rec = byImage.get(g.image);
    if (!rec) byImage.set(g.image, (rec = { boxes: [], difficult: [] }));
    rec.boxes.push([g.bbox[0], g.bbox[1], g.bbox[2], g.bbox[3]]);
    rec.difficult.push(g.difficult === true || g.difficult === 1);
  });
  const detsByClass = new Map<string, VocDetection[]>();
  input.detections.forEach((d, i) => {
    checkBox(d.bbox, `detection #${i} (${d.image}, ${d.className})`);
    if (typeof d.score !== 'number' || !Number.isFinite(d.score)) {
      throw new UserError(`detection #${i} (${d.image}, ${d.className}) has a non-finite score ${d.score}`, 'scores must be finite numbers');
    }
    if (!images.has(d.image)) {
      throw new UserError(
        `detection #${i} is on image "${d.image}", which is not in the image set: ${JSON.stringify(d)}`,
        'detections must refer to images of the evaluated image set',
      );
    }
    let list = detsByClass.get(d.className);
    if (!list) detsByClass.set(d.className, (list = []));
    list.push(d);
  });

  const perClass = input.classes.map((className) =>
    evaluateVocClass(className, gtByClass.get(className) ?? new Map(), detsByClass.get(className) ?? [], iouThreshold, metric),
  );
  const scored = perClass.filter((c) => c.npos > 0);
  if (scored.length === 0) {
    throw new UserError(
      input.classes.length === 0
        ? 'no classes to evaluate'
        : `none of the ${input.classes.length} evaluated classes (${input.classes.slice(0, 8).join(', ')}${input.classes.length > 8 ? ', ...' : ''}) has ground truth in the ${images.size} images: there is nothing to average`,
      'evaluate on an image set with annotated objects of these classes',
    );
  }
  const mean = (xs: number[]): number => numpySumChunked(Float64Array.from(xs), xs.length) / xs.length;
  return {
    metric,
    iouThreshold,
    perClass,
    mAP: mean(scored.map((c) => c.ap)),
    mAP11Point: mean(scored.map((c) => c.ap11Point)),
    mAPAllPoint: mean(scored.map((c) => c.apAllPoint)),
    classesWithoutGroundTruth: perClass.filter((c) => c.npos === 0).map((c) => c.className),
  };
}

function evaluateVocClass(
  className: string,
  gt: Map<string, { boxes: number[][]; difficult: boolean[] }>,
  dets: readonly VocDetection[],
  iouThreshold: number,
  metric: VocMetric,
): VocClassResult {
  let npos = 0;
  const matched = new Map<string, Uint8Array>();
  for (const [image, rec] of gt) {
    for (const d of rec.difficult) if (!d) npos++;
    matched.set(image, new Uint8Array(rec.boxes.length));
  }
  const nd = dets.length;
  // Stable sort by descending score (py-faster-rcnn uses np.argsort(-confidence); ties keep input order here).
  const detOrder = Int32Array.from({ length: nd }, (_, i) => i).sort((a, b) => dets[b].score - dets[a].score || a - b);
  const tp = new Float64Array(nd);
  const fp = new Float64Array(nd);
  const detOutcome: VocOutcome[] = new Array(nd);
  for (let s = 0; s < nd; s++) {
    const det = dets[detOrder[s]];
    const bb = det.bbox;
    const rec = gt.get(det.image);
    let ovmax = -Infinity;
    let jmax = -1;
    if (rec) {
      for (let g = 0; g < rec.boxes.length; g++) {
        const G = rec.boxes[g];
        const ixmin = Math.max(G[0], bb[0]);
        const iymin = Math.max(G[1], bb[1]);
        const ixmax = Math.min(G[2], bb[2]);
        const iymax = Math.min(G[3], bb[3]);
        const iw = Math.max(ixmax - ixmin + 1, 0);
        const ih = Math.max(iymax - iymin + 1, 0);
        const inters = iw * ih;
        const uni = (bb[2] - bb[0] + 1) * (bb[3] - bb[1] + 1) + (G[2] - G[0] + 1) * (G[3] - G[1] + 1) - inters;
        const ov = inters / uni;
        // np.max / np.argmax: NaN wins and stays; otherwise the first maximum.
        if (Number.isNaN(ov)) {
          if (!Number.isNaN(ovmax)) {
            ovmax = NaN;
            jmax = g;
          }
        } else if (!Number.isNaN(ovmax) && (jmax === -1 || ov > ovmax)) {
          ovmax = ov;
          jmax = g;
        }
      }
    }
    let outcome: VocOutcome = 'fp';
    if (ovmax > iouThreshold && rec) {
      if (rec.difficult[jmax]) outcome = 'ignored';
      else {
        const flags = matched.get(det.image) as Uint8Array;
        if (!flags[jmax]) {
          outcome = 'tp';
          flags[jmax] = 1;
        }
      }
    }
    detOutcome[s] = outcome;
    if (outcome === 'tp') tp[s] = 1;
    else if (outcome === 'fp') fp[s] = 1;
  }
  const rec = new Float64Array(nd);
  const prec = new Float64Array(nd);
  let tpSum = 0;
  let fpSum = 0;
  for (let s = 0; s < nd; s++) {
    tpSum += tp[s];
    fpSum += fp[s];
    rec[s] = tpSum / npos; // 0/0 = NaN when the class has no non-difficult GT
    prec[s] = tpSum / Math.max(tpSum + fpSum, EPS);
  }
  // No detections: AP 0 (the original indexes an empty array and crashes).
  const ap11Point = nd === 0 ? 0 : vocAp11Point(rec, prec);
  const apAllPoint = vocApAllPoint(rec, prec);
  return {
    className,
    npos,
    numDets: nd,
    ap: metric === 'voc07' ? ap11Point : apAllPoint,
    ap11Point,
    apAllPoint,
    detOrder,
    detOutcome,
    rec,
    prec,
  };
}

export interface VocDevkitEvalInput {
  /** Folder with <image_id>.xml. */
  annotationsDir: string;
  /** ImageSets/Main/<set>.txt. */
  imageSetFile: string;
  /** Folder with comp4_det_test_<class>.txt. */
  detectionsDir: string;
  /** Default: every class name found in the image set's annotations, sorted. */
  classes?: readonly string[];
}

/** File name of a class's detections in the devkit's comp4 (any training data) format. */
export function vocDetectionFileName(className: string): string {
  return `comp4_det_test_${className}.txt`;
}

/** Evaluates a VOCdevkit layout on disk (annotations + image set + per-class detection files). */
export function evaluateVocDevkit(input: VocDevkitEvalInput, options: VocEvalOptions = {}): VocEvalResult {
  const images = readVocImageSet(input.imageSetFile);
  if (images.length === 0) {
    throw new UserError(`image set ${input.imageSetFile} lists no images`, 'pass an ImageSets/Main/<set>.txt with one image id per line');
  }
  if (!fs.existsSync(input.annotationsDir) || !fs.statSync(input.annotationsDir).isDirectory()) {
    throw new UserError(`annotations folder ${input.annotationsDir} does not exist`, 'pass --annotations <VOCdevkit/VOC2007/Annotations>');
  }
  if (!fs.existsSync(input.detectionsDir) || !fs.statSync(input.detectionsDir).isDirectory()) {
    throw new UserError(`detections folder ${input.detectionsDir} does not exist`, 'pass --dets <folder with comp4_det_test_<class>.txt>');
  }
  const groundTruth: VocGroundTruthBox[] = [];
  const invalid: string[] = [];
  for (const image of images) {
    const ann = readVocAnnotation(path.join(input.annotationsDir, `${image}.xml`), { requireSize: false });
    ann.objects.forEach((o, j) => {
      // The loaders' check (lib/data/validate-boxes.ts): `evaluate --voc` rejects the same boxes.
      const problem = vocBoxProblem(o.bbox);
      if (problem) invalid.push(`${image}.xml object #${j} (${o.name}): ${problem}`);
      groundTruth.push({ image, className: o.name, bbox: o.bbox, difficult: o.difficult });
    });
  }
  if (invalid.length) throw invalidBoxesError(input.annotationsDir, invalid, 'fix these objects in the annotation files');
  const classes = input.classes && input.classes.length > 0 ? [...input.classes] : [...new Set(groundTruth.map((g) => g.className))].sort();
  const imageSet = new Set(images);
  const detections: VocDetection[] = [];
  for (const className of classes) {
    const file = path.join(input.detectionsDir, vocDetectionFileName(className));
    if (!fs.existsSync(file)) {
      throw new UserError(
        `no detection file for class "${className}": ${file} does not exist`,
        'write comp4_det_test_<class>.txt for every evaluated class (an empty file when there are no detections), or pass --classes',
      );
    }
    const lines = readVocDetections(file);
    lines.forEach((d, i) => {
      if (!imageSet.has(d.image)) {
        throw new UserError(
          `${file}: detection #${i} is on image "${d.image}", which is not in ${input.imageSetFile}`,
          'detections must refer to images of the evaluated image set',
        );
      }
      detections.push({ image: d.image, className, score: d.score, bbox: d.bbox });
    });
  }
  return evaluateVoc({ classes, images, groundTruth, detections }, options);
}

/** Text report: one `AP for <class> = 0.xxxx` line per class and `Mean AP = 0.xxxx`, as py-faster-rcnn prints. */
export function formatVocReport(result: VocEvalResult): string[] {
  const name = result.metric === 'voc07' ? 'VOC07 11-point' : 'all-point';
  const without = result.classesWithoutGroundTruth;
  return [
    ...result.perClass.map((c) => `AP for ${c.className} = ${c.npos > 0 ? formatFixed(c.ap, 4) : '-     (no ground truth)'}`),
    `Mean AP = ${formatFixed(result.mAP, 4)}  (${name}, IoU > ${result.iouThreshold}, ${result.perClass.length - without.length} classes with ground truth)`,
    ...(without.length ? [`left out of the mean, no ground truth in the image set: ${without.join(', ')}`] : []),
  ];
}
