/**
 * `metaanchor train`, `metaanchor detect`, `metaanchor evaluate`.
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { parseAnchorSpec, ANCHOR_SPEC_HELP, AnchorConfig } from '../../anchors';
import { initBackend } from '../../backend';
import { table4DropRange } from '../../data/stats';
import { DetectionDataset } from '../../data/types';
import { detectDataset } from '../../detect/detect';
import { evaluateCoco, formatCocoSummary } from '../../eval/coco';
import { formatVocReport } from '../../eval/voc';
import { loadVoc } from '../../data/voc';
import { scoreVocTransfer, transferTarget } from '../../transfer/voc-transfer';
import { DatasetSpec, TrainConfig, YOLOV2_TRAIN_OVERRIDES, parseIouPair, trainConfig } from '../../train/config';
import { groundTruthOf, loadDatasetSpec } from '../../train/datasets';
import { LoadedRun, loadRun } from '../../train/run-dir';
import { train } from '../../train/trainer';
import { writeJsonAtomicSync } from '../../util/atomic';
import { greedyAnchorSearch } from '../../search/greedy';
import { SEARCH_FILE, writeSearchResult } from '../../search/result';
import { UserError } from '../../util/errors';

function num(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UserError(`--${name} expects a number, got "${v}"`);
    return n;
  };
}

function datasetFrom(data: string | undefined, images: string | undefined, what: string): DatasetSpec | undefined {
  if (!data && !images) return undefined;
  if (!data || !images) throw new UserError(`${what}: give both the COCO json and the image folder`, 'e.g. --data annotations/instances_train.json --images train/');
  return { kind: 'coco', annotations: path.resolve(data), images: path.resolve(images) };
}

interface TrainOpts {
  preset: string;
  /** 'retinanet' (default) or 'yolov2' (Table 7). */
  detector?: 'retinanet' | 'yolov2';
  method: 'baseline' | 'metaanchor';
  generator: 'independent' | 'dependent';
  anchors?: string;
  iou?: string;
  steps?: number;
  batch?: number;
  lr?: number;
  imageSize?: number;
  seed?: number;
  evalEvery?: number;
  evalImages?: number;
  data?: string;
  images?: string;
  valData?: string;
  valImages?: string;
  dropBoxes?: boolean;
  out: string;
  resume?: boolean;
}

export function trainConfigFromCli(o: TrainOpts): TrainConfig {
  // YOLOv2: the preset plus YOLOV2_TRAIN_OVERRIDES is the base (input size, anchors, schedule).
  const yolo = o.detector === 'yolov2' ? YOLOV2_TRAIN_OVERRIDES[trainConfig(o.preset).preset] : {};
  const base = trainConfig(o.preset, yolo);
  const overrides: Partial<TrainConfig> = { ...yolo, method: o.method, generator: o.generator };
  if (o.anchors) {
    parseAnchorSpec(o.anchors); // validate now, with the spec's own error message
    overrides.anchors = o.anchors;
  }
  if (o.iou) Object.assign(overrides, parseIouPair(o.iou));
  if (o.steps !== undefined) {
    overrides.steps = o.steps;
    // Keep the schedule's shape: warm-up and decay points scale with the step count.
    const f = o.steps / base.steps;
    overrides.lr = {
      ...base.lr,
      warmupSteps: Math.round(base.lr.warmupSteps * Math.min(1, f)),
      decaySteps: base.lr.decaySteps.map((s) => Math.max(1, Math.round(s * f))),
    };
  }
  if (o.batch !== undefined) overrides.batchSize = o.batch;
  if (o.lr !== undefined) overrides.lr = { ...(overrides.lr ?? base.lr), baseLr: o.lr };
  if (o.imageSize !== undefined) overrides.imageSizePx = o.imageSize;
  if (o.seed !== undefined) overrides.seed = o.seed;
  if (o.evalEvery !== undefined) overrides.evalEvery = o.evalEvery;
  if (o.evalImages !== undefined) overrides.evalImages = o.evalImages;
  const tr = datasetFrom(o.data, o.images, 'training data');
  if (tr) {
    overrides.train = tr;
    overrides.val = datasetFrom(o.valData, o.valImages, 'validation data') ?? tr;
  } else {
    const va = datasetFrom(o.valData, o.valImages, 'validation data');
    if (va) overrides.val = va;
  }
  if (o.dropBoxes) overrides.dropBoxes = table4DropRange();
  if (o.detector === 'yolov2') overrides.detector = 'yolov2';
  return trainConfig(o.preset, overrides);
}

