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
 *          Two 128 px / 800-step runs at once (2 workers, lib/experiments/parallel.ts) took 257 s and
 *          268 s including the final validation (~3 steps/s each). All four quick tables need 28
 *          distinct runs: 14 pairs x ~270 s = ~63 min of training with 2 workers, plus at most
 *          ~5 min of evaluations and searches in the parent (Table 3's 12 other-anchor
 *          evaluations, 5-14 s each, and 6 searches, ~27 s each, measured at 160 px): ~1.1 h in
 *          all (one worker: 28 x ~245 s = ~1.9 h of training). Single-seed numbers at this length
 *          still move by several points between settings (baseline vs MetaAnchor swapped order
 *          between the 160 px / 600 and 128 px / 800 rows above): use full for settled differences.
 *   full   the full preset (160 px, batch 8, 3000 steps), 3 seeds, all validation images, the whole
 *          161-candidate Table 8 grid on 200 training images. At ~0.95 s/step (busy 2-core CPU) a
 *          run takes ~47 min, so Table 2 (48 runs) needs ~38 h there: a job for a faster machine.
 *
 * The learning-rate schedule keeps its shape when the step count changes: warm-up and decay points
 * scale with it (as `metaanchor train --steps` does).
 */
import { getProfile, Profile, parseProfile } from '../profile';
import { LrScheduleConfig } from '../train/schedule';
import { TrainConfig, trainConfig } from '../train/config';

export interface SearchSettings {
  /** Candidates of the Table 8 grid tried (161 = all). */
  steps: number;
  /** Training images the search evaluates on. */
  subset: number;
  seed: number;
}

export interface ExperimentSettings {
  profile: Profile;
  /** Seeds per cell (each seed is one training run). */
  seeds: number[];
  /** The TrainConfig every cell starts from (method, anchors, IoU, ... are set per cell). */
  base: TrainConfig;
  /** Validation images the table evaluates on (0 = all). */
  evalImages: number;
  search: SearchSettings;
}

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

export function experimentSettings(profile: Profile | string = getProfile()): ExperimentSettings {
  const p = parseProfile(profile);
  switch (p) {
    case 'smoke':
      return { profile: p, seeds: [0], base: trainConfig('smoke'), evalImages: 4, search: { steps: 3, subset: 4, seed: 0 } };
    case 'quick':
      return { profile: p, seeds: [0], base: quickBase(), evalImages: 200, search: { steps: 40, subset: 100, seed: 0 } };
    case 'full':
      return { profile: p, seeds: [0, 1, 2], base: trainConfig('full'), evalImages: 0, search: { steps: 161, subset: 200, seed: 0 } };
  }
}
