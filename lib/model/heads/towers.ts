/**
 * RetinaNet's classification and box towers (Lin et al. 2017, Sec. 4): `depth` 3x3 convs of
 * `width` channels with ReLU, one tower per task, the same weights at every FPN level. Init
 * normal(0, 0.01), bias 0. Names: head.clsTower.{i}, head.boxTower.{i}.
 */
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../params';
import { ConvLayer, conv, createConv } from '../layers';

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
}

export function buildTowers(store: ParamStore, prefix: string, o: TowerOptions): Towers {
  const make = (tower: string): ConvLayer[] => {
    const convs: ConvLayer[] = [];
    for (let i = 0; i < o.depth; i++) {
      convs.push(
        createConv(store, `${prefix}.${tower}.${i}`, {
          inChannels: i === 0 ? o.inChannels : o.width,
          outChannels: o.width,
          kernelSize: 3,
          bias: true,
          kernelInit: { kind: 'normal', std: o.initStd },
        }),
      );
    }
    return convs;
  };
  const clsTower = make('clsTower');
  const boxTower = make('boxTower');
  const run = (x: tf.Tensor4D, convs: ConvLayer[]): tf.Tensor4D => {
    let y = x;
    for (const c of convs) y = conv(y, c, true);
    return y;
  };
  return {
    outChannels: o.depth > 0 ? o.width : o.inChannels,
    forward(levels) {
      return { cls: levels.map((x) => run(x, clsTower)), box: levels.map((x) => run(x, boxTower)) };
    },
  };
}
