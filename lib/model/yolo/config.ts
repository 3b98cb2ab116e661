/**
 * YOLOv2 (paper Table 7): the network sizes per preset and the region layer's settings, every
 * default in one place. Reference: darknet's cfg/yolov2.cfg (COCO) and src/region_layer.c
 * (Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", 2017).
 *
 * Network (yolov2.cfg): darknet-19's 18 convs in six stages separated by 2x2 max-pools (3x3 convs,
 * 1x1 bottlenecks of half width between them), two 3x3 head convs, the passthrough (route to the
 * last 26x26 conv, 1x1 conv to 64 channels, reorg = space-to-depth by 2, concatenated before the
 * 13x13 head), one more 3x3 conv and the region conv (1x1, A*(5+K) outputs). Every conv but the
 * last is conv + norm + leaky ReLU 0.1.
 *
 * Normalisation: darknet trains batch norm with batch statistics starting from ImageNet
 * weights. The project has no darknet ImageNet weights and trains from scratch with a few images
 * per step, so the YOLO nets use GroupNorm like the project's other from-scratch backbones
 * (lib/model/backbones/small.ts explains why); `backboneNorm: 'none'` gives conv + bias.
 */
import { UserError } from '../../util/errors';

export interface YoloNetConfig {
  /** Channels of the six stages (strides 1, 2, 4, 8, 16, 32 before each stage's max-pool). */
  widths: number[];
  /**
   * Convs per stage, odd: 1 = one 3x3 conv; 3 = 3x3, 1x1 (half width), 3x3; 5 = two more of the
   * 1x1/3x3 pair (darknet-19: 1, 1, 3, 3, 5, 5).
   */
  depths: number[];
  /** Width of the detection convs on the stride-32 map (yolov2.cfg: 1024). */
  headWidth: number;
  /** 3x3 head convs before the passthrough is concatenated (yolov2.cfg: 2); one more follows it. */
  headConvsBefore: number;
  /** Channels of the 1x1 conv on the stride-16 map before reorg (yolov2.cfg: 64; reorg makes 4x). */
  passthroughWidth: number;
  /** Leaky ReLU slope (darknet's "leaky": 0.1). */
  leakySlope: number;
}

/** darknet-19 + the yolov2.cfg head (the paper preset). */
export const DARKNET19_YOLOV2: Readonly<YoloNetConfig> = Object.freeze({
  widths: [32, 64, 128, 256, 512, 1024],
  depths: [1, 1, 3, 3, 5, 5],
  headWidth: 1024,
  headConvsBefore: 2,
  passthroughWidth: 64,
  leakySlope: 0.1,
});

/**
 * Sizes per run profile. The CPU presets keep darknet-19's shape (max-pool stages, 1x1
 * bottlenecks, passthrough from stride 16) at a fraction of its width; `quick` is sized so a step
 * of 8 images at 256 px takes under a second on one wasm core.
 */
export const YOLO_NET_PRESETS: Readonly<Record<'smoke' | 'quick' | 'full' | 'paper', YoloNetConfig>> = Object.freeze({
  smoke: { widths: [4, 8, 8, 16, 16, 24], depths: [1, 1, 1, 1, 1, 1], headWidth: 24, headConvsBefore: 1, passthroughWidth: 8, leakySlope: 0.1 },
  // 0.40 M parameters (baseline, 10 classes); b8 @ 256 px: ~0.8 s per training step on one
  // loaded wasm core (0.72 M with widths up to 128 measured 1.4 s).
  quick: { widths: [8, 16, 24, 48, 64, 96], depths: [1, 1, 1, 1, 3, 3], headWidth: 96, headConvsBefore: 1, passthroughWidth: 16, leakySlope: 0.1 },
  full: { widths: [16, 32, 64, 128, 192, 256], depths: [1, 1, 1, 3, 3, 3], headWidth: 256, headConvsBefore: 1, passthroughWidth: 32, leakySlope: 0.1 },
  paper: { ...DARKNET19_YOLOV2, widths: [...DARKNET19_YOLOV2.widths], depths: [...DARKNET19_YOLOV2.depths] },
});

