/**
 * `metaanchor train`, `metaanchor detect`, `metaanchor evaluate`, `metaanchor search`.
 *
 * Every count, size and path is checked while the command line is parsed or before the first
 * image is read (lib/cli/options.ts, lib/util/files.ts); outputs are checked writable before the
 * long work that fills them.
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { parseAnchorSpec, ANCHOR_SPEC_HELP, AnchorConfig } from '../../anchors';
import { initBackend } from '../../backend';
import { table4DropRange } from '../../data/box-drop';
import { toCocoJson } from '../../data/coco';
import { drawDetections } from '../../data/draw';
import { DetectionDataset } from '../../data/types';
import { detectDataset } from '../../detect/detect';
import { CocoResult } from '../../detect/postprocess';
import { evaluateCoco, formatCocoSummary } from '../../eval/coco';
import { formatVocReport } from '../../eval/voc';
import { loadVoc } from '../../data/voc';
import { alignTargetClasses, resultsInDataIds } from '../../transfer/class-map';
import { scoreVocTransfer, transferTarget } from '../../transfer/voc-transfer';
import { DatasetSpec, TrainConfig, YOLOV2_TRAIN_OVERRIDES, parseIouPair, trainConfig } from '../../train/config';
import { groundTruthOf, loadDatasetSpec } from '../../train/datasets';
import { LoadedRun, loadRun } from '../../train/run-dir';
import { scaledSchedule } from '../../train/schedule';
import { train } from '../../train/trainer';
import { writeJsonAtomicSync } from '../../util/atomic';
import { greedyAnchorSearch } from '../../search/greedy';
import { SEARCH_FILE, writeSearchResult } from '../../search/result';
import { UserError } from '../../util/errors';
import { checkReadableDir, checkReadableFile, checkWritableDir, checkWritableFile } from '../../util/files';
import { intOption, numberOption } from '../options';

/** A COCO dataset from --data/--images (or --val-data/--val-images); paths as given, resolved. */
function datasetFrom(data: string | undefined, images: string | undefined, flags: [string, string], skipInvalidBoxes?: boolean): DatasetSpec | undefined {
  if (!data && !images) return undefined;
  if (!data || !images)
    throw new UserError(
      `give both ${flags[0]} (COCO json) and ${flags[1]} (image folder)`,
      `e.g. ${flags[0]} annotations/instances_train.json ${flags[1]} train/`,
    );
  return { kind: 'coco', annotations: path.resolve(data), images: path.resolve(images), ...(skipInvalidBoxes ? { skipInvalidBoxes: true } : {}) };
}

/** The data paths of `train` exist and have the right kind (before the backend starts or data loads). */
function checkTrainPaths(o: TrainOpts): void {
  if (o.data) checkReadableFile(o.data, '--data');
  if (o.valData) checkReadableFile(o.valData, '--val-data');
  if (o.images) checkReadableDir(o.images, '--images');
  if (o.valImages) checkReadableDir(o.valImages, '--val-images');
  if (o.voc) checkReadableDir(o.voc, '--voc');
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
  voc?: string;
  set?: string;
  valSet?: string;
  skipInvalidBoxes?: boolean;
  dropBoxes?: boolean;
  out: string;
  resume?: boolean;
}

/** `train --voc <year folder> --set <name> [--val-set <name>]`: both sets of one VOCdevkit year folder. */
function vocSpecs(o: TrainOpts): { train: DatasetSpec; val: DatasetSpec } | undefined {
  if (!o.voc) {
    if (o.set || o.valSet) throw new UserError('--set and --val-set name image sets of a --voc folder', 'add --voc <VOCdevkit year folder>');
    return undefined;
  }
  if (o.data || o.images || o.valData || o.valImages)
    throw new UserError('--voc trains on a VOC folder; --data / --images / --val-data / --val-images name a COCO set', 'give one of them');
  const root = path.resolve(o.voc);
  const skip = o.skipInvalidBoxes ? { skipInvalidBoxes: true } : {};
  const set = o.set ?? 'trainval';
  return { train: { kind: 'voc', root, imageSet: set, ...skip }, val: { kind: 'voc', root, imageSet: o.valSet ?? set, ...skip } };
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
    overrides.lr = scaledSchedule(base, o.steps);
  }
  if (o.batch !== undefined) overrides.batchSize = o.batch;
  if (o.lr !== undefined) overrides.lr = { ...(overrides.lr ?? base.lr), baseLr: o.lr };
  if (o.imageSize !== undefined) overrides.imageSizePx = o.imageSize;
  if (o.seed !== undefined) overrides.seed = o.seed;
  if (o.evalEvery !== undefined) overrides.evalEvery = o.evalEvery;
  if (o.evalImages !== undefined) overrides.evalImages = o.evalImages;
  const voc = vocSpecs(o);
  const tr = datasetFrom(o.data, o.images, ['--data', '--images'], o.skipInvalidBoxes);
  const va = datasetFrom(o.valData, o.valImages, ['--val-data', '--val-images'], o.skipInvalidBoxes);
  if (voc) Object.assign(overrides, voc);
  if (tr) overrides.train = tr;
  if (tr || va) overrides.val = va ?? tr;
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

