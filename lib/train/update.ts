/**
 * From a step's gradients to the weights: L2 weight decay on the kernels (rank >= 2), clipping by
 * the global norm, and one optimizer per parameter group (checkpoint-io.ts, ParamGroup).
 */
import * as tf from '@tensorflow/tfjs';
import { TrainConfig } from './config';
import { ParamGroup } from './checkpoint-io';

export function makeOptimizer(cfg: TrainConfig): tf.Optimizer {
  return cfg.optimizer === 'sgd' ? tf.train.momentum(cfg.lr.baseLr, cfg.momentum) : tf.train.adam(cfg.lr.baseLr);
}

/** Set every group's learning rate to lr times its multiplier. */
export function setLearningRates(groups: readonly ParamGroup[], lr: number): void {
  for (const g of groups) {
    const o = g.optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
    if (typeof o.setLearningRate === 'function') o.setLearningRate(lr * g.lrMult);
    else o.learningRate = lr * g.lrMult;
  }
}

/** Global L2 norm of the gradients; scales them in place (returned map) when above maxNorm. */
async function clipGradients(grads: tf.NamedTensorMap, maxNorm: number): Promise<{ grads: tf.NamedTensorMap; norm: number }> {
  const normT = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))));
  const norm = (await normT.data())[0];
  normT.dispose();
  if (!(maxNorm > 0) || norm <= maxNorm || !isFinite(norm)) return { grads, norm };
  const scale = maxNorm / (norm + 1e-6);
  const clipped: tf.NamedTensorMap = {};
  for (const [k, g] of Object.entries(grads)) {
    clipped[k] = tf.mul(g, scale);
    g.dispose();
  }
  return { grads: clipped, norm };
}

/**
 * Apply one step's gradients (consumed: disposed here). `decayed` names the variables that get
 * weight decay. Returns the gradient norm before clipping.
 */
export async function applyGradients(
  grads: tf.NamedTensorMap,
  vars: readonly tf.Variable[],
  decayed: ReadonlySet<string>,
  groups: readonly ParamGroup[],
  cfg: Pick<TrainConfig, 'weightDecay' | 'clipNorm'>,
): Promise<number> {
  if (cfg.weightDecay > 0) {
    for (const v of vars) {
      if (!decayed.has(v.name) || !grads[v.name]) continue;
      const g = grads[v.name];
      grads[v.name] = tf.tidy(() => tf.add(g, tf.mul(v, cfg.weightDecay)));
      g.dispose();
    }
  }
  const clipped = await clipGradients(grads, cfg.clipNorm);
  for (const g of groups) {
    const part: tf.NamedTensorMap = {};
    for (const [k, t] of Object.entries(clipped.grads)) if (g.vars.has(k)) part[k] = t;
    if (Object.keys(part).length) g.optimizer.applyGradients(part);
  }
  tf.dispose(Object.values(clipped.grads));
  return clipped.norm;
}
