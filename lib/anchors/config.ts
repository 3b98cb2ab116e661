/**
 * Anchor configurations: which anchor shapes sit at every position of every FPN level.
 *
 * A shape is (scale, ratioHW) relative to RetinaNet's base anchor of side 4·stride, so one shape gives
 * one anchor per level, doubling in size from level to level. At stride s:
 *   heightPx = 4·s·scale·sqrt(ratioHW),  widthPx = 4·s·scale/sqrt(ratioHW)
 * (detectron2 `generate_cell_anchors`: area (4·s·scale)^2 kept, h/w = ratio; no rounding).
 *
 * `standardBoxP3` is MetaAnchor's (AH, AW) of level P3 (Eq. 7, Table 1). It is a property of the
 * *training* configuration: a model trained with it must encode any inference anchors with the same
 * standard box (Sec. 4.1.2), so inference code takes the model's standard box, not the inference
 * configuration's.
 */
import { UserError } from '../util/errors';
import {
  FIGURE2_SHAPES,
  TABLE1,
  TABLE1_NAMES,
  TableOneName,
  YOLOV2_COCO_ANCHORS_CELLS,
  YOLOV2_STANDARD_BOX_CELLS,
  table8CandidateShapes,
  tableOneShapes,
} from './presets';

export interface AnchorShape {
  /** Multiplies RetinaNet's base size 4·stride. */
  scale: number;
  /** Height / width. */
  ratioHW: number;
}

export interface StandardBox {
  heightPx: number;
  widthPx: number;
}

export interface AnchorConfig {
  name: string;
  shapes: AnchorShape[];
  /** MetaAnchor (AH_3, AW_3) in pixels. */
  standardBoxP3: StandardBox;
}

export interface AnchorSizePx {
  heightPx: number;
  widthPx: number;
}

/** RetinaNet's base anchor side at a stride: 4·stride (32 px at P3). */
export function baseSizePx(stride: number): number {
  return 4 * stride;
}

export function anchorSizePx(shape: AnchorShape, stride: number): AnchorSizePx {
  const side = baseSizePx(stride) * shape.scale;
  const sqrtRatio = Math.sqrt(shape.ratioHW);
  return { heightPx: side * sqrtRatio, widthPx: side / sqrtRatio };
}

/** Inverse of `anchorSizePx`: the shape with this pixel size at `stride`. */
export function shapeFromSizePx(heightPx: number, widthPx: number, stride: number): AnchorShape {
  return { scale: Math.sqrt(heightPx * widthPx) / baseSizePx(stride), ratioHW: heightPx / widthPx };
}

/** Anchor sizes of every shape at one stride, in shape order. */
export function configSizesPx(config: AnchorConfig, stride: number): AnchorSizePx[] {
  return config.shapes.map((s) => anchorSizePx(s, stride));
}

/**
 * The paper's standard box for a shape list: "the average of all the anchor box sizes" at P3
 * (Sec. 3.2), taken as the mean height and the mean width.
 */
export function meanStandardBoxP3(shapes: readonly AnchorShape[]): StandardBox {
  if (shapes.length === 0) throw new UserError('an anchor configuration needs at least one shape');
  let h = 0;
  let w = 0;
  for (const s of shapes) {
    const size = anchorSizePx(s, 8);
    h += size.heightPx;
    w += size.widthPx;
  }
  return { heightPx: h / shapes.length, widthPx: w / shapes.length };
}

export function tableOneConfig(name: TableOneName): AnchorConfig {
  const row = TABLE1[name];
  if (!row) {
    throw new UserError(`unknown Table 1 configuration "${name}"`, `use one of ${TABLE1_NAMES.join(', ')}`);
  }
  return { name, shapes: tableOneShapes(name), standardBoxP3: { ...row.standardBoxP3 } };
}

/** Figure 2's five single anchors; standard box = their mean size. */
export function figureTwoConfig(): AnchorConfig {
  const shapes = FIGURE2_SHAPES.map((s) => ({ ...s }));
  return { name: 'fig2', shapes, standardBoxP3: meanStandardBoxP3(shapes) };
}

/** Table 8's 161 greedy-search candidates as one configuration; standard box = their mean size. */
export function table8CandidateConfig(): AnchorConfig {
  const shapes = table8CandidateShapes();
  return { name: 'table8', shapes, standardBoxP3: meanStandardBoxP3(shapes) };
}

/** Stride of YOLOv2's single region grid (five 2x2 max-pools). */
export const YOLO_GRID_STRIDE = 32;