/** Total stride of the region layer's grid (five 2x2 max-pools). */
export const YOLO_STRIDE = 32;

/**
 * Region layer settings of yolov2.cfg ([region]: bias_match=1, softmax=1, rescore=1, thresh=.6,
 * object_scale=5, noobject_scale=1, class_scale=1, coord_scale=1, absolute=1) and
 * region_layer.c's constants (0.01 for the prior-matching term, 12800 images for it).
 */
export interface RegionLossParams {
  objectScale: number;
  noobjectScale: number;
  classScale: number;
  coordScale: number;
  /** Predictions whose best IoU with any ground truth exceeds this get no no-object loss. */
  thresh: number;
  /** Weight of the term pulling every prediction to its anchor (region_layer.c: .01). */
  priorScale: number;
}

export const YOLOV2_REGION: Readonly<RegionLossParams> = Object.freeze({
  objectScale: 5,
  noobjectScale: 1,
  classScale: 1,
  coordScale: 1,
  thresh: 0.6,
  priorScale: 0.01,
});

/**
 * darknet applies the prior-matching term while `seen < 12800` images, i.e. the first 200 of
 * yolov2.cfg's 1000 burn-in iterations of 64 images (0.04% of its 500k-iteration schedule). Scaling
 * by the schedule would leave less than one step of a CPU run; the term's job is to hold the
 * random-init predictions at their anchors while the rest warms up, so it is kept for the same
 * fraction of the warm-up: round(0.2 * warmupSteps) steps (quick: 10 of 50; paper: 200 of 1000 =
 * darknet's 12800 images at batch 64).
 */
export const PRIOR_TERM_FRACTION_OF_WARMUP = 12800 / (1000 * 64);

export function priorTermSteps(warmupSteps: number): number {
  return Math.round(PRIOR_TERM_FRACTION_OF_WARMUP * warmupSteps);
}

function isPosInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Throws a UserError naming the first invalid field. */
export function validateYoloNetConfig(cfg: YoloNetConfig): void {
  const bad = (field: string, value: unknown, want: string): never => {
    throw new UserError(`model config: yolo.${field} = ${JSON.stringify(value)} is invalid`, want);
  };
  if (!cfg || typeof cfg !== 'object') bad('', cfg, 'give the YOLO network sizes (lib/model/yolo/config.ts YOLO_NET_PRESETS)');
  if (!Array.isArray(cfg.widths) || cfg.widths.length !== 6 || !cfg.widths.every(isPosInt))
    bad('widths', cfg.widths, '6 positive integers: channels at strides 1, 2, 4, 8, 16, 32');
  if (!Array.isArray(cfg.depths) || cfg.depths.length !== 6 || !cfg.depths.every((d) => isPosInt(d) && d % 2 === 1)) {
    bad('depths', cfg.depths, '6 odd positive integers (convs per stage; darknet-19: 1, 1, 3, 3, 5, 5)');
  }
  cfg.widths.forEach((w, s) => {
    if (cfg.depths[s] > 1 && w % 2 !== 0) bad('widths', cfg.widths, `stage ${s + 1} has 1x1 bottlenecks of half width: its width ${w} must be even`);
  });
  if (!isPosInt(cfg.headWidth)) bad('headWidth', cfg.headWidth, 'a positive integer (yolov2.cfg: 1024)');
  if (!(Number.isInteger(cfg.headConvsBefore) && cfg.headConvsBefore >= 0)) bad('headConvsBefore', cfg.headConvsBefore, 'an integer >= 0 (yolov2.cfg: 2)');
  if (!isPosInt(cfg.passthroughWidth)) bad('passthroughWidth', cfg.passthroughWidth, 'a positive integer (yolov2.cfg: 64)');
  if (!(cfg.leakySlope >= 0 && cfg.leakySlope < 1)) bad('leakySlope', cfg.leakySlope, 'a number in [0, 1) (darknet: 0.1)');
}
