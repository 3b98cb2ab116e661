/** The detector network: config, parts, assembly, checkpoints, losses. */
export * from './config';
export { ParamStore } from './params';
export { Detector, DetectorOutput, DetectorParts, ForwardOptions, LevelShape, buildDetector, levelShapes } from './detector';
// Parts, for assembling a Detector by hand (`new Detector({ ... })`).
export { Backbone, BackboneFeatures } from './backbones/backbone';
export { buildSmallBackbone } from './backbones/small';
export { buildResNet } from './backbones/resnet';
export { loadPretrainedBackbone } from './backbones/pretrained';
export { Fpn, buildFpn } from './fpn';
export { HeadFeatures, Towers, buildTowers } from './heads/towers';
export { AnchorFunction, AnchorFunctionOutputs } from './heads/anchor-function';
export { buildPredefinedAnchorFunction, priorBias } from './heads/predefined';
export { AnchorFunctionGenerator, BasisCache, MetaAnchorFunction, buildMetaAnchorFunction } from './heads/metaanchor';
export { saveDetector, loadDetector, loadDetectorWeights, readCheckpointMeta, rebuildableConfig, initWeightsFrom } from './checkpoint';
export { benchAnchorFunctionModes, benchDetector } from './bench';
export * from './losses';
