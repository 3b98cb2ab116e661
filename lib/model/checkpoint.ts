/**
 * Detector checkpoints: every parameter (trainable or frozen) by name in a weights directory
 * (./weights-file.ts: weights.json + weights-<sha16>.bin, written crash-safely), with the model
 * config in the manifest's meta so `loadDetector(dir)` rebuilds the same network.
 */
import * as tf from '@tensorflow/tfjs';
import { StandardBox, parseAnchorSpec } from '../anchors/config';
import { UserError } from '../util/errors';
import { ModelConfig, resolvedBackboneNorm, resolvedFreezeAt, validateModelConfig } from './config';
import { BuildOptions, Detector, buildDetector } from './detector';
import { NamedArray, readWeights, writeWeights } from './weights-file';

export interface CheckpointMeta {
  /** The model config with the backbone's norm and frozen stages resolved (no ImageNet path needed to rebuild). */
  modelConfig: ModelConfig;
  /** Anything else the caller wants kept (step, anchor config, dataset, ...). */
  extra?: Record<string, unknown>;
}

/** The config to rebuild exactly this network without re-reading ImageNet weights. */
export function rebuildableConfig(cfg: ModelConfig): ModelConfig {
  return { ...cfg, smallWidths: [...cfg.smallWidths], backboneNorm: resolvedBackboneNorm(cfg), freezeAt: resolvedFreezeAt(cfg), backboneWeights: null };
}

/** Either detector family: only the parameters and the config are read. */
type SavedModel = Pick<Detector, 'store' | 'config'>;

export function saveDetector(detector: SavedModel, dir: string, extra?: object): void {
  const arrays: NamedArray[] = detector.store.entries().map(([name, v]) => ({ name, shape: [...v.shape], data: v.dataSync() as Float32Array }));
  const meta: CheckpointMeta = { modelConfig: rebuildableConfig(detector.config), extra: extra as Record<string, unknown> | undefined };
  writeWeights(dir, arrays, { layout: 'tfjs', meta: meta as unknown as Record<string, unknown> });
}

/** The config and extra metadata stored in a checkpoint. */
export function readCheckpointMeta(dir: string): CheckpointMeta {
  const meta = readWeights(dir).manifest.meta as unknown as CheckpointMeta | undefined;
  if (!meta || !meta.modelConfig) {
    throw new UserError(`${dir} holds weights but no model config`, 'it is not a detector checkpoint (ImageNet backbone files go to backboneWeights)');
  }
  return meta;
}

function describe(cfg: Partial<ModelConfig>): string {
  const keys: (keyof ModelConfig)[] = [
    'backbone',
    'smallWidths',
    'fpnChannels',
    'towerDepth',
    'towerWidth',
    'numClasses',
    'method',
    'numAnchors',
    'generator',
    'hiddenM',
  ];
  return keys.map((k) => `${k}=${JSON.stringify(cfg[k])}`).join(' ');
}

/** Assign every parameter of `detector` from `dir`; throws a UserError when names or shapes do not match. */
export function loadDetectorWeights(detector: SavedModel, dir: string): void {
  const file = readWeights(dir);
  const missing: string[] = [];
  const misshaped: string[] = [];
  const modelNames = new Set(detector.store.names());
  for (const [name, v] of detector.store.entries()) {
    const e = file.get(name);
    if (!e) missing.push(name);
    else if (e.shape.length !== v.shape.length || e.shape.some((d, i) => d !== v.shape[i])) {
      misshaped.push(`${name}: [${e.shape}] in the file, [${v.shape}] in the model`);
    }
  }
  const unexpected = file.names().filter((n) => !modelNames.has(n));
  if (missing.length || misshaped.length || unexpected.length) {
    const some = (xs: string[]) => xs.slice(0, 3).join('; ') + (xs.length > 3 ? '; ...' : '');
    const parts: string[] = [];
    if (misshaped.length) parts.push(`${misshaped.length} of another shape (${some(misshaped)})`);
    if (missing.length) parts.push(`${missing.length} missing (${some(missing)})`);
    if (unexpected.length) parts.push(`${unexpected.length} unexpected (${some(unexpected)})`);
    const saved = (file.manifest.meta as unknown as CheckpointMeta | undefined)?.modelConfig;
    throw new UserError(
      `checkpoint ${dir} does not fit this model: parameters ${parts.join(', ')}` +
        (saved ? `\n  checkpoint: ${describe(saved)}\n  model:      ${describe(detector.config)}` : ''),
      "build the model with the checkpoint's config: loadDetector(dir) (or the same preset and overrides used for training)",
    );
  }
  for (const [name, v] of detector.store.entries()) {
    const e = file.get(name)!;
    const t = tf.tensor(e.data, e.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
}

/**
 * Rebuild the model saved in `dir` with `build` (config from the manifest, `overrides` on top, no
 * backbone weights) and load its weights; the model is disposed if they do not fit.
 */
export function loadSavedModel<M extends SavedModel & { dispose(): void }>(
  dir: string,
  build: (cfg: ModelConfig) => M,
  overrides: Partial<ModelConfig> = {},
): M {
  const meta = readCheckpointMeta(dir);
  const cfg: ModelConfig = { ...meta.modelConfig, ...overrides, backboneWeights: null };
  // Checkpoints written before the frame was part of the model config kept it in their metadata,
  // or only the training anchors, whose standard box the trainer used as the frame.
  if (cfg.method === 'metaanchor' && !cfg.standardBoxP3) {
    const extra = (meta.extra ?? {}) as { standardBoxP3?: StandardBox; anchors?: string };
    if (extra.standardBoxP3) cfg.standardBoxP3 = extra.standardBoxP3;
    else if (extra.anchors) cfg.standardBoxP3 = parseAnchorSpec(extra.anchors).standardBoxP3;
  }
  const model = build(cfg);
  try {
    loadDetectorWeights(model, dir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** Rebuild the RetinaNet detector saved in `dir` (config from the manifest, optionally overridden) and load its weights. */
export function loadDetector(dir: string, overrides: Partial<ModelConfig> = {}, opts: BuildOptions = {}): Detector {
  return loadSavedModel(
    dir,
    (cfg) => {
      validateModelConfig(cfg);
      return buildDetector(cfg, { ...opts, log: opts.log ?? (() => undefined) });
    },
    overrides,
  );
}

/**
 * Initialise the parameters of `detector` whose names start with one of `prefixes` (e.g. 'backbone.',
 * 'fpn.') from the weights in `dir` (a checkpoint, snapshot or pretrained-weights folder); the rest
 * keep their init. Every selected parameter must be in the file with the same shape. Returns how
 * many were set.
 */
export function initWeightsFrom(detector: SavedModel, dir: string, prefixes: readonly string[]): number {
  const file = readWeights(dir);
  const chosen = detector.store.entries().filter(([name]) => prefixes.some((p) => name.startsWith(p)));
  const bad = chosen.filter(([name, v]) => {
    const e = file.get(name);
    return !e || e.shape.length !== v.shape.length || e.shape.some((d, i) => d !== v.shape[i]);
  });
  if (chosen.length === 0 || bad.length > 0) {
    throw new UserError(
      chosen.length === 0
        ? `no parameter of this model starts with ${prefixes.join(' or ')}`
        : `${dir} does not hold ${bad.length} of the ${chosen.length} parameters to initialise (e.g. ${bad[0][0]}), or holds them in another shape`,
      'initialise from weights of a model with the same backbone and FPN sizes',
    );
  }
  for (const [name, v] of chosen) {
    const e = file.get(name)!;
    const t = tf.tensor(e.data, e.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
  return chosen.length;
}
