/**
 * `metaanchor data ...`: datasets.
 *   data mnist-det --out <dir> [--train N] [--val M] [--size S] [--seed K] [--preset default|shifted] [--dist <json>]
 *   data stats [--data <instances.json> [--images <dir>] | --voc <dir> [--set <name>]] [--split train|val]
 *              [--input-size S] [--min-size S] [--pad square|batch] [--divisor D] [--anchors <spec|spec>]
 *              [--pos-iou 0.5] [--anchor-t 4] [--json] [--html <file>]
 *   data draw  [--data <json> | --voc <dir>] (--index i | --image-id id) --out <png> [--scale f]
 *   data export-voc [--data <json> | --voc <dir>] --out <dir> [--set name] [--jpeg]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { UserError } from '../../util/errors';
import { intOption, numberOption } from '../options';
import { writeFileAtomicSync } from '../../util/atomic';
import { checkReadableDir, checkReadableFile, checkWritableDir, checkWritableFile } from '../../util/files';
import { coverageFigure } from '../../anchors/coverage-figure';
import { anchorSetFromArg } from '../../search/anchor-set';
import { htmlPage } from '../../notebook/page';
import { BOX_DISTRIBUTIONS, BoxDistribution, MnistDetPreset, generateMnistDet, mnistDetConfig } from '../../data/mnist-det';
import { DatasetSpec, InputGeometry, openDataset } from '../../data/open';
import { datasetStats } from '../../data/stats';
import { formatStats } from '../../data/stats-report';
import { boxFigures } from '../../data/stats-figures';
import { drawDatasetImage } from '../../data/draw';
import { writeVoc } from '../../data/voc';

export interface SourceOpts {
  data?: string;
  images?: string;
  voc?: string;
  set?: string;
  split?: string;
  skipInvalidBoxes?: boolean;
}

export function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--data <instances.json>', 'COCO instances json (default: the embedded MNIST-Det, generated on first use)')
    .option('--images <dir>', 'image folder of --data (default: looked for next to the json)')
    .option('--voc <dir>', 'VOCdevkit year folder (Annotations/, JPEGImages/, ImageSets/Main/)')
    .option('--set <name>', 'VOC image set', 'trainval')
    .option('--split <train|val>', 'MNIST-Det split when no --data/--voc is given', 'train')
    .option('--skip-invalid-boxes', 'drop boxes with non-positive size instead of failing');
}

export function specOf(o: SourceOpts): DatasetSpec {
  if (o.split !== 'train' && o.split !== 'val') throw new UserError(`--split must be train or val, got "${o.split}"`);
  return {
    coco: o.data && checkReadableFile(o.data, '--data'),
    images: o.images && checkReadableDir(o.images, '--images'),
    voc: o.voc && checkReadableDir(o.voc, '--voc'),
    vocSet: o.set,
    split: o.split,
    skipInvalidBoxes: o.skipInvalidBoxes,
  };
}

export interface GeometryOpts {
  inputSize?: number;
  minSize?: number;
  pad?: string;
  divisor?: number;
}

export function addGeometryOptions(cmd: Command): Command {
  return cmd
    .option(
      '--input-size <S>',
      "input long side (or square side) in px; default: the dataset's (MNIST-Det) or the paper's 600/1000",
      intOption('--input-size', 16),
    )
    .option('--min-size <S>', 'input short side in px (paper: 600)', intOption('--min-size', 16))
    .option('--pad <mode>', 'square | batch')
    .option('--divisor <D>', 'pad sides to a multiple of D', intOption('--divisor', 1));
}

/** The input geometry boxes are measured in: the dataset's default with the command-line changes. */
export function geometryOf(input: InputGeometry, o: GeometryOpts) {
  const geom: InputGeometry = { ...input };
  if (o.inputSize !== undefined) {
    geom.maxSizePx = o.inputSize;
    if (o.minSize === undefined) delete geom.minSizePx;
  }
  if (o.minSize !== undefined) geom.minSizePx = o.minSize;
  if (o.pad !== undefined) {
    if (o.pad !== 'square' && o.pad !== 'batch') throw new UserError(`--pad must be square or batch, got "${o.pad}"`);
    geom.pad = o.pad;
  }
  if (o.divisor !== undefined) geom.sizeDivisor = o.divisor;
  return { pad: 'square' as const, sizeDivisor: 128, ...geom };
}