/**
 * YOLOv2's anchors as an anchor configuration (Table 7). YOLO sizes are in cells of its stride-32
 * grid, and a shape is read at stride 32, so h cells = anchorSizePx(shape, 32).heightPx / 32
 * (scale = sqrt(h w) / 4, ratioHW = h / w). The standard box (4.18, 4.69) cells is stored at P3
 * like every standard box (x 32 / 4 = 8 px per cell), so that Eq. 7 through `configB` gives
 * exactly YOLO's b = (log(h / 4.18), log(w / 4.69)) (lib/anchors/metaanchor.ts encodeBCells).
 */
export function yoloV2Config(): AnchorConfig {
  const shapes = YOLOV2_COCO_ANCHORS_CELLS.map((a) => shapeFromSizePx(a.heightCells * YOLO_GRID_STRIDE, a.widthCells * YOLO_GRID_STRIDE, YOLO_GRID_STRIDE));
  const pxPerCellP3 = YOLO_GRID_STRIDE / 4;
  return {
    name: 'yolov2',
    shapes,
    standardBoxP3: { heightPx: YOLOV2_STANDARD_BOX_CELLS.heightCells * pxPerCellP3, widthPx: YOLOV2_STANDARD_BOX_CELLS.widthCells * pxPerCellP3 },
  };
}

// ---------------------------------------------------------------------------------------------
// Anchor specs: a readable one-line syntax for CLI flags, configs and result-cache keys.

export const ANCHOR_SPEC_HELP = [
  'An anchor spec is a list of items separated by ";" (spaces are ignored):',
  '  3x3 | 5x5 | 7x7 | 9x9   a Table 1 configuration (RetinaNet is 3x3)',
  "  fig2                    Figure 2's five anchors (scale 1, ratios 1/3, 1/2, 1, 2, 3)",
  "  table8                  Table 8's 161 greedy-search candidates",
  "  yolov2                  darknet's 5 COCO anchors (YOLOv2, Table 7; shapes read at stride 32)",
  '  s:<scale>,r:<ratio>     one shape: scale times 4*stride, ratio = height/width',
  '  h:<px>,w:<px>           one shape by its height and width at P3 (stride 8)',
  '  std:<AH>x<AW>           MetaAnchor standard box of P3 in pixels',
  'Numbers may be decimals, fractions or powers of two: 0.5, 1/3, 2^(1/3), 2^0.5.',
  'Without std, a single Table 1 name keeps its printed standard box; anything else uses the mean',
  'anchor height and width at P3 (paper Sec. 3.2).',
  'Examples: "5x5", "s:1,r:1/2; s:2^(1/3),r:1; s:2^(2/3),r:2", "h:32,w:96; h:64,w:64; std:48x60",',
  '"3x3; s:1,r:5".',
].join('\n');

const SPEC_EXAMPLES = 'e.g. "5x5", "s:1,r:0.5; s:2^(1/3),r:1", "h:32,w:96; h:64,w:64", "3x3; std:44x44"';

function specError(spec: string, what: string): UserError {
  return new UserError(`bad anchor spec "${spec}": ${what}`, `${SPEC_EXAMPLES}; see ANCHOR_SPEC_HELP`);
}

const DECIMAL = '[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?';
const NUMBER_RE = new RegExp(`^(?:(${DECIMAL})\\^\\((${DECIMAL})/(${DECIMAL})\\)|(${DECIMAL})\\^(${DECIMAL})|(${DECIMAL})/(${DECIMAL})|(${DECIMAL}))$`);

/** "0.5", "1/3", "2^(1/3)", "2^0.5" -> number; NaN when the text is not one of those forms. */
export function parseSpecNumber(text: string): number {
  const m = NUMBER_RE.exec(text);
  if (!m) return NaN;
  if (m[1] !== undefined) return Math.pow(Number(m[1]), Number(m[2]) / Number(m[3]));
  if (m[4] !== undefined) return Math.pow(Number(m[4]), Number(m[5]));
  if (m[6] !== undefined) return Number(m[6]) / Number(m[7]);
  return Number(m[8]);
}

const PRESETS: Record<string, () => AnchorConfig> = {
  '3x3': () => tableOneConfig('3x3'),
  '5x5': () => tableOneConfig('5x5'),
  '7x7': () => tableOneConfig('7x7'),
  '9x9': () => tableOneConfig('9x9'),
  fig2: figureTwoConfig,
  table8: table8CandidateConfig,
  yolov2: yoloV2Config,
};

const KEY_ALIASES: Record<string, string> = {
  s: 's',
  scale: 's',
  r: 'r',
  ratio: 'r',
  h: 'h',
  height: 'h',
  w: 'w',
  width: 'w',
  std: 'std',
};

function positive(spec: string, item: string, key: string, text: string): number {
  const v = parseSpecNumber(text);
  if (!(v > 0) || !Number.isFinite(v)) {
    throw specError(spec, `"${key}:${text}" in "${item}" must be a positive number (0.5, 1/3, 2^(1/3))`);
  }
  return v;
}

