/**
 * A crafted matching scene shared by the matcher and target tests. IoUs are computed by hand in the
 * comments (areas in px²).
 */
import { GT_CROWD, GT_DROPPED, GT_NORMAL } from '../../lib/box/matcher';

export const GT = Float32Array.from([
  0,
  0,
  10,
  10, //      g0 normal, 100
  200,
  0,
  230,
  30, //   g1 normal, 900: only ignore-band anchors -> low-quality matches (a tie)
  300,
  0,
  340,
  40, //   g2 normal, 1600: its best anchor a9 prefers g3
  300,
  0,
  320,
  9, //    g3 normal, 180
  400,
  0,
  500,
  100, //  g4 crowd region
  600,
  0,
  640,
  40, //   g5 dropped (Table 4)
  420,
  50,
  450,
  80, //  g6 normal, inside the crowd region
  800,
  0,
  800,
  10, //   g7 degenerate (zero width)
]);
export const FLAGS = Uint8Array.from([GT_NORMAL, GT_NORMAL, GT_NORMAL, GT_NORMAL, GT_CROWD, GT_DROPPED, GT_NORMAL, GT_NORMAL]);
export const CLASSES = Int32Array.from([3, 1, 4, 0, 2, 5, 7, 6]);

export const ANCHORS = Float32Array.from([
  0,
  0,
  10,
  10, //      a0  g0: IoU 1                                   -> positive g0
  0,
  0,
  20,
  10, //      a1  g0: 100/200 = 0.5 (boundary, >= pos)         -> positive g0
  0,
  0,
  10,
  24, //      a2  g0: 100/240 = 0.4167                         -> ignore band
  0,
  0,
  10,
  25, //      a3  g0: 100/250 = 0.4 (boundary, not < neg)      -> ignore band
  0,
  0,
  10,
  26, //      a4  g0: 100/260 = 0.3846                         -> background
  100,
  100,
  110,
  110, // a5  nothing                                     -> background
  200,
  0,
  220,
  20, //   a6  g1: 400/900 = 0.4444 (g1's best, tied)       -> low-quality positive g1
  210,
  10,
  230,
  30, //  a7  g1: 400/900 = 0.4444 (tie)                   -> low-quality positive g1
  200,
  0,
  215,
  15, //   a8  g1: 225/900 = 0.25                           -> background
  300,
  0,
  320,
  20, //   a9  g2: 400/1600 = 0.25 (g2's best); g3: 180/400 = 0.45 (argmax)
  //                       -> promoted by g2, matched to its argmax g3 (detectron2)
  300,
  0,
  320,
  9, //    a10 g3: 1; g2: 180/1600 = 0.1125                 -> positive g3
  410,
  10,
  440,
  40, //  a11 inside crowd g4 (IoA 1); g6: no overlap      -> ignored (crowd)
  480,
  0,
  520,
  40, //   a12 crowd IoA (20*40)/1600 = 0.5 <= 0.7          -> background
  470,
  0,
  510,
  40, //   a13 crowd IoA (30*40)/1600 = 0.75 > 0.7          -> ignored (crowd)
  400,
  0,
  500,
  100, //  a14 = the crowd box; g6: 900/10000 = 0.09        -> ignored (crowd, never positive)
  600,
  0,
  640,
  40, //   a15 g5: IoU 1                                    -> ignored (dropped)
  600,
  0,
  640,
  80, //   a16 g5: 1600/3200 = 0.5                          -> ignored (dropped)
  700,
  0,
  740,
  40, //   a17 nothing                                     -> background
  420,
  50,
  450,
  80, //  a18 g6: IoU 1, inside the crowd                  -> positive g6 (crowd does not veto)
  795,
  0,
  805,
  10, //   a19 only the degenerate g7                       -> background
]);

/** Expected matches with 0.5/0.4, low-quality on, flags on. */
export const EXPECTED = [0, 0, -2, -2, -1, -1, 1, 1, -1, 3, 3, -2, -1, -2, -2, -2, -2, -1, 6, -1];
