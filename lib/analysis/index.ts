/**
 * Why a number moves: detection analyses on top of the COCO evaluator (PR curves, AP by size and
 * aspect ratio, TIDE's error breakdown, confusion matrix).
 */
export * from './inputs';
export * from './ap-breakdown';
export * from './tide';
export * from './confusion';
export * from './report';
