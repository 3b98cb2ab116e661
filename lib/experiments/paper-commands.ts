/**
 * A table at the paper's scale: the `metaanchor` commands that train and evaluate its cells with the
 * "paper" preset (ResNet-50-FPN, 600 px short side, RetinaNet's 1x schedule, COCO 2017;
 * lib/train/config.ts) on a machine with a GPU (tfjs-node-gpu, CUDA 11.2 + cuDNN 8.1). Nothing here
 * runs them: on the 2-core CPU machines one such run would take months. The commands are printed
 * by `metaanchor table <id> --paper-commands` and by the table notebooks.
 *
 * Table 7's cells are YOLOv2 runs: `--detector yolov2` with the paper preset's YOLOv2 overrides
 * (darknet-19, 416 px, yolov2.cfg's schedule; lib/train/config.ts YOLOV2_TRAIN_OVERRIDES.paper).
 *
 * The paper trains Table 8 on COCO trainval35k and tests on minival; COCO 2017's train / val splits
 * are the same images (train2017 = trainval35k, val2017 = minival), so the commands use them.
 */
import { TrainConfig, trainConfig, yoloTrainConfig } from '../train/config';
import { runFolderName } from './key';
import { ExperimentSettings, YOLO_GRID_CANDIDATES } from './settings';
import { TableSpec, cellTrainConfigs } from './tables';

export interface CocoPaths {
  trainJson: string;
  trainImages: string;
  valJson: string;
  valImages: string;
}

/** COCO 2017 where the paper preset expects it (lib/train/config.ts TRAIN_PRESETS.paper). */
export const DEFAULT_COCO: CocoPaths = {
  trainJson: 'data/coco/annotations/instances_train2017.json',
  trainImages: 'data/coco/train2017',
  valJson: 'data/coco/annotations/instances_val2017.json',
  valImages: 'data/coco/val2017',
};

/** Where Table 5's paper-scale commands expect PASCAL VOC 2007 test (the year folder). */
export const VOC2007_TEST = 'data/VOCdevkit/VOC2007';

/**
 * Table settings at the paper's scale: the paper preset, one seed (the paper reports single runs),
 * every validation image, the whole 161-anchor Table 8 grid searched on 200 training images; for
 * Table 7 the YOLOv2 paper preset and the whole 460-anchor YOLOv2 grid.
 */
export function paperSettings(): ExperimentSettings {
  return {
    profile: 'full',
    seeds: [0],
    base: trainConfig('paper'),
    evalImages: 0,
    search: { steps: 161, subset: 200, seed: 0 },
    yolo: { base: yoloTrainConfig('paper'), search: { steps: YOLO_GRID_CANDIDATES, subset: 200, seed: 0 } },
  };
}

/** The `metaanchor train` command of one configuration (paper preset, COCO data options). */
export function trainCommand(cfg: TrainConfig, coco: CocoPaths, runsDir: string): string {
  const args = ['npx metaanchor train', `--preset ${cfg.preset}`];
  if (cfg.detector === 'yolov2') args.push('--detector yolov2');
  args.push(`--method ${cfg.method}`);
  if (cfg.method === 'metaanchor' && cfg.generator !== 'independent') args.push(`--generator ${cfg.generator}`);
  args.push(`--anchors ${cfg.anchors}`);
  // YOLOv2 assigns ground truth by the region layer's rules: no matcher thresholds.
  if (cfg.detector !== 'yolov2') args.push(`--iou ${cfg.posIou}/${cfg.negIou}`);
  if (cfg.dropBoxes) args.push('--drop-boxes');
  args.push(`--data ${coco.trainJson}`, `--images ${coco.trainImages}`, `--val-data ${coco.valJson}`, `--val-images ${coco.valImages}`);
  args.push(`--seed ${cfg.seed}`, `--out ${runDirFor(cfg, runsDir)}`);
  return args.join(' ');
}

function runDirFor(cfg: TrainConfig, runsDir: string): string {
  return `${runsDir}/${runFolderName(cfg)}`;
}

/**
 * Shell lines (comments start with #) that reproduce `table` at the paper's scale: one `train` per
 * distinct configuration, then per cell the `search` and `evaluate` calls. `table` must be built
 * with paperSettings() (tableSpec(id, paperSettings())).
 */
