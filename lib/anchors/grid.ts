/**
 * The dense anchor grid of a RetinaNet-style detector.
 *
 * ORDER (the contract with the head outputs): level-major (P3 first), then row y, then column x, then
 * anchor index a — exactly the order of a head output [N, H, W, A*K] reshaped to [N, H*W*A, K] and
 * concatenated over levels, as detectron2's `permute_to_N_HWA_K` + `cat`. So anchor
 * ((y * W + x) * A + a) + levelStart[l] belongs to output row with the same index.
 *
 * Anchor centres sit at ((x + offset)·stride, (y + offset)·stride). detectron2 uses offset 0.0 and
 * torchvision 0 (centres on the top-left corner of each cell), which suits PyTorch convs with
 * symmetric padding. Here the default is 0.5, the centre of the cell, for two reasons: (1) the grid
 * is then symmetric about the image centre, which matters at our small image sizes (a 256 px image
 * has 2x2 cells at P7; with offset 0 its anchors are centred at 0 and 128 px and none at 192);
 * (2) tfjs 'same' padding pads bottom/right, which moves a stride-s cell's receptive-field centre to
 * about (x + 1)·s, further from offset 0 than from 0.5. The regression branch absorbs any constant
 * shift either way; pass `offset: 0` to reproduce detectron2 exactly.
 *
 * Anchors are not clipped to the image (RetinaNet keeps border-crossing anchors).
 */
import { AnchorConfig, AnchorSizePx, configSizesPx } from './config';

/** FPN levels of RetinaNet: P3..P7. */
export const FPN_LEVELS: readonly number[] = [3, 4, 5, 6, 7];

export const DEFAULT_ANCHOR_OFFSET = 0.5;

export interface LevelShape {
  /** FPN level l (optional for callers that only know strides). */
  level?: number;
  /** 2^l input pixels per feature cell. */
  stride: number;
  heightCells: number;
  widthCells: number;
}

export interface GridOptions {
  /** Anchor centre within its cell, in cells; default 0.5 (see header). */
  offset?: number;
}

export function strideOfLevel(level: number): number {
  return Math.pow(2, level);
}

/**
 * Feature-map sizes of the FPN levels for an input image: ceil(size / stride). Stride-2 convs give
 * ceil(n / 2) both with tf 'same' padding and with PyTorch's kernel-3 padding-1, and
 * ceil(ceil(n / a) / b) = ceil(n / ab), so this holds through the whole backbone.
 */
export function featureLevels(imageHeightPx: number, imageWidthPx: number, levels: readonly number[] = FPN_LEVELS): LevelShape[] {
  if (!(imageHeightPx > 0 && imageWidthPx > 0)) {
    throw new RangeError(`featureLevels: image size ${imageHeightPx}x${imageWidthPx} must be positive`);
  }
  return levels.map((level) => {
    const stride = strideOfLevel(level);
    return {
      level,
      stride,
      heightCells: Math.ceil(imageHeightPx / stride),
      widthCells: Math.ceil(imageWidthPx / stride),
    };
  });
}

/** Index of the first anchor of every level, plus the total at the end (length L + 1). */
export function levelStarts(levels: readonly LevelShape[], anchorsPerCell: readonly number[] | number): Int32Array {
  const starts = new Int32Array(levels.length + 1);
  for (let l = 0; l < levels.length; l++) {
    const a = typeof anchorsPerCell === 'number' ? anchorsPerCell : anchorsPerCell[l];
    starts[l + 1] = starts[l] + levels[l].heightCells * levels[l].widthCells * a;
  }
  return starts;
}

/**
 * All anchors (Float32Array, 4 per anchor, (x1, y1, x2, y2) px) in the ORDER above.
 * `sizesPerLevel[l]` lists the A_l anchor sizes of level l in anchor-index order.
 */
export function anchorGrid(levels: readonly LevelShape[], sizesPerLevel: readonly (readonly AnchorSizePx[])[], opts: GridOptions = {}): Float32Array {
  if (sizesPerLevel.length !== levels.length) {
    throw new RangeError(`anchorGrid: ${levels.length} levels but ${sizesPerLevel.length} size lists`);
  }
  const offset = opts.offset ?? DEFAULT_ANCHOR_OFFSET;
  const starts = levelStarts(
    levels,
    sizesPerLevel.map((s) => s.length),
  );
  const out = new Float32Array(4 * starts[levels.length]);
  let k = 0;
  for (let l = 0; l < levels.length; l++) {
    const { stride, heightCells, widthCells } = levels[l];
    const sizes = sizesPerLevel[l];
    for (let y = 0; y < heightCells; y++) {
      const cy = (y + offset) * stride;
      for (let x = 0; x < widthCells; x++) {
        const cx = (x + offset) * stride;
        for (let a = 0; a < sizes.length; a++) {
          const halfW = 0.5 * sizes[a].widthPx;
          const halfH = 0.5 * sizes[a].heightPx;
          out[k++] = cx - halfW;
          out[k++] = cy - halfH;
          out[k++] = cx + halfW;
          out[k++] = cy + halfH;
        }
      }
    }
  }
  return out;
}

/** Sizes of every shape of `config` at every level, for `anchorGrid`. */
export function configSizesPerLevel(config: AnchorConfig, levels: readonly LevelShape[]): AnchorSizePx[][] {
  return levels.map((lv) => configSizesPx(config, lv.stride));
}

export interface ConfigAnchors {
  anchors: Float32Array;
  levels: LevelShape[];
  /** First anchor index of each level, total at the end. */
  starts: Int32Array;
}

/** The predefined (baseline) anchors of `config` for an input image. */
export function anchorsForConfig(
  config: AnchorConfig,
  imageHeightPx: number,
  imageWidthPx: number,
  opts: GridOptions & { levels?: readonly number[] } = {},
): ConfigAnchors {
  const levels = featureLevels(imageHeightPx, imageWidthPx, opts.levels ?? FPN_LEVELS);
  const anchors = anchorGrid(levels, configSizesPerLevel(config, levels), opts);
  return { anchors, levels, starts: levelStarts(levels, config.shapes.length) };
}
