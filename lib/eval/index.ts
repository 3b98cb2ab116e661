/**
 * Detection evaluation: COCO bbox AP (pycocotools-exact, fast, with a prepared ground truth for
 * repeated evaluation) and PASCAL VOC AP (VOC2007 11-point / all-point, VOCdevkit file readers).
 */
export * from './coco';
export * from './coco-params';
export * from './voc';
export * from './voc-annotations';
export { benchCocoEval, formatCocoEvalBench, CocoEvalBenchResult, CocoEvalBenchOptions } from './bench';