export function paperCommands(table: TableSpec, options: { coco?: CocoPaths; runsDir?: string } = {}): string[] {
  const coco = options.coco ?? DEFAULT_COCO;
  const runsDir = options.runsDir ?? 'runs/paper';
  const search = table.search ?? paperSettings().search;
  const yolo = table.cells.some((c) => cellTrainConfigs(c).some((t) => t.detector === 'yolov2'));
  const lines: string[] = [`# ${table.title} (${table.source}) at the paper's scale: preset paper, COCO 2017, a GPU`];
  if (yolo) {
    lines.push(
      "# YOLOv2 (--detector yolov2): darknet-19 with yolov2.cfg's head, 416 px, batch 64, SGD 0.001, 500200",
      "# steps (decay at 400k, 450k); darknet's 5 COCO anchors; MetaAnchor's standard box (4.18, 4.69) cells.",
      '# The search tries the whole YOLOv2 candidate grid (lib/model/yolo/anchors.ts yoloSearchCandidateShapes).',
    );
  }
  if (table.evaluation?.kind === 'voc-transfer') {
    lines.push(
      '# Table 5 evaluates COCO-trained models on PASCAL VOC 2007 test with the VOC07 metric, sofa left',
      '# out as in the paper (which counts no sofa in COCO; COCO\'s "couch" is matched to it but left out',
      '# to compare). Its models are the Table 2 runs below. VOC 2007 test goes to',
      `# ${VOC2007_TEST} (Annotations, ImageSets/Main/test.txt, JPEGImages). \`evaluate --voc\``,
      "# matches the run's 80 COCO classes to VOC's 20 by name (airplane -> aeroplane, couch -> sofa,",
      '# tv -> tvmonitor, ...; lib/transfer/class-map.ts).',
    );
  }
  const seen = new Set<string>();
  lines.push('# 1. training (one run per configuration)');
  for (const cell of table.cells) {
    for (const cfg of cellTrainConfigs(cell)) {
      const cmd = trainCommand(cfg, coco, runsDir);
      if (seen.has(cmd)) continue;
      seen.add(cmd);
      lines.push(cmd);
    }
  }
  lines.push('# 2. evaluation per cell');
  for (const cell of table.cells) {
    const where = `${cell.row}${cell.group ? ` | ${cell.group}` : ''}`;
    if (cell.select) {
      lines.push(`# [${where}] score every candidate on ${search.subset} training images (--max-images takes the first ones;`);
      lines.push("# the table runner takes the search's seeded subset), keep the best, report its minival mmAP");
      for (const c of cell.select.candidates) {
        lines.push(
          `npx metaanchor evaluate --checkpoint ${runDirFor(c.train, runsDir)} --data ${coco.trainJson} --images ${coco.trainImages} --max-images ${search.subset}  # ${c.label}`,
        );
      }
      continue;
    }
    const dir = runDirFor(cell.train, runsDir);
    lines.push(`# [${where}]`);
    if (table.evaluation?.kind === 'voc-transfer') {
      if (cell.inference === 'search')
        lines.push(`npx metaanchor search --checkpoint ${dir} --steps ${search.steps} --subset ${search.subset} --seed ${search.seed}`);
      const anchors = cell.inference === 'search' ? ' --anchors search' : cell.inference === 'train' ? '' : ` --anchors ${cell.inference}`;
      lines.push(`npx metaanchor evaluate --checkpoint ${dir} --voc ${VOC2007_TEST} --image-set test --leave-out sofa${anchors}`);
    } else if (cell.inference === 'search') {
      lines.push(`npx metaanchor search --checkpoint ${dir} --steps ${search.steps} --subset ${search.subset} --seed ${search.seed}`);
      lines.push(`npx metaanchor evaluate --checkpoint ${dir} --anchors search`);
    } else if (cell.inference === 'train') {
      lines.push(`npx metaanchor evaluate --checkpoint ${dir}`);
    } else {
      lines.push(`npx metaanchor evaluate --checkpoint ${dir} --anchors ${cell.inference}`);
    }
  }
  return lines;
}
