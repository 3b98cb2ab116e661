/**
 * Anchor sets printed in the paper and its references, as data.
 *
 * Shapes are (scale, ratioHW): the anchor at level l with stride s = 2^l has
 * height 4·s·scale·sqrt(ratioHW) and width 4·s·scale/sqrt(ratioHW) (RetinaNet's base size 4·stride).
 * Within a configuration, shapes run scale-major, then ratio — detectron2's
 * `generate_cell_anchors` order (`for size in sizes: for aspect_ratio in aspect_ratios`), which is
 * also the order of the anchor index a in the head outputs.
 */
import type { AnchorShape } from './config';

export type TableOneName = '3x3' | '5x5' | '7x7' | '9x9';
export const TABLE1_NAMES: readonly TableOneName[] = ['3x3', '5x5', '7x7', '9x9'];

export interface TableOneRow {
  /** n: scales are 2^(k/n), k = 0..n-1. */
  numScales: number;
  /** Height / width. */
  ratiosHW: readonly number[];
  /** (AH, AW) of P3 in pixels, as printed in Table 1. */
  standardBoxP3: { heightPx: number; widthPx: number };
}

/**
 * Table 1 (paper Sec. 4, `table1_anchor_configs` in tables.json). The 3x3 row is RetinaNet's own
 * configuration. The printed standard boxes are "the average of all the anchor box sizes" of P3;
 * the plain mean of heights (= widths, the ratio sets being symmetric) gives 42.7, 46.8, 49.8, 52.4,
 * close to but not equal to the printed values (the authors' anchors were presumably rounded as in
 * Detectron), so the printed values are used: they define b (Eq. 7) for models trained with them.
 */
export const TABLE1: Readonly<Record<TableOneName, TableOneRow>> = {
  '3x3': { numScales: 3, ratiosHW: [1 / 2, 1, 2], standardBoxP3: { heightPx: 44, widthPx: 44 } },
  '5x5': { numScales: 5, ratiosHW: [1 / 3, 1 / 2, 1, 2, 3], standardBoxP3: { heightPx: 45, widthPx: 47 } },
  '7x7': {
    numScales: 7,
    ratiosHW: [1 / 4, 1 / 3, 1 / 2, 1, 2, 3, 4],
    standardBoxP3: { heightPx: 48, widthPx: 50 },
  },
  '9x9': {
    numScales: 9,
    ratiosHW: [1 / 5, 1 / 4, 1 / 3, 1 / 2, 1, 2, 3, 4, 5],
    standardBoxP3: { heightPx: 53, widthPx: 53 },
  },
};

/** Scales 2^(k/n), k = 0..n-1 crossed with `ratiosHW`, scale-major. */
export function scaleRatioProduct(scales: readonly number[], ratiosHW: readonly number[]): AnchorShape[] {
  const shapes: AnchorShape[] = [];
  for (const scale of scales) for (const ratioHW of ratiosHW) shapes.push({ scale, ratioHW });
  return shapes;
}

export function tableOneShapes(name: TableOneName): AnchorShape[] {
  const row = TABLE1[name];
  const scales = Array.from({ length: row.numScales }, (_, k) => Math.pow(2, k / row.numScales));
  return scaleRatioProduct(scales, row.ratiosHW);
}

/** Figure 2: single customised anchors (scale 2^0, ratio 1/3, 1/2, 1, 2, 3), one picture each. */
export const FIGURE2_SHAPES: readonly AnchorShape[] = [
  { scale: 1, ratioHW: 1 / 3 },
  { scale: 1, ratioHW: 1 / 2 },
  { scale: 1, ratioHW: 1 },
  { scale: 1, ratioHW: 2 },
  { scale: 1, ratioHW: 3 },
];

/**
 * Table 8 / Sec. 4.2 greedy-search candidates: scales {2^(k/5) | -2 < k < 6} (k = -1..5, 7 scales) and
 * ratios {1/3, 1/t, 1, t, 3 | t = 1.1, 1.2, ..., 2.0} (23 ratios, ascending), 161 shapes, scale-major.
 * t is built as (10 + i) / 10 so that 1.1..2.0 are the exact decimals, not accumulated sums.
 */
export function table8CandidateShapes(): AnchorShape[] {
  const scales: number[] = [];
  for (let k = -1; k <= 5; k++) scales.push(Math.pow(2, k / 5));
  return scaleRatioProduct(scales, table8Ratios());
}

/** Table 8's 23 ratios h/w, ascending: 1/3, 1/2.0 .. 1/1.1, 1, 1.1 .. 2.0, 3 (shared by the YOLOv2 search grid). */
export function table8Ratios(): number[] {
  const ts = Array.from({ length: 10 }, (_, i) => (11 + i) / 10);
  const ratios = [
    1 / 3,
    ...ts
      .slice()
      .reverse()
      .map((t) => 1 / t),
    1,
    ...ts,
    3,
  ];
  return ratios;
}

/**
 * YOLOv2 (Table 7): the region-layer anchors of darknet's COCO model (cfg/yolov2.cfg, formerly
 * yolo.cfg), as (width, height) in grid cells (stride 32), in cfg order — darknet reads `biases[2n]`
 * as width and `biases[2n+1]` as height.
 */
export const YOLOV2_COCO_ANCHORS_CELLS: readonly { widthCells: number; heightCells: number }[] = [
  { widthCells: 0.57273, heightCells: 0.677385 },
  { widthCells: 1.87446, heightCells: 2.06253 },
  { widthCells: 3.33843, heightCells: 5.47434 },
  { widthCells: 7.88282, heightCells: 3.52778 },
  { widthCells: 9.77052, heightCells: 9.16828 },
];

/**
 * MetaAnchor's standard box for YOLOv2, (AH, AW) = (4.18, 4.69) grid cells (Sec. 4.2): the mean height
 * and mean width of the five anchors above (4.1821, 4.6878).
 */
export const YOLOV2_STANDARD_BOX_CELLS = { heightCells: 4.18, widthCells: 4.69 } as const;
