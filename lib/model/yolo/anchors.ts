/**
 * YOLOv2 anchors in grid cells, from the project's anchor configurations (lib/anchors), and the
 * greedy-search candidate grid of the YOLO port.
 *
 * A shape (scale, ratioHW) is read at stride 32 (lib/anchors/config.ts yoloV2Config): an anchor
 * of w x h cells has scale sqrt(w h) / 4 and ratioHW h / w. Standard boxes are stored at P3, 8 px
 * per cell, so `configB` (Eq. 7) yields b = (log(h / AH), log(w / AW)) with (AH, AW) in cells.
 */
import { AnchorConfig, AnchorShape, StandardBox, YOLO_GRID_STRIDE, anchorSizePx, scaleRatioProduct } from '../../anchors';
import { YOLOV2_STANDARD_BOX_CELLS, table8Ratios } from '../../anchors/presets';

/** Pixels at P3 per YOLO cell (standard boxes are stored at P3). */
const P3_PX_PER_CELL = YOLO_GRID_STRIDE / 4;

/** Anchors of a configuration as darknet's `biases`: [w0, h0, w1, h1, ...] in cells. */
export function anchorCellsOf(config: Pick<AnchorConfig, 'shapes'>): Float32Array {
  const out = new Float32Array(2 * config.shapes.length);
  config.shapes.forEach((s, i) => {
    const px = anchorSizePx(s, YOLO_GRID_STRIDE);
    out[2 * i] = px.widthPx / YOLO_GRID_STRIDE;
    out[2 * i + 1] = px.heightPx / YOLO_GRID_STRIDE;
  });
  return out;
}

/** The standard box (AH, AW) in cells of a P3 standard box. */
export function standardBoxCells(standardBoxP3: StandardBox): { heightCells: number; widthCells: number } {
  return { heightCells: standardBoxP3.heightPx / P3_PX_PER_CELL, widthCells: standardBoxP3.widthPx / P3_PX_PER_CELL };
}

/**
 * Anchors [w, h, ...] in cells denoted by Eq. 7 codes b ([bh, bw] rows): h = AH exp(bh), w = AW exp(bw).
 * The jittered training anchors of MetaAnchor come from here, so targets use exactly the b the
 * generator sees.
 */
export function anchorCellsFromB(b: Float32Array, standardBoxP3: StandardBox): Float32Array {
  const std = standardBoxCells(standardBoxP3);
  const out = new Float32Array(b.length);
  for (let i = 0; i < b.length / 2; i++) {
    out[2 * i] = std.widthCells * Math.exp(b[2 * i + 1]);
    out[2 * i + 1] = std.heightCells * Math.exp(b[2 * i]);
  }
  return out;
}

/** The shape of an anchor of w x h cells (inverse of `anchorCellsOf`). */
export function shapeFromCells(widthCells: number, heightCells: number): AnchorShape {
  return { scale: Math.sqrt(widthCells * heightCells) / 4, ratioHW: heightCells / widthCells };
}

/**
 * Greedy-search candidates for YOLOv2 (Table 8's idea on YOLO's one grid): Table 8 takes scales
 * 2^(k/5), -2 < k < 6, around RetinaNet's anchors of each FPN level (one octave per level, five
 * levels) and ratios {1/3, 1/t, 1, t, 3 | t = 1.1..2.0}. YOLO has one level that must cover every
 * object size, so the scale ladder keeps Table 8's step 2^(1/5) and spans the sizes darknet's
 * COCO anchors span, centred on the standard box: sqrt(w h) = sqrt(AH AW) 2^(k/5) cells with
 * k = -14..5 (0.63 to 8.9 cells for (4.18, 4.69); darknet's anchors: 0.62 to 9.5), and the same 23
 * ratios: 20 x 23 = 460 shapes, scale-major.
 */
export function yoloSearchCandidateShapes(std: { heightCells: number; widthCells: number } = YOLOV2_STANDARD_BOX_CELLS): AnchorShape[] {
  const side = Math.sqrt(std.heightCells * std.widthCells);
  const scales: number[] = [];
  for (let k = -14; k <= 5; k++) scales.push((side * Math.pow(2, k / 5)) / 4);
  return scaleRatioProduct(scales, table8Ratios());
}
