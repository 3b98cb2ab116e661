/**
 * Named parameters of a detector. Every weight is a `tf.Variable` registered under a dotted name
 * ("backbone.layer1.0.conv1.weight", "head.cls.thetaStar.kernel"), so that checkpoints and
 * pretrained files address weights by name, frozen weights (pretrained stem, frozen batch-norm
 * statistics) are ordinary non-trainable variables that are still saved, and the optimizer gets
 * exactly `trainableVariables()`.
 *
 * Initial values are drawn from a seed derived from the model seed and the parameter's name, so
 * a parameter's initial value does not depend on which other parameters exist or in what order
 * they were created (adding a layer does not reshuffle the rest).
 */
import * as tf from '@tensorflow/tfjs';

/** How a parameter is initialised. */
export type Init = { kind: 'zeros' } | { kind: 'constant'; value: number } | { kind: 'normal'; std: number } | { kind: 'uniform'; limit: number };

export interface ParamSpec {
  /** Trainable by the optimizer (default true). Frozen weights are still saved and loaded. */
  trainable?: boolean;
}

/** 32-bit FNV-1a hash of a string (parameter name -> init seed). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** He (Kaiming) normal std for a conv followed by ReLU; `fan` = fan_out (torchvision ResNet) or fan_in. */
export function heStd(fan: number): number {
  return Math.sqrt(2 / fan);
}

/** Glorot (Xavier) uniform limit sqrt(6 / (fanIn + fanOut)). */
export function glorotLimit(fanIn: number, fanOut: number): number {
  return Math.sqrt(6 / (fanIn + fanOut));
}

/**
 * detectron2's `c2_xavier_fill` (Caffe2 "XavierFill"): uniform with limit sqrt(3 / fan_in);
 * used for FPN convs.
 */
export function caffe2XavierLimit(fanIn: number): number {
  return Math.sqrt(3 / fanIn);
}

export class ParamStore {
  private readonly vars = new Map<string, tf.Variable>();
  private readonly seed: number;

  constructor(seed = 0) {
    this.seed = seed >>> 0;
  }

  /** Create and register a parameter. Names must be unique. */
  add(name: string, shape: number[], init: Init, spec: ParamSpec = {}): tf.Variable {
    if (this.vars.has(name)) throw new Error(`parameter "${name}" registered twice`);
    const trainable = spec.trainable ?? true;
    const initSeed = (fnv1a(name) ^ Math.imul(this.seed, 0x9e3779b1)) >>> 0;
    const value = tf.tidy(() => {
      switch (init.kind) {
        case 'zeros':
          return tf.zeros(shape);
        case 'constant':
          return tf.fill(shape, init.value);
        case 'normal':
          return tf.randomNormal(shape, 0, init.std, 'float32', initSeed);
        case 'uniform':
          return tf.randomUniform(shape, -init.limit, init.limit, 'float32', initSeed);
      }
    });
    // tfjs keeps a process-wide registry of variable names; several models may coexist.
    const v = tf.variable(value, trainable, `${name}#${uniqueId()}`);
    value.dispose();
    this.vars.set(name, v);
    return v;
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter named "${name}"`);
    return v;
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  /** All parameters by name, in creation order. */
  entries(): [string, tf.Variable][] {
    return [...this.vars.entries()];
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Variables the optimizer should update. */
  trainableVariables(): tf.Variable[] {
    return [...this.vars.values()].filter((v) => v.trainable);
  }

  /** Mark parameters whose name starts with one of `prefixes` as frozen (or trainable again). */
  setTrainable(prefixes: string[], trainable: boolean): void {
    for (const [name, v] of this.vars) {
      if (prefixes.some((p) => name.startsWith(p))) v.trainable = trainable;
    }
  }

  /** Number of scalars, optionally only trainable ones or those under a name prefix. */
  count(opts: { trainableOnly?: boolean; prefix?: string } = {}): number {
    let n = 0;
    for (const [name, v] of this.vars) {
      if (opts.trainableOnly && !v.trainable) continue;
      if (opts.prefix && !name.startsWith(opts.prefix)) continue;
      n += v.size;
    }
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

let variableCounter = 0;
function uniqueId(): number {
  variableCounter += 1;
  return variableCounter;
}