/** "input px (...)": how boxes were measured, for printed reports. */
export function geometryNote(full: ReturnType<typeof geometryOf>): string {
  return full.minSizePx !== undefined
    ? `input px (short side ${full.minSizePx}, long side <= ${full.maxSizePx})`
    : `input px (long side ${full.maxSizePx}, ${full.pad === 'square' ? 'square' : 'per-batch'} padding to x${full.sizeDivisor})`;
}

export function register(program: Command): void {
  const data = program.command('data').description('datasets: generate MNIST-Det, box statistics, draw boxes, export to VOC');

  data
    .command('mnist-det')
    .description('generate MNIST-Det (handwritten digits on noisy canvases) as COCO json + PNG files')
    .requiredOption('--out <dir>', 'output folder')
    .option('--train <N>', 'train images', intOption('--train'))
    .option('--val <M>', 'val images', intOption('--val'))
    .option('--size <S>', 'square image side in px', intOption('--size', 32))
    .option('--seed <K>', 'seed (same seed => byte-identical files)', intOption('--seed'))
    .option('--preset <name>', `box distribution: ${Object.keys(BOX_DISTRIBUTIONS).join(' | ')}`, 'default')
    .option('--dist <json>', 'override distribution parameters, e.g. \'{"sizeMedianFrac":0.3,"objectsMax":4}\'')
    .action(async (o: { out: string; train?: number; val?: number; size?: number; seed?: number; preset: string; dist?: string }) => {
      let boxes: Partial<BoxDistribution> | undefined;
      if (o.dist) {
        try {
          boxes = JSON.parse(o.dist) as Partial<BoxDistribution>;
        } catch (err) {
          throw new UserError(`--dist is not valid JSON: ${(err as Error).message}`);
        }
        const known = Object.keys(BOX_DISTRIBUTIONS.default);
        const unknown = Object.keys(boxes).filter((k) => !known.includes(k));
        if (unknown.length) throw new UserError(`--dist: unknown parameter(s) ${unknown.join(', ')}`, `known: ${known.join(', ')}`);
      }
      const cfg = mnistDetConfig({
        preset: o.preset as MnistDetPreset,
        trainImages: o.train,
        valImages: o.val,
        imageSizePx: o.size,
        seed: o.seed,
        boxes,
      });
      const out = checkWritableDir(o.out, '--out');
      const t0 = Date.now();
      const m = await generateMnistDet(out, cfg);
      console.log(
        `MNIST-Det written to ${out} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ` +
          `train ${m.splits.train.images} images / ${m.splits.train.boxes} boxes, val ${m.splits.val.images} images / ${m.splits.val.boxes} boxes ` +
          `(${cfg.imageSizePx} px, preset ${o.preset}, seed ${cfg.seed})`,
      );
    });

  addGeometryOptions(
    addSourceOptions(
      data
        .command('stats')
        .description('box statistics: objects per image, size and ratio quantiles, anchor coverage per Table 1 config, Table 4 dropped fraction'),
    ),
  )
    .option(
      '--anchors <specs>',
      'anchor sets separated by "|": specs or anchor-search result files (search.json, anchors kmeans|evolve --out); default 3x3|5x5|7x7|9x9',
    )
    .option('--pos-iou <iou>', "the matcher's positive IoU threshold for BPR and positives per box", numberOption('--pos-iou'), 0.5)
    .option('--anchor-t <t>', "YOLOv5's anchor_t for the ratio-metric BPR and AAT", numberOption('--anchor-t'), 4)
    .option('--html <file>', 'also write a self-contained HTML page: box histograms and the anchor coverage figure')
    .option('--drop <range>', 'Table 4 range "sqrtMin,sqrtMax,logMin,logMax" in input px (default: paper range scaled to the input)')
    .option('--json', 'print the statistics as JSON')
    .action(async (o: SourceOpts & GeometryOpts & { anchors?: string; drop?: string; json?: boolean; html?: string; posIou: number; anchorT: number }) => {
      const { dataset, input } = await openDataset(specOf(o));
      const anchorConfigs = o.anchors ? o.anchors.split('|').map((s) => anchorSetFromArg(s)) : undefined;
      if (!(o.posIou > 0 && o.posIou <= 1)) throw new UserError(`--pos-iou must be in (0, 1], got ${o.posIou}`, 'the matcher uses 0.5 (or 0.6, Table 2)');
      if (!(o.anchorT > 1)) throw new UserError(`--anchor-t must be > 1, got ${o.anchorT}`, 'YOLOv5 uses 4');
      let dropRange;
      if (o.drop) {
        const v = o.drop.split(',').map(numberOption('--drop'));
        if (v.length !== 4) throw new UserError('--drop needs 4 numbers: sqrtMin,sqrtMax,logMin,logMax');
        dropRange = { sqrtMinPx: v[0], sqrtMaxPx: v[1], logRatioMin: v[2], logRatioMax: v[3] };
      }
      const full = geometryOf(input, o);
      const stats = datasetStats(dataset, { input: full, anchorConfigs, dropRange, coverage: { posIou: o.posIou, anchorT: o.anchorT } });
      if (o.html) {
        const figs = boxFigures(dataset, full);
        const out = path.resolve(o.html);
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(
          out,
          htmlPage(`${dataset.name}: boxes and anchor coverage`, [
            { text: formatStats(stats).split('\n')[0] },
            { figure: figs.size },
            { figure: figs.ratio },
            ...(stats.anchorCoverage ? [{ figure: coverageFigure(stats.anchorCoverage, { title: `${dataset.name}: anchor coverage` }), heightPx: 760 }] : []),
          ]),
        );
      }
      if (o.json) {
        console.log(JSON.stringify(stats, null, 1));
        return;
      }
      console.log(formatStats(stats, geometryNote(full)));
      if (o.html) console.log(`-> ${path.resolve(o.html)}`);
    });

  addSourceOptions(data.command('draw').description('draw an image of a dataset with its ground-truth boxes and labels (PNG)'))
    .option('--index <i>', 'image position in the dataset', intOption('--index'))
    .option('--image-id <id>', 'image id', intOption('--image-id'))
    .requiredOption('--out <png>', 'output PNG')
    .option('--scale <f>', 'enlarge by this factor (e.g. 3 for MNIST-Det)', numberOption('--scale', { positive: true }))
    .action(async (o: SourceOpts & { index?: number; imageId?: number; out: string; scale?: number }) => {
      const out = checkWritableFile(o.out, '--out');
      const { dataset } = await openDataset(specOf(o));
      let index = o.index ?? 0;
      if (o.imageId !== undefined) {
        index = dataset.images.findIndex((im) => im.id === o.imageId);
        if (index < 0) throw new UserError(`no image with id ${o.imageId} in ${dataset.name}`);
      }
      if (index >= dataset.images.length) throw new UserError(`--index ${index} is out of range: ${dataset.name} has ${dataset.images.length} images`);
      const png = await drawDatasetImage(dataset, index, { scale: o.scale });
      writeFileAtomicSync(out, png);
      const im = dataset.images[index];
      console.log(`${o.out}: ${im.fileName} (id ${im.id}) with ${im.classIdx.length} boxes`);
    });

  addSourceOptions(
    data.command('export-voc').description('write a dataset in VOCdevkit layout (Annotations/, JPEGImages/, ImageSets/Main/<set>.txt, classes.txt)'),
  )
    .requiredOption('--out <dir>', 'year folder to write, e.g. out/VOCdevkit/MNISTDET')
    .option('--out-set <name>', 'image set name to write', 'trainval')
    .option('--jpeg', 're-encode non-JPEG images as JPEG (default: copy files as they are, PNG stays PNG)')
    .action(async (o: SourceOpts & { out: string; outSet: string; jpeg?: boolean }) => {
      checkWritableDir(o.out, '--out');
      const { dataset } = await openDataset(specOf(o));
      const dir = await writeVoc(dataset, { outDir: o.out, imageSet: o.outSet, images: o.jpeg ? 'jpeg' : 'copy' });
      console.log(`${dataset.name}: ${dataset.images.length} images written to ${dir} (set ${o.outSet})`);
    });
}