/**
 * The dataset to detect on, in the model's class order: its classes are matched to the run's by
 * name (never by id or position alone), so a dataset with other classes is an error naming them.
 * `gt` is its ground truth in that order.
 */
interface RunDataset {
  /** The data in the model's category list (category i = model class i). */
  ds: DetectionDataset;
  gt: ReturnType<typeof groundTruthOf>;
  /** Results re-expressed in the data file's own category ids (by name); model classes it lacks are left out. */
  forDataFile: (results: CocoResult[]) => { results: CocoResult[]; absent: Map<string, number> };
}

async function datasetForRun(run: LoadedRun, data: string | undefined, images: string | undefined, skipInvalidBoxes?: boolean): Promise<RunDataset> {
  if (data) checkReadableFile(data, '--data');
  if (images) checkReadableDir(images, '--images');
  const spec = datasetFrom(data, images, ['--data', '--images'], skipInvalidBoxes) ?? run.config?.val;
  if (!spec) throw new UserError(`the run ${run.dir} has no config.json to take the validation set from`, 'pass --data <coco json> --images <dir>');
  const ds = await loadDatasetSpec(spec, 'val');
  const modelNames = run.categories.map((c) => c.name);
  if (ds.categories.map((c) => c.name).join('\n') === modelNames.join('\n')) {
    // Same classes in the same order: class i of the model is category i of the dataset.
    return { ds, gt: groundTruthOf(ds), forDataFile: (results) => ({ results, absent: new Map() }) };
  }
  const aligned = alignTargetClasses(ds, run.categories, [], {
    missingHint: `the model knows ${modelNames.slice(0, 12).join(', ')}${modelNames.length > 12 ? ', ...' : ''}: detect on a dataset of those classes, or train a model on this one`,
  });
  return {
    ds: aligned.dataset,
    gt: toCocoJson(aligned.dataset) as unknown as ReturnType<typeof groundTruthOf>,
    forDataFile: (results) => resultsInDataIds(results, aligned, run.categories, ds.categories),
  };
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
  skipInvalidBoxes?: boolean;
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
  const target = loadVoc({ root: checkReadableDir(o.voc!, '--voc'), imageSet: o.imageSet, skipInvalidBoxes: o.skipInvalidBoxes });
  const leaveOut = (o.leaveOut ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const anchors = inferenceAnchors(run, o.anchors);
  const t = transferTarget(target, run.detector.config.numClasses, { leaveOut, sourceCategories: run.categories, maxImages: o.maxImages });
  const matches = t.matches ?? [];
  const renamed = matches.filter((m) => m.source !== null && m.source !== m.target);
  const n = t.dataset.images.length;
  const results = await detectDataset(run.detector, t.dataset, { anchors, input: inputOf(run), progressLabel: 'detect' });
  const r = scoreVocTransfer(t, results, o.allPoint ? 'all-point' : 'voc07');
  if (o.json) {
    console.log(
      JSON.stringify({
        anchors: anchors.name,
        images: n,
        target: target.name,
        metric: r.metric,
        leave_out: leaveOut,
        mAP: r.mAP,
        classes_without_ground_truth: r.classesWithoutGroundTruth,
        per_class: r.perClass.map((c) => ({ class: c.className, ap: c.ap })),
        class_map: matches,
      }),
    );
    return;
  }
  console.log(`${run.detector.config.method} ${run.trainAnchors.name} -> inference anchors ${anchors.name}, ${target.name}, ${n} images`);
  if (renamed.length) console.log(`classes matched under other names (detector -> target): ${renamed.map((m) => `${m.source} -> ${m.target}`).join(', ')}`);
  if (leaveOut.length) console.log(`left out of the mean: ${leaveOut.join(', ')}`);
  console.log(formatVocReport(r).join('\n'));
}

/** Shared by `detect` and `evaluate`: load the run, pick data and anchors, detect. */
async function detectForCli(o: DetectCliOptions, needBoxes: boolean) {
  await initBackend();
  const run = loadRun(o.checkpoint);
  const { ds, gt, forDataFile } = await datasetForRun(run, o.data, o.images, o.skipInvalidBoxes);
  const n = Math.min(o.maxImages ?? Infinity, ds.images.length);
  if (n === 0) throw new UserError(`${ds.name} has no images`, 'pass a dataset with images (--data, --images)');
  if (needBoxes && !ds.images.slice(0, n).some((im) => im.classIdx.length > 0)) {
    throw new UserError(
      `${ds.name} has no boxes${n < ds.images.length ? ` in its first ${n} images` : ''}: there is nothing to score against`,
      'evaluate on an annotated dataset (--data, --images)',
    );
  }
  const anchors = inferenceAnchors(run, o.anchors);
  const results = await detectDataset(run.detector, ds, {
    anchors,
    input: inputOf(run),
    maxImages: o.maxImages,
    progressLabel: 'detect',
  });
  return { run, ds, gt, anchors, results, numImages: n, forDataFile };
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train RetinaNet (baseline) or MetaAnchor; checkpoints, metrics and logs go to --out')
    .addOption(new Option('--preset <p>', 'size and schedule').choices(['smoke', 'quick', 'full', 'paper']).default('quick'))
    .addOption(
      new Option('--detector <d>', 'detector family (yolov2: Table 7, darknet anchors, 256 px on the CPU presets)')
        .choices(['retinanet', 'yolov2'])
        .default('retinanet'),
    )
    .addOption(new Option('--method <m>', 'anchor functions').choices(['baseline', 'metaanchor']).default('baseline'))
    .addOption(new Option('--generator <g>', 'MetaAnchor generator: Eq. 4 or Eq. 6').choices(['independent', 'dependent']).default('independent'))
    .option('--anchors <spec>', `anchor configuration (default 3x3); ${ANCHOR_SPEC_HELP[0] ?? ''}`)
    .option('--iou <pos/neg>', 'matcher thresholds, e.g. 0.5/0.4 or 0.6/0.5')
    .option('--steps <n>', 'training steps (schedule scales with it)', intOption('--steps', 1))
    .option('--batch <n>', 'images per step', intOption('--batch', 1))
    .option('--lr <x>', 'base learning rate', numberOption('--lr', { positive: true }))
    .option('--image-size <px>', 'input side in pixels', intOption('--image-size', 32))
    .option('--seed <n>', 'seed of init, data order, augmentation, jitter', intOption('--seed'))
    .option('--eval-every <n>', 'validate every n steps (0: at the end only)', intOption('--eval-every'))
    .option('--eval-images <n>', 'validation images (0: all)', intOption('--eval-images'))
    .option('--data <json>', 'training COCO instances json (default: MNIST-Det)')
    .option('--images <dir>', 'training image folder')
    .option('--val-data <json>', "validation COCO instances json (default: the training set's val split / itself)")
    .option('--val-images <dir>', 'validation image folder')
    .option('--voc <dir>', 'train on a VOCdevkit year folder (Annotations/, JPEGImages/, ImageSets/Main/) instead')
    .option('--set <name>', 'with --voc: training image set, ImageSets/Main/<name>.txt (default trainval)')
    .option('--val-set <name>', 'with --voc: validation image set (default: the --set)')
    .option('--skip-invalid-boxes', 'drop boxes with non-positive size instead of failing')
    .option('--drop-boxes', "Table 4: boxes with 50 < sqrt(wh) < 100 input px, |ln(w/h)| < 1 (the sizes P4's anchors cover) get no loss")
    .requiredOption('--out <dir>', 'run folder, e.g. runs/baseline-3x3')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .action(async (o: TrainOpts) => {
      checkTrainPaths(o);
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
    .option('--data <json>', "COCO instances json (default: the run's validation set)")
    .option('--images <dir>', 'image folder of --data')
    .option('--anchors <spec>', 'MetaAnchor: inference anchors (3x3..9x9, a list, or "search"); default: the training anchors')
    .option('--max-images <n>', 'only the first n images', intOption('--max-images', 1))
    .option('--skip-invalid-boxes', 'drop boxes with non-positive size in --data instead of failing')
    .requiredOption('--out <file>', 'results json')
    .option('--draw <dir>', 'also draw each image with its detections into this folder (<image name>.png)')
    .option('--draw-score <x>', 'with --draw: draw detections scoring at least this', numberOption('--draw-score', { min: 0, max: 1 }), 0.3)
    .action(async (o: DetectCliOptions & { out: string; draw?: string; drawScore: number }) => {
      const out = checkWritableFile(o.out, '--out');
      const drawDir = o.draw ? checkWritableDir(o.draw, '--draw') : undefined;
      const { ds, results, numImages, forDataFile } = await detectForCli(o, false);
      // Written for the data file: its own category ids, and only classes it has.
      const { results: written, absent } = forDataFile(results);
      writeJsonAtomicSync(out, written);
      console.log(`${written.length} detections on ${numImages} images -> ${out}`);
      if (absent.size) {
        console.log(`left out: ${[...absent].map(([name, n]) => `${n} of class ${name}`).join(', ')} (classes of the model that ${ds.name} does not have)`);
      }
      if (drawDir) {
        const files = await drawDetections(ds, results, drawDir, { minScore: o.drawScore, maxImages: numImages });
        console.log(`${files.length} images with detections scoring >= ${o.drawScore} -> ${drawDir}`);
      }
    });

  program
    .command('evaluate')
    .description('COCO metrics of a trained detector on its validation set (or --data); with --voc, the VOC metric on a VOCdevkit set (Table 5 transfer)')
    .requiredOption('--checkpoint <dir>', 'run folder of `metaanchor train`')
    .option('--data <json>', "COCO instances json (default: the run's validation set)")
    .option('--images <dir>', 'image folder of --data')
    .option('--voc <dir>', "evaluate on this VOC year folder (e.g. VOCdevkit/VOC2007) instead; classes match the run's by name, COCO names map to VOC names")
    .option('--image-set <name>', 'with --voc: ImageSets/Main/<name>.txt', 'test')
    .option('--leave-out <classes>', 'with --voc: comma-separated classes left out of the mean (Table 5: sofa)')
    .option('--all-point', 'with --voc: all-point AP instead of VOC07 11-point')
    .option('--anchors <spec>', 'MetaAnchor: inference anchors (3x3..9x9, a list, or "search")')
    .option('--max-images <n>', 'only the first n images', intOption('--max-images', 1))
    .option('--skip-invalid-boxes', 'drop boxes with non-positive size in --data / --voc instead of failing')
    .option('--json', 'print JSON')
    .action(async (o: DetectCliOptions & VocCliOptions & { json?: boolean }) => {
      if (o.voc) return evaluateVocCli(o);
      const { run, ds, gt, anchors, results, numImages: n } = await detectForCli(o, true);
      const r = evaluateCoco(gt, results, { imageIds: ds.images.slice(0, n).map((im) => im.id) });
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
    .option('--steps <n>', 'candidates to try (default: all of the grid: Table 8 161, YOLOv2 460)', intOption('--steps', 1))
    .option('--subset <n>', 'training images to evaluate on', intOption('--subset', 1), 200)
    .option('--start <spec>', 'starting anchors (default: the training configuration)')
    .option('--seed <n>', 'seed of the subset and the candidate order', intOption('--seed'), 0)
    .option('--out <file>', `result json (default: <run>/${SEARCH_FILE}, which \`detect --anchors search\` reads)`)
    .action(async (o: { checkpoint: string; steps?: number; subset: number; start?: string; seed: number; out?: string }) => {
      await initBackend();
      const run = loadRun(o.checkpoint);
      if (!run.config) throw new UserError(`${run.dir} has no config.json`, 'search needs the run folder of `metaanchor train`');
      const out = checkWritableFile(o.out ?? path.join(run.dir, SEARCH_FILE), '--out');
      const start = o.start ? parseAnchorSpec(o.start) : run.trainAnchors;
      const trainSet = await loadDatasetSpec(run.config.train, 'train');
      const result = await greedyAnchorSearch(run.detector, trainSet, {
        start,
        steps: o.steps,
        subset: o.subset,
        seed: o.seed,
        input: inputOf(run),
        progressLabel: 'search',
      });
      writeSearchResult(out, result);
      const kept = result.trace.filter((t) => t.kept).length;
      console.log(
        `search: ${result.trace.length} candidates in ${result.seconds.toFixed(1)} s, kept ${kept}; ` +
          `mmAP on ${result.subsetImages} training images ${(100 * result.startMmAP).toFixed(2)} -> ${(100 * result.finalMmAP).toFixed(2)}\n-> ${out}`,
      );
    });
}