/** The anchors to detect with: the training ones by default, any spec for MetaAnchor. */
export function inferenceAnchors(run: LoadedRun, spec: string | undefined): AnchorConfig {
  if (!spec || spec === 'train') return run.trainAnchors;
  if (spec === 'search') {
    const { readSearchResult } = require('../../search/result') as typeof import('../../search/result');
    const { anchors } = readSearchResult(run.dir);
    return { ...anchors, name: `search (${anchors.shapes.length} anchors)` };
  }
  return parseAnchorSpec(spec);
}

async function datasetForRun(run: LoadedRun, data: string | undefined, images: string | undefined): Promise<DetectionDataset> {
  const spec = datasetFrom(data, images, 'data') ?? run.config?.val;
  if (!spec) throw new UserError(`the run ${run.dir} has no config.json to take the validation set from`, 'pass --data <coco json> --images <dir>');
  const ds = await loadDatasetSpec(spec, 'val');
  const want = run.categories.map((c) => c.id).join(',');
  if (ds.categories.map((c) => c.id).join(',') !== want) {
    throw new UserError(`${ds.name} has other categories than the ones the model was trained on`, 'detect on a dataset with the training category list');
  }
  return ds;
}

function inputOf(run: LoadedRun) {
  return { maxSizePx: run.config?.imageSizePx ?? 160, minSizePx: run.config?.minSizePx ?? undefined, pad: 'square' as const, sizeDivisor: 32 };
}

interface DetectCliOptions {
  checkpoint: string;
  data?: string;
  images?: string;
  anchors?: string;
  maxImages?: number;
}

interface VocCliOptions {
  voc?: string;
  imageSet: string;
  leaveOut?: string;
  allPoint?: boolean;
}

/** `evaluate --voc`: the run on a VOCdevkit image set with the VOC metric (Table 5's transfer). */
async function evaluateVocCli(o: DetectCliOptions & VocCliOptions & { json?: boolean }): Promise<void> {
  if (o.data || o.images) throw new UserError('--voc evaluates on a VOC folder; --data / --images name a COCO set', 'give one of them');
  await initBackend();
  const run = loadRun(o.checkpoint);
  const target = loadVoc({ root: o.voc!, imageSet: o.imageSet });
  const leaveOut = (o.leaveOut ?? '').split(',').map((c) => c.trim()).filter(Boolean);
  const anchors = inferenceAnchors(run, o.anchors);
  const t = transferTarget(target, run.detector.config.numClasses, { leaveOut, sourceCategories: run.categories, maxImages: o.maxImages });
  const matches = t.matches ?? [];
  const renamed = matches.filter((m) => m.source !== null && m.source !== m.target);
  const n = t.dataset.images.length;
  const results = await detectDataset(run.detector, t.dataset, { anchors, standardBoxP3: run.standardBoxP3, input: inputOf(run), progressLabel: 'detect' });
  const r = scoreVocTransfer(t, results, o.allPoint ? 'all-point' : 'voc07');
  if (o.json) {
    console.log(JSON.stringify({ anchors: anchors.name, images: n, target: target.name, metric: r.metric, leave_out: leaveOut, mAP: r.mAP, per_class: r.perClass.map((c) => ({ class: c.className, ap: c.ap })), class_map: matches }));
    return;
  }
  console.log(`${run.detector.config.method} ${run.trainAnchors.name} -> inference anchors ${anchors.name}, ${target.name}, ${n} images`);
  if (renamed.length) console.log(`classes matched under other names (detector -> target): ${renamed.map((m) => `${m.source} -> ${m.target}`).join(', ')}`);
  if (leaveOut.length) console.log(`left out of the mean: ${leaveOut.join(', ')}`);
  console.log(formatVocReport(r).join('\n'));
}

