/**
 * Reading a finished (or interrupted) run back: its detector, the anchors it was trained with and
 * their standard box, the dataset categories, and the run's config.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, StandardBox, parseAnchorSpec } from '../anchors';
import { CategoryInfo } from '../data/types';
import { readCheckpointMeta } from '../model';
import { AnyDetector, loadAnyDetector } from '../model/yolo';
import { UserError } from '../util/errors';
import { TrainConfig } from './config';
import { CHECKPOINT_DIR, CONFIG_FILE } from './trainer';

export interface LoadedRun {
  dir: string;
  checkpointDir: string;
  config: TrainConfig | undefined;
  /** RetinaNet or YOLOv2 (by the checkpoint's model config). */
  detector: AnyDetector;
  step: number;
  trainAnchors: AnchorConfig;
  /** Eq. 7 frame of the trained generator (the training configuration's standard box). */
  standardBoxP3: StandardBox;
  categories: CategoryInfo[];
}

/** Accepts a run folder (holding checkpoint/) or a checkpoint folder itself. */
export function resolveCheckpointDir(dirOrCheckpoint: string): { runDir: string; checkpointDir: string } {
  const abs = path.resolve(dirOrCheckpoint);
  if (fs.existsSync(path.join(abs, CHECKPOINT_DIR, 'weights.json'))) return { runDir: abs, checkpointDir: path.join(abs, CHECKPOINT_DIR) };
  if (fs.existsSync(path.join(abs, 'weights.json'))) return { runDir: path.dirname(abs), checkpointDir: abs };
  throw new UserError(
    `no checkpoint in ${abs}`,
    fs.existsSync(path.join(abs, CONFIG_FILE))
      ? 'the run has not reached its first checkpoint yet: resume it with `metaanchor train ... --resume`'
      : 'pass the --out folder of a `metaanchor train` run',
  );
}

export function loadRun(dirOrCheckpoint: string): LoadedRun {
  const { runDir, checkpointDir } = resolveCheckpointDir(dirOrCheckpoint);
  return loadRunAt(runDir, checkpointDir);
}

/** A run's model from one of its weight folders (checkpoint/ or a snapshot, lib/train/snapshots.ts). */
export function loadRunAt(runDir: string, checkpointDir: string): LoadedRun {
  const meta = readCheckpointMeta(checkpointDir);
  const extra = (meta.extra ?? {}) as { step?: number; anchors?: string; standardBoxP3?: StandardBox; categories?: CategoryInfo[] };
  if (!extra.anchors || !extra.categories) {
    throw new UserError(`${checkpointDir} lacks the training anchors or categories`, 'it was not written by `metaanchor train`');
  }
  const configFile = path.join(runDir, CONFIG_FILE);
  const config = fs.existsSync(configFile) ? (JSON.parse(fs.readFileSync(configFile, 'utf8')) as TrainConfig) : undefined;
  const trainAnchors = parseAnchorSpec(extra.anchors);
  return {
    dir: runDir,
    checkpointDir,
    config,
    detector: loadAnyDetector(checkpointDir),
    step: extra.step ?? 0,
    trainAnchors,
    standardBoxP3: extra.standardBoxP3 ?? trainAnchors.standardBoxP3,
    categories: extra.categories,
  };
}
