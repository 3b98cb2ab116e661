/**
 * Learning-rate schedule of RetinaNet (Lin et al. 2017, detectron2 defaults): linear warm-up from
 * `warmupFactor * baseLr` over `warmupSteps`, then the base rate divided by 10 at each decay step;
 * and the one way a schedule is stretched to another step count (scaledSchedule).
 */
export interface LrScheduleConfig {
  baseLr: number;
  /** Steps of linear warm-up (0 = none). detectron2: 1000 at batch 16. */
  warmupSteps: number;
  /** Starting fraction of baseLr during warm-up. detectron2: 0.001. */
  warmupFactor: number;
  /** Steps (0-based, strictly increasing) after which the rate is multiplied by `gamma`. */
  decaySteps: number[];
  /** Multiplier at each decay step. RetinaNet: 0.1. */
  gamma: number;
}

/** Learning rate used for step `step` (0-based). */
export function learningRateAt(cfg: LrScheduleConfig, step: number): number {
  let lr = cfg.baseLr;
  for (const s of cfg.decaySteps) if (step >= s) lr *= cfg.gamma;
  if (cfg.warmupSteps > 0 && step < cfg.warmupSteps) {
    const alpha = step / cfg.warmupSteps;
    lr *= cfg.warmupFactor * (1 - alpha) + alpha;
  }
  return lr;
}

/**
 * A schedule of `base.steps` stretched to `steps`: decay points scale with the step count, warm-up
 * shrinks with it but never grows beyond the base's.
 */
export function scaledSchedule(base: { lr: LrScheduleConfig; steps: number }, steps: number): LrScheduleConfig {
  const f = steps / base.steps;
  return {
    ...base.lr,
    warmupSteps: Math.round(base.lr.warmupSteps * Math.min(1, f)),
    decaySteps: base.lr.decaySteps.map((s) => Math.max(1, Math.round(s * f))),
  };
}
