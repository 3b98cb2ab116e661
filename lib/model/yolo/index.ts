/** YOLOv2 (paper Table 7): config, darknet trunk, region layer, loss, detector. */
export * from './config';
export * from './anchors';
export * from './region';
export * from './loss';
export { maxPool2x2, reorg2, buildDarknetTrunk, YoloTrunk } from './darknet';
export { MetaAnchorRegionFunction, RegionFunction, YoloDetector, buildYoloDetector } from './detector';
export { AnyDetector, isYoloDetector, buildAnyDetector, loadAnyDetector } from './family';
