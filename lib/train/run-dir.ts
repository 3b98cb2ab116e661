/**
 * Reading a finished (or interrupted) run back: its detector, the anchors it was trained with and
 * their standard box, the dataset categories, and the run's config.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, StandardBox, parseAnchorSpec } from '../anchors';
import { CategoryInfo } from '../data/types';
import { eq7Frame, readCheckpointMeta } from '../model';
import type { CheckpointExtra } from './checkpoint-io';
import { AnyDetector, loadAnyDetector } from '../model/yolo';
import { UserError } from '../util/errors';
import { TrainConfig } from './config';
import { CONFIG_FILE, findCheckpointDir } from './run-folder';

export interface LoadedRun {
  dir: string;
  checkpointDir: string;
  config: TrainConfig | undefined;
  /** RetinaNet or YOLOv2 (by the checkpoint's model config). */
  detector: AnyDetector;
  step: number;
  trainAnchors: AnchorConfig;
  /**
   * MetaAnchor: the model's Eq. 7 frame (ModelConfig.standardBoxP3, which detection uses by itself),
   * for building configurations in it (Figure 2's single anchors); the baseline: its anchors' standard box.
   */
  standardBoxP3: StandardBox;
  categories: CategoryInfo[];
}

/**
 * Accepts a run folder (holding checkpoint/, or the complete checkpoint an interrupted swap left
 * beside it, run-folder.ts) or a checkpoint folder itself.
 */
export function resolveCheckpointDir(dirOrCheckpoint: string): { runDir: string; checkpointDir: string } {
  const abs = path.resolve(dirOrCheckpoint);
  if (!fs.existsSync(abs)) throw new UserError(`--checkpoint ${dirOrCheckpoint} does not exist`, 'pass the --out folder of a `metaanchor train` run');
  if (!fs.statSync(abs).isDirectory())
    throw new UserError(`--checkpoint ${dirOrCheckpoint} is a file, not a folder`, 'pass the --out folder of a `metaanchor train` run');
  if (fs.existsSync(path.join(abs, 'weights.json'))) return { runDir: path.dirname(abs), checkpointDir: abs };
  const found = findCheckpointDir(abs);
  if (found && fs.existsSync(path.join(found, 'weights.json'))) return { runDir: abs, checkpointDir: found };
  throw new UserError(
    found ? `the checkpoint ${found} has no weights.json: it is incomplete` : `no checkpoint in ${abs}`,
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
  const extra = (meta.extra ?? {}) as Partial<CheckpointExtra> & { step?: number };
  if (!extra.anchors || !extra.categories) {
    throw new UserError(`${checkpointDir} lacks the training anchors or categories`, 'it was not written by `metaanchor train`');
  }
  const configFile = path.join(runDir, CONFIG_FILE);
  let config: TrainConfig | undefined;
  if (fs.existsSync(configFile)) {
    try {
      config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as TrainConfig;
    } catch (err) {
      throw new UserError(`${configFile} is corrupt (${(err as Error).message})`, 'restore it from the run it belongs to');
    }
  }
  const trainAnchors = parseAnchorSpec(extra.anchors);
  const detector = loadAnyDetector(checkpointDir);
  return {
    dir: runDir,
    checkpointDir,
    config,
    detector,
    step: extra.step ?? 0,
    trainAnchors,
    standardBoxP3: detector.config.method === 'metaanchor' ? eq7Frame(detector.config) : trainAnchors.standardBoxP3,
    categories: extra.categories,
  };
}
