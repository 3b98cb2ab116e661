/**
 * How big a table's runs are, per profile (lib/profile.ts). Every table cell trains on top of the
 * profile's TrainConfig preset (lib/train/config.ts) with the cell's method, anchors and thresholds:
 *
 *   smoke  the smoke preset (64 px, batch 2, 4 steps), 1 seed, 4 validation images, a 3-candidate
 *          search on 4 images: proves every code path; each table notebook runs in about a minute.
 *   quick  the quick proxy (docs/quick-proxy.md): MNIST-Det's default dataset (96 px canvases, four
 *          digit classes, box shapes spread like COCO's, so that anchors matter), the small
 *          GroupNorm detector started from the detection trunk pretrained on six other digits,
 *          batch 8, QUICK_STEPS steps, scored on all 500 validation images. Runs are converged:
 *          doubling the steps changes mmAP by less than a point (8000 → 16000: +0.3 RetinaNet 3x3,
 *          -0.1 MetaAnchor 3x3; 4000 steps were 1.0 and 1.6 short; docs/quick-proxy.md section 4). One seed per cell, three (0, 1, 2) for the headline cells —
 *          Table 2's 3x3 and 9x9 rows at both thresholds, wherever other tables reuse them — so
 *          that the paper's main claim gets a mean ± sd and a noise verdict. A 40-candidate search
 *          on 100 training images.
 *   full   the full preset (the wider GroupNorm detector, twice the steps), 3 seeds for every
 *          cell, all validation images, the whole 161-candidate Table 8 grid on 200 training images.
 *
 * Table 7 (the YOLOv2 port, lib/model/yolo) starts from its own TrainConfig and search (`yolo`):
 *   smoke  yoloTrainConfig('smoke'): 64 px, batch 2, 4 steps, the smallest darknet-style net;
 *          search 3 candidates of the YOLOv2 grid on 4 images.
 *   quick  the YOLOv2 quick preset at 192 px (the 96 px canvases twice over: a 6x6 region grid whose
 *          cells hold digits of 0.6 to 5 cells, inside darknet's anchors) for YOLO_QUICK_STEPS,
 *          trained from scratch (the pretrained trunks are the RetinaNet detector's); 115 of the
 *          grid's 460 candidates (a quarter, as 40 of 161 is for the other tables) on 100 images.
 *   full   yoloTrainConfig('full') (the wider darknet-style net), 3 seeds, all validation images,
 *          the whole 460-candidate grid on 200 training images.
 *
 * The learning-rate schedule keeps its shape when the step count changes: warm-up and decay points
 * scale with it (as `metaanchor train --steps` and `metaanchor converge` do).
 */
import { getProfile, Profile, parseProfile } from '../profile';
import { UserError } from '../util/errors';
import { yoloSearchCandidateShapes } from '../model/yolo/anchors';
import { TrainConfig, trainConfig, yoloTrainConfig } from '../train/config';
import { scaledSchedule } from '../train/schedule';

export interface SearchSettings {
  /** Candidates of the grid tried (Table 8's grid: 161 = all; YOLOv2's grid: 460 = all). */
  steps: number;
  /** Training images the search evaluates on. */
  subset: number;
  seed: number;
}

export interface ExperimentSettings {
  profile: Profile;
  /** Seeds per cell (each seed is one training run). */
  seeds: number[];
  /**
   * Seeds of the headline cells (isHeadlineConfig: Table 2's 3x3 and 9x9 rows at both thresholds,
   * wherever other tables reuse those runs) when the profile gives them more than `seeds`; absent
   * when seeds were given explicitly (--seeds / METAANCHOR_SEEDS apply to every cell).
   */
  headlineSeeds?: number[];
  /** The TrainConfig every cell starts from (method, anchors, IoU, ... are set per cell). */
  base: TrainConfig;
  /** Validation images the table evaluates on (0 = all). */
  evalImages: number;
  search: SearchSettings;
  /** Table 7 (the YOLOv2 port): the TrainConfig its cells start from and its greedy search. */
  yolo: YoloSettings;
}

export interface YoloSettings {
  /** A `yoloTrainConfig` (detector 'yolov2'); method is set per cell. */
  base: TrainConfig;
  /** Search over the YOLOv2 candidate grid (lib/model/yolo/anchors.ts yoloSearchCandidateShapes). */
  search: SearchSettings;
}

/** Candidates in the YOLOv2 search grid (460). */
export const YOLO_GRID_CANDIDATES = yoloSearchCandidateShapes().length;

function quickBase(): TrainConfig {
  return trainConfig('quick');
}

/** Table 7's quick runs: the YOLOv2 quick preset (192 px, batch 8) for this many steps. */
export const YOLO_QUICK_STEPS = 4000;

