/**
 * RetinaNet's classification and box towers (Lin et al. 2017, Sec. 4): `depth` 3x3 convs of
 * `width` channels with ReLU, one tower per task, the same weights at every FPN level. Init
 * normal(0, 0.01), bias 0. Names: head.clsTower.{i}, head.boxTower.{i}.
 *
 * Optionally each conv is followed by GroupNorm before its ReLU (`gnGroups` > 0; names
 * head.clsTower.{i}.gn): parameters shared across levels, statistics per image and level, as in
 * detectron2's RetinaNet `norm: "GN"` option and FCOS's heads. The paper's RetinaNet has none; the
 * small CPU presets use it because the narrow towers train from scratch (lib/model/config.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../params';
import { ConvLayer, NormLayer, conv, createConv, createGroupNorm } from '../layers';

/** Tower outputs per FPN level: the inputs x_cls and x_reg of the anchor functions (paper Fig. 1b). */
export interface HeadFeatures {
  cls: tf.Tensor4D[];
  box: tf.Tensor4D[];
}

export interface Towers {
  readonly outChannels: number;
  forward(levels: tf.Tensor4D[]): HeadFeatures;
}

export interface TowerOptions {
  inChannels: number;
  depth: number;
  width: number;
  initStd: number;
  /** GroupNorm groups after each tower conv; 0 = none (RetinaNet). */
  gnGroups?: number;
}

export function buildTowers(store: ParamStore, prefix: string, o: TowerOptions): Towers {
  type Layer = { conv: ConvLayer; norm?: NormLayer };
  const make = (tower: string): Layer[] => {
    const layers: Layer[] = [];
    for (let i = 0; i < o.depth; i++) {
      const name = `${prefix}.${tower}.${i}`;
      const c = createConv(store, name, {
        inChannels: i === 0 ? o.inChannels : o.width,
        outChannels: o.width,
        kernelSize: 3,
        bias: true,
        kernelInit: { kind: 'normal', std: o.initStd },
      });
      layers.push({ conv: c, norm: o.gnGroups ? createGroupNorm(store, `${name}.gn`, o.width, o.gnGroups) : undefined });
    }
    return layers;
  };
  const clsTower = make('clsTower');
  const boxTower = make('boxTower');
  const run = (x: tf.Tensor4D, layers: Layer[]): tf.Tensor4D => {
    let y = x;
    for (const l of layers) y = l.norm ? tf.relu(l.norm.apply(conv(y, l.conv, false))) : conv(y, l.conv, true);
    return y;
  };
  return {
    outChannels: o.depth > 0 ? o.width : o.inChannels,
    forward(levels) {
      return { cls: levels.map((x) => run(x, clsTower)), box: levels.map((x) => run(x, boxTower)) };
    },
  };
}
