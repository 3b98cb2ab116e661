/**
 * How big a table's runs are, per profile (lib/profile.ts). Every table cell trains on top of the
 * profile's TrainConfig preset (lib/train/config.ts) with these changes:
 *
 *   smoke  the smoke preset (64 px, batch 2, 4 steps), 1 seed, 4 validation images, a 3-candidate
 *          search on 4 images: proves every code path; each table notebook runs in about a minute.
 *   quick  the quick training preset (batch 8, Adam 2e-3, generator lr x0.1) at 128 px for 800
 *          steps (schedule scaled: warm-up 50, decay at 600 and 733), 1 seed, 200 validation
 *          images, a 40-candidate search on 100 training images. 128 px shrinks MNIST-Det's 160 px
 *          images by 0.8; Table 4's drop range scales with the input side (paperDropRange). This is
 *          the cheapest setting measured that learns enough to compare methods (baseline 3x3
 *          0.5/0.4, 200 val images, mmAP; seconds for one run alone on this 2-core machine):
 *            160 px, 600 steps (the quick preset)  27.2  (MetaAnchor 29.5)  ~330 s, 1.6-1.8 steps/s
 *            160 px, 450 steps                     16.9                     375 s (machine busy)
 *            128 px, 600 steps                     17.1                     181 s, 3.3 steps/s
 *            128 px, 800 steps (this setting)      30.9  (MetaAnchor 26.9)
 *            batch 4, 300 steps, 160 px (before)    2.6  (MetaAnchor 1.9)   ~115 s
 *          Settings at about half the cost of a run learn far less (MetaAnchor / RetinaNet 9x9,
 *          0.5/0.4, 200 val images, mmAP; BENCHMARKS.md "Cheaper quick settings"):
 *            batch 8 @ 128 px, 800 steps (this setting)   28.0 / 24.8
 *            batch 4 @ 128 px, 800 steps                  13.4
 *            batch 6 @ 112 px, 800 steps                  19.5
 *            batch 8 @  96 px, 800 steps                  12.8 / 10.7
 *          so the quick tables keep this setting. Their 30 runs (Tables 2, 4 and 6 here, Table 7
 *          below) take ~12,000 s of training in one process; with two workers the main job is
 *          about 2 h on 2 cores (README, "Notebooks", has the measured time). The 3x3 runs are the
 *          cheapest (~0.27 s/step); a 9x9 step is ~0.65 s, a data-dependent 9x9 step ~1 s.
 *          Single-seed numbers at this length still move by several points between settings
 *          (baseline vs MetaAnchor swapped order between the 160 px / 600 and 128 px / 800 rows
 *          above): use full for settled differences.
 *   full   the full preset (160 px, batch 8, 3000 steps), 3 seeds, all validation images, the whole
 *          161-candidate Table 8 grid on 200 training images. At ~0.95 s/step (busy 2-core CPU) a
 *          run takes ~47 min, so Table 2 (48 runs) needs ~38 h there: a job for a faster machine.
 *
 * Table 7 (the YOLOv2 port, lib/model/yolo) starts from its own TrainConfig and search (`yolo`):
 *   smoke  yoloTrainConfig('smoke'): 64 px, batch 2, 4 steps, the smallest darknet-style net;
 *          search 3 candidates of the YOLOv2 grid on 4 images. A few seconds per run.
 *   quick  the YOLOv2 quick preset (256 px, batch 8, the quick optimizer) for 500 steps (schedule
 *          scaled: warm-up 42, decay at 375 and 458), 200 validation images. Measured here with
 *          two other training processes on the 2 cores (the load of a two-worker table run):
 *          0.7-0.87 s per MetaAnchor step (1.1 steps/s), 6 s for the final validation on 200
 *          images. 500 steps = ~400 s of training + validation ≈ 7 min per run, so Table 7's two
 *          runs take ~7-8 min with two workers (~14 min with one). At 400 steps (0.8 s/step) the
 *          baseline reached 11.8 and MetaAnchor 11.6 mmAP on 200 val images; 500 steps gives the
 *          decayed phase 25% more steps within the 6-8 min budget per run.
 *          Search: 115 of the grid's 460 candidates (a quarter, as 40 of 161 is for the other
 *          tables) on the same 100 training images. A candidate is one generated 1x1 conv on
 *          cached stride-32 features plus decoding, NMS and COCO scoring: a 20-candidate search on
 *          100 images took 6.7 s in all (30-step model; 10 candidates/s once the features were
 *          cached). A trained model keeps more detections per image; even at the RetinaNet
 *          searches' ~0.7 s per candidate, 115 candidates cost under 1.5 min.
 *   full   yoloTrainConfig('full') (256 px, batch 8, 3000 steps, the wider darknet-style net),
 *          3 seeds, all validation images, the whole 460-candidate grid on 200 training images.
 *          2.1-2.2 s per MetaAnchor step under the same load: ~1.8 h per run, 6 runs ≈ 5.5 h with
 *          two workers.
 *
 * The learning-rate schedule keeps its shape when the step count changes: warm-up and decay points
 * scale with it (as `metaanchor train --steps` does).
 */
