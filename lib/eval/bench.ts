/**
 * Timing of the COCO evaluator on the reference performance case (500 images, 80 categories, 50,000
 * detections), comparable with the figures measured for pycocotools and faster-coco-eval on the same
 * kind of machine (docs/eval-cases.md section 4). Used by bench/eval-coco.ts and
 * `metaanchor bench`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors';
import { makeRng, Rng } from '../util/seed';
import { accumulateCoco, prepareCocoGroundTruth, readCocoResults, summarizeCoco } from './coco';
import { CocoGroundTruthJson, CocoResultJson } from './coco-input';

/** evaluate() + accumulate() seconds measured on a 2-core machine of the kind this project runs on. */
export const COCO_EVAL_REFERENCE_SEC = { pycocotools: 3.32, fasterCocoEval: 0.31 } as const;

export interface CocoEvalBenchOptions {
  /** Folder with gt.json and dt.json (e.g. a copy of perf_500img_80cat). Default: a generated case of that size. */
  caseDir?: string;
  /** Timed repetitions after one cold (first, JIT-compiling) run; the median is reported. Default 7. */
  runs?: number;
}

export interface CocoEvalBenchResult {
  /** Where the data came from: the case folder, or "generated" when it was not found. */
  source: string;
  images: number;
  categories: number;
  annotations: number;
  detections: number;
  runs: number;
  /** JSON.parse of gt.json + dt.json (read from disk first, not timed). */
  jsonParseSec: number;
  /** Median: validate + index the ground truth (prepareCocoGroundTruth). */
  prepareGtSec: number;
  /** Median: validate the results array into typed columns (readCocoResults). */
  readResultsSec: number;
  /** Median: per image+category matching (pycocotools evaluate()). */
  evaluateSec: number;
  /** Median: precision / recall accumulation (pycocotools accumulate()). */
  accumulateSec: number;
  /** Median of evaluate + accumulate per run: the figure comparable with the references. */
  evaluateAccumulateSec: number;
  /** evaluate + accumulate of the first run in this process, JIT compilation included. */
  coldEvaluateAccumulateSec: number;
  /** Median of everything after JSON.parse: prepare GT, read results, evaluate, accumulate, summarize. */
  endToEndSec: number;
  /** AP@[.5:.95], as a check that the run computed the real thing. */
  ap: number;
  reference: typeof COCO_EVAL_REFERENCE_SEC;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export async function benchCocoEval(options: CocoEvalBenchOptions = {}): Promise<CocoEvalBenchResult> {
  const runs = Math.max(1, options.runs ?? 7);
  const caseDir = options.caseDir;
  let gtJson: CocoGroundTruthJson;
  let dtJson: CocoResultJson[];
  let jsonParseSec: number;
  let source: string;
  if (caseDir !== undefined) {
    for (const f of ['gt.json', 'dt.json']) {
      if (!fs.existsSync(path.join(caseDir, f)))
        throw new UserError(`${caseDir} has no ${f}`, 'pass a folder holding gt.json (COCO instances) and dt.json (COCO results)');
    }
    const gtText = await fs.promises.readFile(path.join(caseDir, 'gt.json'), 'utf8');
    const dtText = await fs.promises.readFile(path.join(caseDir, 'dt.json'), 'utf8');
    const t0 = performance.now();
    gtJson = JSON.parse(gtText);
    dtJson = JSON.parse(dtText);
    jsonParseSec = (performance.now() - t0) / 1000;
    source = caseDir;
  } else {
    const generated = generatePerfCase(makeRng(500080));
    const gtText = JSON.stringify(generated.gt);
    const dtText = JSON.stringify(generated.dt);
    const t0 = performance.now();
    gtJson = JSON.parse(gtText);
    dtJson = JSON.parse(dtText);
    jsonParseSec = (performance.now() - t0) / 1000;
    source = 'generated';
  }

  const prep: number[] = [];
  const read: number[] = [];
  const evaluate: number[] = [];
  const accumulate: number[] = [];
  const evalAcc: number[] = [];
  const endToEnd: number[] = [];
  let ap = NaN;
  let categories = 0;
  let coldEvaluateAccumulateSec = NaN;
  for (let run = -1; run < runs; run++) {
    const t0 = performance.now();
    const gt = prepareCocoGroundTruth(gtJson);
    const t1 = performance.now();
    const dets = readCocoResults(dtJson);
    const t2 = performance.now();
    const match = gt.matchDetections(dets);
    const t3 = performance.now();
    const acc = accumulateCoco(match);
    const t4 = performance.now();
    const result = summarizeCoco(match, acc, gt.categoryIds);
    const t5 = performance.now();
    ap = result.stats[0];
    categories = gt.numCategories;
    if (run < 0) {
      coldEvaluateAccumulateSec = (t4 - t2) / 1000;
      continue;
    }
    prep.push((t1 - t0) / 1000);
    read.push((t2 - t1) / 1000);
    evaluate.push((t3 - t2) / 1000);
    accumulate.push((t4 - t3) / 1000);
    evalAcc.push((t4 - t2) / 1000);
    endToEnd.push((t5 - t0) / 1000);
    // Let other work on the event loop run between repetitions.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return {
    source,
    images: gtJson.images.length,
    categories,
    annotations: gtJson.annotations.length,
    detections: dtJson.length,
    runs,
    jsonParseSec,
    prepareGtSec: median(prep),
    readResultsSec: median(read),
    evaluateSec: median(evaluate),
    accumulateSec: median(accumulate),
    evaluateAccumulateSec: median(evalAcc),
    coldEvaluateAccumulateSec,
    endToEndSec: median(endToEnd),
    ap,
    reference: COCO_EVAL_REFERENCE_SEC,
  };
}

/** Human-readable lines for a bench result. */
export function formatCocoEvalBench(r: CocoEvalBenchResult): string[] {
  const s = (x: number): string => `${x.toFixed(3)} s`;
  return [
    `COCO bbox evaluation, ${r.images} images, ${r.categories} categories, ${r.annotations} GT, ${r.detections} detections (${r.source})`,
    `  JSON.parse gt + dt         ${s(r.jsonParseSec)}`,
    `  first run, evaluate + accumulate (JIT warm-up included)  ${s(r.coldEvaluateAccumulateSec)}`,
    `  median of the next ${r.runs} runs:`,
    `    prepare ground truth     ${s(r.prepareGtSec)}`,
    `    read results             ${s(r.readResultsSec)}`,
    `    evaluate                 ${s(r.evaluateSec)}`,
    `    accumulate               ${s(r.accumulateSec)}`,
    `    evaluate + accumulate    ${s(r.evaluateAccumulateSec)}   (pycocotools ${r.reference.pycocotools} s, faster-coco-eval ${r.reference.fasterCocoEval} s)`,
    `    end to end after parse   ${s(r.endToEndSec)}`,
    `  AP@[.5:.95] = ${r.ap}`,
  ];
}

/**
 * A case shaped like the perf_500img_80cat reference case (not stored in the repository): 500 images,
 * the 80 official COCO category ids, ~7 GT per image (~1% crowd, area field 50-95% of w*h), and 100
 * detections per image (jittered GT, duplicates, false positives).
 */
export function generatePerfCase(rng: Rng): { gt: CocoGroundTruthJson; dt: CocoResultJson[] } {
  const categoryIds: number[] = [];
  for (let id = 1; id <= 90; id++) {
    if (![12, 26, 29, 30, 45, 66, 68, 69, 71, 83].includes(id)) categoryIds.push(id);
  }
  const round = (x: number, step: number): number => Math.round(x / step) * step;
  const gt: CocoGroundTruthJson = { images: [], annotations: [], categories: categoryIds.map((id) => ({ id, name: `c${id}` })) };
  const dt: CocoResultJson[] = [];
  let annId = 1;
  for (let imageId = 1; imageId <= 500; imageId++) {
    const width = [427, 480, 500, 640][Math.floor(rng() * 4)];
    const height = [333, 375, 480, 640][Math.floor(rng() * 4)];
    gt.images.push({ id: imageId, width, height });
    const boxes: { cat: number; b: number[] }[] = [];
    const nGt = 1 + Math.floor(rng() * 13);
    for (let g = 0; g < nGt; g++) {
      const w = 4 + rng() * (width - 4) * 0.6;
      const h = 4 + rng() * (height - 4) * 0.6;
      const b = [round(rng() * (width - w), 0.01), round(rng() * (height - h), 0.01), round(w, 0.01), round(h, 0.01)];
      const cat = categoryIds[Math.floor(rng() * categoryIds.length)];
      boxes.push({ cat, b });
      gt.annotations.push({
        id: annId++,
        image_id: imageId,
        category_id: cat,
        bbox: b,
        area: b[2] * b[3] * (0.5 + 0.45 * rng()),
        iscrowd: rng() < 0.01 ? 1 : 0,
      });
    }
    for (let d = 0; d < 100; d++) {
      const kind = rng();
      let cat: number;
      let b: number[];
      if (kind < 0.5) {
        const src = boxes[Math.floor(rng() * boxes.length)];
        cat = src.cat;
        const j = 0.15 * rng();
        b = [
          src.b[0] + (rng() - 0.5) * j * src.b[2],
          src.b[1] + (rng() - 0.5) * j * src.b[3],
          src.b[2] * (1 + (rng() - 0.5) * j),
          src.b[3] * (1 + (rng() - 0.5) * j),
        ];
      } else {
        cat = kind < 0.8 ? boxes[Math.floor(rng() * boxes.length)].cat : categoryIds[Math.floor(rng() * categoryIds.length)];
        const w = 4 + rng() * width * 0.5;
        const h = 4 + rng() * height * 0.5;
        b = [rng() * (width - w), rng() * (height - h), w, h];
      }
      dt.push({ image_id: imageId, category_id: cat, bbox: b.map((v) => round(v, 0.01)), score: round(0.05 + 0.95 * rng(), 1e-4) });
    }
  }
  return { gt, dt };
}