function sameShape(a: AnchorShape, b: AnchorShape): boolean {
  const close = (x: number, y: number) => Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
  return close(a.scale, b.scale) && close(a.ratioHW, b.ratioHW);
}

/** Parse an anchor spec (see ANCHOR_SPEC_HELP). Throws a UserError naming the bad item. */
export function parseAnchorSpec(spec: string): AnchorConfig {
  if (typeof spec !== 'string' || spec.replace(/\s+/g, '') === '') throw specError(String(spec), 'it is empty');
  const items = spec
    .replace(/\s+/g, '')
    .split(';')
    .filter((s) => s !== '');
  const shapes: AnchorShape[] = [];
  const origin: string[] = [];
  const presets: AnchorConfig[] = [];
  let standard: StandardBox | undefined;

  for (const item of items) {
    const preset = PRESETS[item.toLowerCase()];
    if (preset) {
      const cfg = preset();
      presets.push(cfg);
      for (const s of cfg.shapes) {
        shapes.push(s);
        origin.push(item);
      }
      continue;
    }
    if (/^\d+x\d+$/i.test(item)) {
      throw specError(spec, `"${item}" is not a Table 1 configuration; use 3x3, 5x5, 7x7 or 9x9`);
    }
    const fields = new Map<string, string>();
    for (const part of item.split(',')) {
      const colon = part.indexOf(':');
      if (colon <= 0) throw specError(spec, `"${part}" in "${item}" is not key:value`);
      const key = KEY_ALIASES[part.slice(0, colon).toLowerCase()];
      if (!key) throw specError(spec, `unknown key "${part.slice(0, colon)}" in "${item}" (keys: s, r, h, w, std)`);
      if (fields.has(key)) throw specError(spec, `key "${key}" given twice in "${item}"`);
      fields.set(key, part.slice(colon + 1));
    }
    const keys = [...fields.keys()].sort().join(',');
    if (keys === 'std') {
      if (standard) throw specError(spec, 'std is given twice');
      const m = /^([^x]+)x([^x]+)$/i.exec(fields.get('std')!);
      if (!m) throw specError(spec, `"${item}" must read std:<AH>x<AW>, e.g. std:45x47`);
      standard = { heightPx: positive(spec, item, 'AH', m[1]), widthPx: positive(spec, item, 'AW', m[2]) };
    } else if (keys === 'r,s') {
      shapes.push({ scale: positive(spec, item, 's', fields.get('s')!), ratioHW: positive(spec, item, 'r', fields.get('r')!) });
      origin.push(item);
    } else if (keys === 'h,w') {
      const h = positive(spec, item, 'h', fields.get('h')!);
      const w = positive(spec, item, 'w', fields.get('w')!);
      shapes.push(shapeFromSizePx(h, w, 8));
      origin.push(item);
    } else {
      throw specError(spec, `"${item}" must give either s and r, or h and w, or std alone`);
    }
  }

  if (shapes.length === 0) throw specError(spec, 'it has no anchor shapes (a std item alone is not a configuration)');
  for (let i = 0; i < shapes.length; i++) {
    for (let j = 0; j < i; j++) {
      if (sameShape(shapes[i], shapes[j])) {
        throw specError(spec, `"${origin[i]}" repeats the shape of "${origin[j]}" (scale ${shapes[j].scale}, ratio ${shapes[j].ratioHW})`);
      }
    }
  }
  const single = presets.length === 1 && presets[0].shapes.length === shapes.length;
  const standardBoxP3 = standard ?? (single ? presets[0].standardBoxP3 : meanStandardBoxP3(shapes));
  const name = single && !standard ? presets[0].name : items.join(';');
  return { name, shapes, standardBoxP3 };
}

/**
 * An anchor spec for reading, not parsing: numbers to 3 significant digits and a space after each
 * ";" ("s:1.26,r:0.5; s:1,r:2; std:33.4x37.5" instead of 1.2599210498948732). Table cells use it.
 */
export function readableAnchorSpec(spec: string): string {
  return spec
    .replace(/-?\d+\.\d+(?:e[-+]?\d+)?/gi, (m) => String(Number(Number(m).toPrecision(3))))
    .split(';')
    .map((item) => item.trim())
    .join('; ');
}

/**
 * A spec that `parseAnchorSpec` turns back into exactly this configuration (shapes and standard box;
 * numbers are printed with full precision).
 */
export function formatAnchorSpec(config: AnchorConfig): string {
  const items = config.shapes.map((s) => `s:${s.scale},r:${s.ratioHW}`);
  items.push(`std:${config.standardBoxP3.heightPx}x${config.standardBoxP3.widthPx}`);
  return items.join(';');
}
