/**
 * How big a table's runs are, per profile (lib/profile.ts). Every table cell trains on top of the
 * profile's TrainConfig preset (lib/train/config.ts) with these changes:
 *
 *   smoke  the smoke preset (64 px, batch 2, 4 steps), 1 seed, 4 validation images, a 3-candidate
 *          search on 4 images: proves every code path; each table notebook runs in about a minute.
 *   quick  160 px (MNIST-Det's native size, so box statistics and the Table 4 range keep their
 *          meaning), batch 4, 300 steps, Adam 2e-3, 1 seed, 200 validation images, a 40-candidate
 *          search on 100 training images. The quick training preset (batch 8, 600 steps, ~9.5 min
 *          per run on a busy 2-core machine, 21.9 mmAP) is too long: the four tables need 28
 *          distinct runs, so a cell gets ~1/5 of it. Measured on a busy 2-core machine at batch 4:
 *          0.3-0.5 s/step; 250 steps at 1e-3 gave 2.6 mmAP (baseline 3x3) in ~150 s, 400 steps at
 *          2e-3 gave 4.4 mmAP in 155 s; this setting (300 steps, 2e-3) gave 2.6 (baseline) and 1.9
 *          (MetaAnchor) mmAP for 0.5/0.4 3x3 at ~115 s per run including evaluation. So quick tables
 *          are an early point of training: they show the pipeline and rough trends, not settled
 *          differences (use full, or more steps, for those). All four tables: ~1 h.
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
  const q = trainConfig('quick');
  const steps = 300;
  return trainConfig('quick', { batchSize: 4, steps, lr: { ...scaledSchedule(q, steps), baseLr: 0.002 }, evalImages: 200, checkpointEvery: 50 });
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
