/** Pure box math over flat (x1, y1, x2, y2) Float32Arrays; no TensorFlow.js. */
export * from './iou';
export * from './coder';
export * from './labels';
export * from './matcher';
export * from './targets';
export * from './nms';
export * from './clip';
