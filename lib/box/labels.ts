/**
 * The per-anchor label values: a class index 0..K-1 marks a positive anchor, and these two values
 * the others. The matcher's matches (a GT index instead of a class), the RetinaNet targets and
 * losses, and the YOLOv2 region targets all use them.
 */

/** Background anchor: every class is pushed towards 0. */
export const LABEL_BACKGROUND = -1;
/** Ignored anchor: no classification or box loss. */
export const LABEL_IGNORE = -2;
