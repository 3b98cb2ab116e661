/**
 * The YOLOv2 network up to the region conv (cfg/yolov2.cfg): darknet-19-shaped stages, the
 * detection convs on the stride-32 map and the passthrough layer.
 *
 *   stage 1..6: convs (3x3 w; then pairs of 1x1 w/2, 3x3 w), a 2x2 max-pool between stages
 *   head:       `headConvsBefore` 3x3 convs on the stage-6 output          (yolov2.cfg layers 23-24)
 *   passthrough: 1x1 conv (passthroughWidth) on the stage-5 output, reorg   (layers 25-27)
 *   concat [reorg, head] -> 3x3 conv (headWidth)                           (layers 28-29)
 *
 * Every conv: conv + GroupNorm (or conv + bias with norm 'none') + leaky ReLU. He-normal (fan-in)
 * kernel init, as the project's other from-scratch convs.
 *
 * reorg is space-to-depth by 2 written with reshape + a rank-4 transpose (gradients exact on cpu
 * and wasm; no strided slices). Its channel order is (dy, dx, c) — TensorFlow's space_to_depth —
 * not darknet's reorg_cpu order; any fixed permutation feeds the next conv the same
 * information, so only darknet-weight loading would care, and the project has none.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../util/errors';
import { ParamStore, heStd } from '../params';
import { ConvLayer, NormLayer, conv, createConv, createGroupNorm, upsampleNearest2x } from '../layers';
import { YoloNetConfig } from './config';

export interface DarknetOptions {
  net: YoloNetConfig;
  norm: 'gn' | 'none';
  gnGroups: number;
}

interface Unit {
  conv: ConvLayer;
  norm?: NormLayer;
}

export interface YoloTrunk {
  /** Channels of the feature the region conv reads (headWidth). */
  readonly outChannels: number;
  /** x: normalised images [N, H, W, 3] with H, W multiples of 32 -> [N, H/32, W/32, headWidth]. */
  forward(x: tf.Tensor4D): tf.Tensor4D;
}

/**
 * darknet's [maxpool] size=2 stride=2: tf.maxPool forward with its gradient written out. tfjs
 * 4.22's own MaxPool gradient on the wasm backend is wrong on some inputs (measured for 2x2 /
 * stride 2 / 'valid', batch 2, 4x4x4 input with negative values: max error 0.91 against the exact
 * gradient, which the cpu backend gives), and YOLO pools leaky-ReLU outputs, which are negative.
 * The gradient goes to the window's maximum; tied maxima (flat image regions, zero padding) share
 * it equally, a valid subgradient with the same sum (darknet gives it to the first). Measured on
 * wasm, forward + backward of [8, 256, 256, 8]: 139 ms (tf.maxPool's own: 326 ms; two `max`
 * reductions over reshaped pairs: 2.4 s).
 */
export function maxPool2x2(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (h % 2 !== 0 || w % 2 !== 0) throw new Error(`maxPool2x2: ${h}x${w} is not divisible by 2`);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xIn = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    const value = tf.maxPool(xIn, 2, 2, 'valid');
    save([xIn, value]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xs, ys] = saved as tf.Tensor4D[];
      const mask = tf.cast(tf.equal(xs, upsampleNearest2x(ys)), 'float32') as tf.Tensor4D;
      const ties = tf.mul(tf.avgPool(mask, 2, 2, 'valid'), 4);
      return [tf.mul(mask, upsampleNearest2x(tf.div(dy, ties) as tf.Tensor4D))];
    };
    return { value, gradFunc };
  });
  return f(x) as tf.Tensor4D;
}

/** Space-to-depth by 2: [N, H, W, C] -> [N, H/2, W/2, 4C], channel (dy * 2 + dx) * C + c. */
export function reorg2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    if (h % 2 !== 0 || w % 2 !== 0) throw new Error(`reorg2: ${h}x${w} is not divisible by 2`);
    // Rows in pairs: [N*H/2, dy, W/2, (dx, c)].
    const rows = tf.reshape(x, [n * (h / 2), 2, w / 2, 2 * c]);
    const moved = tf.transpose(rows, [0, 2, 1, 3]); // [N*H/2, W/2, dy, (dx, c)]
    return tf.reshape(moved, [n, h / 2, w / 2, 4 * c]) as tf.Tensor4D;
  });
}

export function buildDarknetTrunk(store: ParamStore, prefix: string, o: DarknetOptions): YoloTrunk {
  const { net } = o;
  const slope = net.leakySlope;
  const make = (name: string, inCh: number, outCh: number, k: number): Unit => ({
    conv: createConv(store, `${name}.conv`, {
      inChannels: inCh,
      outChannels: outCh,
      kernelSize: k,
      pad: 'same',
      bias: o.norm === 'none',
      kernelInit: { kind: 'normal', std: heStd(k * k * inCh) },
    }),
    norm: o.norm === 'gn' ? createGroupNorm(store, `${name}.norm`, outCh, o.gnGroups) : undefined,
  });
  const run = (x: tf.Tensor4D, u: Unit): tf.Tensor4D => {
    const z = conv(x, u.conv);
    return tf.leakyRelu(u.norm ? u.norm.apply(z) : z, slope) as tf.Tensor4D;
  };

  const stages: Unit[][] = [];
  let inCh = 3;
  for (let s = 0; s < 6; s++) {
    const w = net.widths[s];
    const units: Unit[] = [];
    for (let k = 0; k < net.depths[s]; k++) {
      const bottleneck = k % 2 === 1;
      const outCh = bottleneck ? w / 2 : w;
      units.push(make(`${prefix}.stage${s + 1}.${k + 1}`, inCh, outCh, bottleneck ? 1 : 3));
      inCh = outCh;
    }
    stages.push(units);
  }
  const head: Unit[] = [];
  for (let k = 0; k < net.headConvsBefore; k++) {
    head.push(make(`${prefix}.head${k + 1}`, inCh, net.headWidth, 3));
    inCh = net.headWidth;
  }
  const passthrough = make(`${prefix}.passthrough`, net.widths[4], net.passthroughWidth, 1);
  const fuse = make(`${prefix}.fuse`, 4 * net.passthroughWidth + inCh, net.headWidth, 3);

  return {
    outChannels: net.headWidth,
    forward(x: tf.Tensor4D): tf.Tensor4D {
      const [, hPx, wPx] = x.shape;
      if (hPx % 32 !== 0 || wPx % 32 !== 0) {
        throw new UserError(
          `YOLOv2 needs input sides that are multiples of 32, got ${hPx}x${wPx}`,
          'pad images to a multiple of 32 (loader option sizeDivisor: 32)',
        );
      }
      return tf.tidy(() => {
        let y = x;
        let c4: tf.Tensor4D | undefined;
        for (let s = 0; s < 6; s++) {
          if (s > 0) y = maxPool2x2(y);
          for (const u of stages[s]) y = run(y, u);
          if (s === 4) c4 = y;
        }
        for (const u of head) y = run(y, u);
        const pass = reorg2(run(c4 as tf.Tensor4D, passthrough));
        // yolov2.cfg `route -1,-4`: the reorganised passthrough first, then the head.
        return run(tf.concat([pass, y], 3) as tf.Tensor4D, fuse);
      });
    },
  };
}