/** Shared by `detect` and `evaluate`: load the run, pick data and anchors, detect. */
async function detectForCli(o: DetectCliOptions) {
  await initBackend();
  const run = loadRun(o.checkpoint);
  const ds = await datasetForRun(run, o.data, o.images);
  const anchors = inferenceAnchors(run, o.anchors);
  const results = await detectDataset(run.detector, ds, {
    anchors,
    standardBoxP3: run.standardBoxP3,
    input: inputOf(run),
    maxImages: o.maxImages,
    progressLabel: 'detect',
  });
  return { run, ds, anchors, results, numImages: Math.min(o.maxImages ?? Infinity, ds.images.length) };
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train RetinaNet (baseline) or MetaAnchor; checkpoints, metrics and logs go to --out')
    .addOption(new Option('--preset <p>', 'size and schedule').choices(['smoke', 'quick', 'full', 'paper']).default('quick'))
    .addOption(new Option('--detector <d>', 'detector family (yolov2: Table 7, darknet anchors, 256 px on the CPU presets)').choices(['retinanet', 'yolov2']).default('retinanet'))
    .addOption(new Option('--method <m>', 'anchor functions').choices(['baseline', 'metaanchor']).default('baseline'))
    .addOption(new Option('--generator <g>', 'MetaAnchor generator: Eq. 4 or Eq. 6').choices(['independent', 'dependent']).default('independent'))
    .option('--anchors <spec>', `anchor configuration (default 3x3); ${ANCHOR_SPEC_HELP[0] ?? ''}`)
    .option('--iou <pos/neg>', 'matcher thresholds, e.g. 0.5/0.4 or 0.6/0.5')
    .option('--steps <n>', 'training steps (schedule scales with it)', num('steps'))
    .option('--batch <n>', 'images per step', num('batch'))
    .option('--lr <x>', 'base learning rate', num('lr'))
    .option('--image-size <px>', 'input side in pixels', num('image-size'))
    .option('--seed <n>', 'seed of init, data order, augmentation, jitter', num('seed'))
    .option('--eval-every <n>', 'validate every n steps (0: at the end only)', num('eval-every'))
    .option('--eval-images <n>', 'validation images (0: all)', num('eval-images'))
    .option('--data <json>', 'training COCO instances json (default: MNIST-Det)')
    .option('--images <dir>', 'training image folder')
    .option('--val-data <json>', 'validation COCO instances json (default: the training set\'s val split / itself)')
    .option('--val-images <dir>', 'validation image folder')
    .option('--drop-boxes', "Table 4: boxes with 50 < sqrt(wh) < 100 input px, |ln(w/h)| < 1 (the sizes P4's anchors cover) get no loss")
    .requiredOption('--out <dir>', 'run folder, e.g. runs/baseline-3x3')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .action(async (o: TrainOpts) => {
      const cfg = trainConfigFromCli(o);
      const r = await train(cfg, path.resolve(o.out), { resume: o.resume });
      const last = r.evals[r.evals.length - 1];
      if (last) {
        console.log(formatCocoSummary(last.stats).join('\n'));
      }
      console.log(`run: ${r.dir} (${r.steps} steps, ${r.seconds.toFixed(0)} s this session)`);
    });

  program
    .command('detect')
    .description('run a trained detector over a dataset and write COCO results json')
    .requiredOption('--checkpoint <dir>', 'run folder of `metaanchor train`')
    .option('--data <json>', 'COCO instances json (default: the run\'s validation set)')
    .option('--images <dir>', 'image folder of --data')
    .option('--anchors <spec>', 'MetaAnchor: inference anchors (3x3..9x9, a list, or "search"); default: the training anchors')
    .option('--max-images <n>', 'only the first n images', num('max-images'))
    .requiredOption('--out <file>', 'results json')
    .action(async (o: DetectCliOptions & { out: string }) => {
      const { results, numImages } = await detectForCli(o);
      writeJsonAtomicSync(path.resolve(o.out), results);
      console.log(`${results.length} detections on ${numImages} images -> ${path.resolve(o.out)}`);
    });

  program
    .command('evaluate')
    .description('COCO metrics of a trained detector on its validation set (or --data); with --voc, the VOC metric on a VOCdevkit set (Table 5 transfer)')
    .requiredOption('--checkpoint <dir>', 'run folder of `metaanchor train`')
    .option('--data <json>', 'COCO instances json (default: the run\'s validation set)')
    .option('--images <dir>', 'image folder of --data')
    .option('--voc <dir>', 'evaluate on this VOC year folder (e.g. VOCdevkit/VOC2007) instead; classes match the run\'s by name, COCO names map to VOC names')
    .option('--image-set <name>', 'with --voc: ImageSets/Main/<name>.txt', 'test')
    .option('--leave-out <classes>', 'with --voc: comma-separated classes left out of the mean (Table 5: sofa)')
    .option('--all-point', 'with --voc: all-point AP instead of VOC07 11-point')
    .option('--anchors <spec>', 'MetaAnchor: inference anchors (3x3..9x9, a list, or "search")')
    .option('--max-images <n>', 'only the first n images', num('max-images'))
    .option('--json', 'print JSON')
    .action(async (o: DetectCliOptions & VocCliOptions & { json?: boolean }) => {
      if (o.voc) return evaluateVocCli(o);
      const { run, ds, anchors, results, numImages: n } = await detectForCli(o);
      const r = evaluateCoco(groundTruthOf(ds), results, { imageIds: ds.images.slice(0, n).map((im) => im.id) });
      if (o.json) {
        const perCategory = r.perCategory.map((c) => ({ category_id: c.categoryId, ap: c.ap, ap50: c.ap50, ap75: c.ap75, ar100: c.ar100 }));
        console.log(JSON.stringify({ anchors: anchors.name, images: n, stats: r.stats, per_category: perCategory }));
      } else {
        console.log(`${run.detector.config.method} ${run.trainAnchors.name} -> inference anchors ${anchors.name}, ${n} images`);
        console.log(formatCocoSummary(r.stats).join('\n'));
      }
    });

  program
    .command('search')
    .description('greedy search of inference anchors for a MetaAnchor run (Sec. 4.1.2, Table 8 grid)')
    .requiredOption('--checkpoint <dir>', 'run folder of `metaanchor train --method metaanchor`')
    .option('--steps <n>', 'candidates to try (default: all of the grid: Table 8 161, YOLOv2 460)', num('steps'))
    .option('--subset <n>', 'training images to evaluate on', num('subset'), 200)
    .option('--start <spec>', 'starting anchors (default: the training configuration)')
    .option('--seed <n>', 'seed of the subset and the candidate order', num('seed'), 0)
    .option('--out <file>', `result json (default: <run>/${SEARCH_FILE}, which \`detect --anchors search\` reads)`)
    .action(async (o: { checkpoint: string; steps?: number; subset: number; start?: string; seed: number; out?: string }) => {
      await initBackend();
      const run = loadRun(o.checkpoint);
      if (!run.config) throw new UserError(`${run.dir} has no config.json`, 'search needs the run folder of `metaanchor train`');
      const trainSet = await loadDatasetSpec(run.config.train, 'train');
      const result = await greedyAnchorSearch(run.detector, trainSet, {
        start: o.start ? parseAnchorSpec(o.start) : run.trainAnchors,
        standardBoxP3: run.standardBoxP3,
        steps: o.steps,
        subset: o.subset,
        seed: o.seed,
        input: inputOf(run),
        progressLabel: 'search',
      });
      const out = path.resolve(o.out ?? path.join(run.dir, SEARCH_FILE));
      writeSearchResult(out, result);
      const kept = result.trace.filter((t) => t.kept).length;
      console.log(
        `search: ${result.trace.length} candidates in ${result.seconds.toFixed(1)} s, kept ${kept}; ` +
          `mmAP on ${result.subsetImages} training images ${(100 * result.startMmAP).toFixed(2)} -> ${(100 * result.finalMmAP).toFixed(2)}\n-> ${out}`,
      );
    });
}
