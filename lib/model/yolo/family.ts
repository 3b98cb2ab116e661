/**
 * The two detector families behind the project's entry points (training, detection, search,
 * checkpoints): RetinaNet (lib/model/detector.ts) and YOLOv2 (./detector.ts). A model config with
 * `detector: 'yolov2'` selects YOLO; without it, RetinaNet.
 */
import { ModelConfig } from '../config';
import { BuildOptions, Detector, buildDetector } from '../detector';
import { loadSavedModel } from '../checkpoint';
import { YoloDetector, buildYoloDetector } from './detector';

export type AnyDetector = Detector | YoloDetector;

export function isYoloDetector(d: AnyDetector): d is YoloDetector {
  return (d as YoloDetector).family === 'yolov2';
}

/** buildDetector or buildYoloDetector, by `config.detector`. */
export function buildAnyDetector(config: ModelConfig, opts: BuildOptions = {}): AnyDetector {
  return config.detector === 'yolov2' ? buildYoloDetector(config, opts) : buildDetector(config, opts);
}

/** Rebuild the detector saved in `dir` (either family) and load its weights. */
export function loadAnyDetector(dir: string): AnyDetector {
  return loadSavedModel<AnyDetector>(dir, (cfg) => buildAnyDetector(cfg, { log: () => undefined }));
}
