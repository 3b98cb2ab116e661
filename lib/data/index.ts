/**
 * The data layer: datasets (COCO json, VOCdevkit, the embedded MNIST-Det) in one internal form,
 * the input pipeline that turns them into NHWC float32 batches, box statistics and drawing.
 */
export * from './types';
export * from './coco';
export * from './voc';
export * from './mnist-det';
export * from './pipeline';
export * from './stats';
export * from './box-drop';
export * from './anchor-coverage';
export * from './stats-report';
export * from './stats-figures';
export * from './draw';
export { loadMnistDigits, digitSplit, VAL_DIGIT_FRACTION } from './mnist-digits';
export { deriveSeed, derivedRng } from './seeds';
export * from './open';