/** Table 7's quick search: a quarter of the YOLOv2 grid, as 40 of 161 is for Table 8's grid. */
export const YOLO_QUICK_SEARCH_STEPS = 115;

function yoloQuickBase(): TrainConfig {
  const steps = YOLO_QUICK_STEPS;
  return yoloTrainConfig('quick', { steps, lr: scaledSchedule(yoloTrainConfig('quick'), steps), evalImages: 500, snapshotEvery: steps / 4 });
}

/**
 * A seed list as given on the command line or in env METAANCHOR_SEEDS: "0,1,2" (whole numbers >= 0,
 * no repeats). Throws a UserError naming the bad entry otherwise.
 */
export function parseSeeds(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const seeds = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
  const bad = parts.filter((_, i) => !Number.isSafeInteger(seeds[i]));
  if (bad.length > 0) {
    throw new UserError(
      `invalid seed list "${value}" (not a whole number >= 0: ${bad.map((b) => `"${b}"`).join(', ')})`,
      'give seeds as comma-separated whole numbers, e.g. --seeds 0,1,2 (or METAANCHOR_SEEDS=0,1,2)',
    );
  }
  if (new Set(seeds).size !== seeds.length)
    throw new UserError(`seed list "${value}" repeats a seed`, 'each seed is one training run; list each once, e.g. 0,1,2');
  return seeds;
}

export interface SettingsOverrides {
  /** Seeds per cell instead of the profile's (each seed is one run; the cache keeps every seed's run). */
  seeds?: readonly number[];
}

/**
 * The settings of `profile`. Seeds come from `overrides.seeds`, else env METAANCHOR_SEEDS ("0,1,2"),
 * else the profile (quick: [0]; full: [0, 1, 2]) — more seeds turn "single seed" differences into
 * mean ± sd with a within/beyond-noise verdict, and reuse the seeds already trained.
 */
export function experimentSettings(profile: Profile | string = getProfile(), overrides: SettingsOverrides = {}): ExperimentSettings {
  const settings = profileSettings(parseProfile(profile));
  const env = process.env.METAANCHOR_SEEDS?.trim();
  const seeds = overrides.seeds ?? (env ? parseSeeds(env) : undefined);
  if (seeds !== undefined) {
    if (seeds.length === 0) throw new UserError('no seeds given', 'give at least one seed, e.g. --seeds 0');
    settings.seeds = [...seeds];
    delete settings.headlineSeeds;
  }
  return settings;
}

/**
 * The paper's headline comparison (Table 2, baseline vs MetaAnchor) at its ends: 3x3 and 9x9
 * anchors, either matcher threshold pair, the data-independent generator, all boxes, RetinaNet.
 */
export function isHeadlineConfig(cfg: TrainConfig): boolean {
  if (cfg.detector !== undefined || cfg.dropBoxes || (cfg.method === 'metaanchor' && cfg.generator !== 'independent')) return false;
  const iou = `${cfg.posIou}/${cfg.negIou}`;
  return (cfg.anchors === '3x3' || cfg.anchors === '9x9') && (iou === '0.5/0.4' || iou === '0.6/0.5');
}

/** Seeds a training configuration is run with under `settings` (headline cells may have more). */
export function seedsFor(settings: Pick<ExperimentSettings, 'seeds' | 'headlineSeeds'>, cfg: TrainConfig): number[] {
  return settings.headlineSeeds && isHeadlineConfig(cfg) ? settings.headlineSeeds : settings.seeds;
}

function profileSettings(p: Profile): ExperimentSettings {
  switch (p) {
    case 'smoke':
      return {
        profile: p,
        seeds: [0],
        base: trainConfig('smoke'),
        evalImages: 4,
        search: { steps: 3, subset: 4, seed: 0 },
        yolo: { base: yoloTrainConfig('smoke'), search: { steps: 3, subset: 4, seed: 0 } },
      };
    case 'quick':
      return {
        profile: p,
        seeds: [0],
        headlineSeeds: [0, 1, 2],
        base: quickBase(),
        evalImages: 500,
        search: { steps: 40, subset: 100, seed: 0 },
        yolo: { base: yoloQuickBase(), search: { steps: YOLO_QUICK_SEARCH_STEPS, subset: 100, seed: 0 } },
      };
    case 'full':
      return {
        profile: p,
        seeds: [0, 1, 2],
        base: trainConfig('full'),
        evalImages: 0,
        search: { steps: 161, subset: 200, seed: 0 },
        yolo: { base: yoloTrainConfig('full'), search: { steps: YOLO_GRID_CANDIDATES, subset: 200, seed: 0 } },
      };
  }
}