import { getProfile, Profile, parseProfile } from '../profile';
import { UserError } from '../util/errors';
import { yoloSearchCandidateShapes } from '../model/yolo/anchors';
import { LrScheduleConfig } from '../train/schedule';
import { TrainConfig, trainConfig, yoloTrainConfig } from '../train/config';

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

/** A schedule of `base.steps` stretched to `steps`: warm-up and decay points scale. */
export function scaledSchedule(base: TrainConfig, steps: number): LrScheduleConfig {
  const f = steps / base.steps;
  return {
    ...base.lr,
    warmupSteps: Math.round(base.lr.warmupSteps * Math.min(1, f)),
    decaySteps: base.lr.decaySteps.map((s) => Math.max(1, Math.round(s * f))),
  };
}

function quickBase(): TrainConfig {
  const steps = 800;
  return trainConfig('quick', { imageSizePx: 128, steps, lr: scaledSchedule(trainConfig('quick'), steps), evalImages: 200 });
}

/** Table 7's quick runs: the YOLOv2 quick preset (256 px, batch 8) for this many steps. */
export const YOLO_QUICK_STEPS = 500;

/** Table 7's quick search: a quarter of the YOLOv2 grid, as 40 of 161 is for Table 8's grid. */
export const YOLO_QUICK_SEARCH_STEPS = 115;

function yoloQuickBase(): TrainConfig {
  const steps = YOLO_QUICK_STEPS;
  return yoloTrainConfig('quick', { steps, lr: scaledSchedule(yoloTrainConfig('quick'), steps), evalImages: 200 });
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
    throw new UserError(`invalid seed list "${value}" (not a whole number >= 0: ${bad.map((b) => `"${b}"`).join(', ')})`, 'give seeds as comma-separated whole numbers, e.g. --seeds 0,1,2 (or METAANCHOR_SEEDS=0,1,2)');
  }
  if (new Set(seeds).size !== seeds.length) throw new UserError(`seed list "${value}" repeats a seed`, 'each seed is one training run; list each once, e.g. 0,1,2');
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
        profile: p, seeds: [0], base: trainConfig('smoke'), evalImages: 4, search: { steps: 3, subset: 4, seed: 0 },
        yolo: { base: yoloTrainConfig('smoke'), search: { steps: 3, subset: 4, seed: 0 } },
      };
    case 'quick':
      return {
        profile: p, seeds: [0], base: quickBase(), evalImages: 200, search: { steps: 40, subset: 100, seed: 0 },
        yolo: { base: yoloQuickBase(), search: { steps: YOLO_QUICK_SEARCH_STEPS, subset: 100, seed: 0 } },
      };
    case 'full':
      return {
        profile: p, seeds: [0, 1, 2], base: trainConfig('full'), evalImages: 0, search: { steps: 161, subset: 200, seed: 0 },
        yolo: { base: yoloTrainConfig('full'), search: { steps: YOLO_GRID_CANDIDATES, subset: 200, seed: 0 } },
      };
  }
}
