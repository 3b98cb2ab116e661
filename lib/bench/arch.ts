/**
 * Network architectures as plain data (a layer list), so that the TensorFlow.js side and the
 * PyTorch side of `metaanchor bench` (bench/torch_reference.py) build exactly the same net: same
 * parameters, same layer shapes, same graph, same loss. The TS side exports the list; Python only
 * interprets it.
 *
 * Two architectures:
 * - `detectorArch(detector)`: read from a built baseline Detector with the small backbone (the
 *   quick preset's RetinaNet): every parameter shape comes from the detector's ParamStore, and the
 *   export fails if a parameter of the detector is not covered (test/bench/arch.test.ts also checks
 *   that interpreting the list with the detector's weights reproduces Detector.forward).
 * - `referenceNetArch()`: a fixed small RetinaNet-like net (19 convs, ~0.84 M parameters:
 *   GroupNorm stem, max-pool, a residual block, FPN P3..P7, one-conv towers shared across levels,
 *   9 anchors x 10 classes), the net of docs/DESIGN.md section 7's PyTorch-vs-tfjs comparison.
 *
 * Activations are NHWC here and NCHW in PyTorch; parameter shapes are given framework-neutrally
 * (kernel size, in/out channels).
 */
import * as tf from '@tensorflow/tfjs';
import { Detector, ParamStore } from '../model';
import { heStd } from '../model/params';
import { conv2dWith, createGroupNorm, groupNorm, maxPoolPadded, NormLayer, upsampleNearest2x } from '../model/layers';
import { UserError } from '../util/errors';

/** A conv's weights `<name>.weight` (HWIO in tfjs) and optional `<name>.bias`. */
export interface ConvParam {
  kind: 'conv';
  name: string;
  kernel: number;
  inChannels: number;
  outChannels: number;
  bias: boolean;
}

/** A GroupNorm's `<name>.weight` (gamma) and `<name>.bias` (beta). */
export interface GroupNormParam {
  kind: 'gn';
  name: string;
  channels: number;
  groups: number;
}

export type ArchParam = ConvParam | GroupNormParam;

/**
 * Ops run in order on named activations ('input' = the images). Convs and norms name their
 * parameters, so several ops can share them (RetinaNet's head runs on every FPN level).
 * - normalize: (x - mean) / std per RGB channel (the detector's input normalisation);
 * - conv: 'same' = TensorFlow padding, a number = symmetric zero padding (PyTorch's padding=p);
 * - upsample2x: nearest, cropped to the spatial size of `like`;
 * - maxpool: symmetric zero padding (inputs are post-ReLU, so equal to -inf padding).
 */
export type ArchOp =
  | { op: 'normalize'; input: string; output: string; meanRGB: number[]; stdRGB: number[] }
  | { op: 'conv'; param: string; input: string; output: string; stride: number; pad: 'same' | number; relu: boolean }
  | { op: 'gn'; param: string; input: string; output: string; relu: boolean }
  | { op: 'relu'; input: string; output: string }
  | { op: 'add'; inputs: [string, string]; output: string; relu: boolean }
  | { op: 'maxpool'; input: string; output: string; kernel: number; stride: number; pad: number }
  | { op: 'upsample2x'; input: string; like: string; output: string };

export interface ArchSpec {
  name: string;
  params: ArchParam[];
  ops: ArchOp[];
  /** Per FPN level, the activation holding [N, H, W, A*K] logits and [N, H, W, A*4] deltas. */
  clsOutputs: string[];
  boxOutputs: string[];
  numClasses: number;
  anchorsPerCell: number;
}

/** Number of scalars in the architecture's parameters (what both frameworks must report). */
export function archParamCount(spec: ArchSpec): number {
  let n = 0;
  for (const p of spec.params) {
    if (p.kind === 'conv') n += p.kernel * p.kernel * p.inChannels * p.outChannels + (p.bias ? p.outChannels : 0);
    else n += 2 * p.channels;
  }
  return n;
}

/** Number of conv layers (parameter sets, not applications). */
export function archConvCount(spec: ArchSpec): number {
  return spec.params.filter((p) => p.kind === 'conv').length;
}

/** Output grid size of a conv/pool: TensorFlow 'same' -> ceil(n / s); symmetric p -> floor((n + 2p - k) / s) + 1. */
export function outSize(n: number, kernel: number, stride: number, pad: 'same' | number): number {
  return pad === 'same' ? Math.ceil(n / stride) : Math.floor((n + 2 * pad - kernel) / stride) + 1;
}

/**
 * Checks that every op reads defined activations and existing parameters with matching channel
 * counts, and returns the channel count of every activation. Throws on the first problem.
 */
export function validateArch(spec: ArchSpec): Map<string, number> {
  const params = new Map(spec.params.map((p) => [p.name, p]));
  if (params.size !== spec.params.length) throw new Error(`${spec.name}: duplicate parameter names`);
  const channels = new Map<string, number>([['input', 3]]);
  const used = new Set<string>();
  const need = (name: string): number => {
    const c = channels.get(name);
    if (c === undefined) throw new Error(`${spec.name}: activation "${name}" is used before it is defined`);
    return c;
  };
  for (const op of spec.ops) {
    switch (op.op) {
      case 'normalize':
        if (need(op.input) !== 3) throw new Error(`${spec.name}: normalize expects RGB input`);
        channels.set(op.output, 3);
        break;
      case 'conv': {
        const p = params.get(op.param);
        if (!p || p.kind !== 'conv') throw new Error(`${spec.name}: conv op uses unknown conv parameter "${op.param}"`);
        if (need(op.input) !== p.inChannels) throw new Error(`${spec.name}: ${op.param} expects ${p.inChannels} channels, "${op.input}" has ${need(op.input)}`);
        used.add(p.name);
        channels.set(op.output, p.outChannels);
        break;
      }
      case 'gn': {
        const p = params.get(op.param);
        if (!p || p.kind !== 'gn') throw new Error(`${spec.name}: gn op uses unknown norm parameter "${op.param}"`);
        if (need(op.input) !== p.channels) throw new Error(`${spec.name}: ${op.param} expects ${p.channels} channels, "${op.input}" has ${need(op.input)}`);
        used.add(p.name);
        channels.set(op.output, p.channels);
        break;
      }
      case 'add': {
        const [a, b] = op.inputs.map(need);
        if (a !== b) throw new Error(`${spec.name}: add of ${a} and ${b} channels`);
        channels.set(op.output, a);
        break;
      }
      case 'relu':
      case 'maxpool':
        channels.set(op.output, need(op.input));
        break;
      case 'upsample2x':
        need(op.like);
        channels.set(op.output, need(op.input));
        break;
    }
  }
  const unused = spec.params.filter((p) => !used.has(p.name)).map((p) => p.name);
  if (unused.length) throw new Error(`${spec.name}: parameters never used: ${unused.join(', ')}`);
  const { numClasses: K, anchorsPerCell: A } = spec;
  if (spec.clsOutputs.length !== spec.boxOutputs.length || spec.clsOutputs.length === 0) throw new Error(`${spec.name}: one cls and one box output per level`);
  for (const o of spec.clsOutputs) if (need(o) !== A * K) throw new Error(`${spec.name}: cls output "${o}" has ${need(o)} channels, expected A*K = ${A * K}`);
  for (const o of spec.boxOutputs) if (need(o) !== A * 4) throw new Error(`${spec.name}: box output "${o}" has ${need(o)} channels, expected A*4 = ${A * 4}`);
  return channels;
}

/** Anchors per image of an input size: sum over output levels of H*W*A (spatial sizes traced through the ops). */
export function archAnchorsPerImage(spec: ArchSpec, sizePx: number): number {
  const hw = new Map<string, number>([['input', sizePx]]);
  const params = new Map(spec.params.map((p) => [p.name, p]));
  for (const op of spec.ops) {
    if (op.op === 'conv') {
      const p = params.get(op.param) as ConvParam;
      hw.set(op.output, outSize(hw.get(op.input)!, p.kernel, op.stride, op.pad));
    } else if (op.op === 'maxpool') hw.set(op.output, outSize(hw.get(op.input)!, op.kernel, op.stride, op.pad));
    else if (op.op === 'upsample2x') hw.set(op.output, hw.get(op.like)!);
    else if (op.op === 'add') hw.set(op.output, hw.get(op.inputs[0])!);
    else hw.set(op.output, hw.get(op.input)!);
  }
  return spec.clsOutputs.reduce((s, o) => s + hw.get(o)! ** 2 * spec.anchorsPerCell, 0);
}

// ---------------------------------------------------------------------------------------------
// The reference net.

/** Builder for layer lists: `conv(...)` registers the parameter (once) and appends the op. */
class ArchBuilder {
  readonly params: ArchParam[] = [];
  readonly ops: ArchOp[] = [];
  private readonly channels = new Map<string, number>([['input', 3]]);
  private n = 0;

  private fresh(prefix: string): string {
    return `${prefix}#${this.n++}`;
  }

  ch(x: string): number {
    return this.channels.get(x)!;
  }

  convParam(name: string, kernel: number, inChannels: number, outChannels: number, bias: boolean): string {
    if (!this.params.some((p) => p.name === name)) this.params.push({ kind: 'conv', name, kernel, inChannels, outChannels, bias });
    return name;
  }

  conv(
    x: string,
    name: string,
    outChannels: number,
    o: { kernel?: number; stride?: number; pad?: 'same' | number; bias?: boolean; relu?: boolean } = {},
  ): string {
    this.convParam(name, o.kernel ?? 3, this.ch(x), outChannels, o.bias ?? true);
    return this.apply(x, name, o.stride ?? 1, o.pad ?? 'same', o.relu ?? false);
  }

  /** Apply an existing conv parameter (shared weights). */
  apply(x: string, param: string, stride: number, pad: 'same' | number, relu: boolean): string {
    const p = this.params.find((q) => q.name === param) as ConvParam;
    const out = this.fresh(param);
    this.ops.push({ op: 'conv', param, input: x, output: out, stride, pad, relu });
    this.channels.set(out, p.outChannels);
    return out;
  }

  gn(x: string, name: string, groups: number, relu: boolean): string {
    // Shared parameters (the towers' GroupNorm, applied on every level) are registered once.
    if (!this.params.some((p) => p.name === name)) this.params.push({ kind: 'gn', name, channels: this.ch(x), groups });
    const out = this.fresh(name);
    this.ops.push({ op: 'gn', param: name, input: x, output: out, relu });
    this.channels.set(out, this.ch(x));
    return out;
  }

  add(a: string, b: string, relu: boolean): string {
    const out = this.fresh('add');
    this.ops.push({ op: 'add', inputs: [a, b], output: out, relu });
    this.channels.set(out, this.ch(a));
    return out;
  }

  relu(x: string): string {
    const out = this.fresh('relu');
    this.ops.push({ op: 'relu', input: x, output: out });
    this.channels.set(out, this.ch(x));
    return out;
  }

  maxpool(x: string, kernel: number, stride: number, pad: number): string {
    const out = this.fresh('maxpool');
    this.ops.push({ op: 'maxpool', input: x, output: out, kernel, stride, pad });
    this.channels.set(out, this.ch(x));
    return out;
  }

  upsample(x: string, like: string): string {
    const out = this.fresh('up');
    this.ops.push({ op: 'upsample2x', input: x, like, output: out });
    this.channels.set(out, this.ch(x));
    return out;
  }

  normalize(x: string, meanRGB: number[], stdRGB: number[]): string {
    const out = this.fresh('normalized');
    this.ops.push({ op: 'normalize', input: x, output: out, meanRGB, stdRGB });
    this.channels.set(out, 3);
    return out;
  }
}

/** Sizes of the reference net (docs/DESIGN.md section 7: 19 convs, ~0.84 M parameters). */
export const REFERENCE_NET = {
  // C5 width 216 puts the total at 0.843 M parameters.
  widths: [32, 64, 128, 216],
  fpnChannels: 64,
  gnGroups: 8,
  numClasses: 10,
  anchorsPerCell: 9,
} as const;

/**
 * The reference net: stem 3x3/2 + GN + ReLU, 3x3/2 max-pool, a residual block (two 3x3 convs
 * with GN), stride-2 stages C3 (two convs), C4, C5 (one conv each; C5 without norm), an FPN
 * (1x1 laterals, 3x3 outputs, P6 from C5, P7 = conv(ReLU(P6))), and RetinaNet's head shared over
 * P3..P7 with one-conv towers. Symmetric numeric padding throughout (PyTorch-style), so both
 * frameworks compute the same grids.
 */
export function referenceNetArch(): ArchSpec {
  const { widths: w, fpnChannels: F, gnGroups: G, numClasses: K, anchorsPerCell: A } = REFERENCE_NET;
  const b = new ArchBuilder();
  const cbr = (x: string, name: string, out: number, stride: number): string =>
    b.gn(b.conv(x, `${name}.conv`, out, { stride, pad: 1, bias: false }), `${name}.norm`, G, true);
  // Backbone.
  let x = cbr('input', 'stem', w[0], 2); // s2
  x = b.maxpool(x, 3, 2, 1); // s4
  const r = cbr(x, 'res.a', w[0], 1);
  x = b.add(x, b.gn(b.conv(r, 'res.b.conv', w[0], { pad: 1, bias: false }), 'res.b.norm', G, false), true);
  x = cbr(x, 'c3.a', w[1], 2); // s8
  const c3 = cbr(x, 'c3.b', w[1], 1);
  const c4 = cbr(c3, 'c4', w[2], 2); // s16
  const c5 = b.conv(c4, 'c5', w[3], { stride: 2, pad: 1, relu: true }); // s32
  // FPN.
  const inner5 = b.conv(c5, 'fpn.lateral5', F, { kernel: 1, pad: 0 });
  const lat4 = b.conv(c4, 'fpn.lateral4', F, { kernel: 1, pad: 0 });
  const inner4 = b.add(lat4, b.upsample(inner5, lat4), false);
  const lat3 = b.conv(c3, 'fpn.lateral3', F, { kernel: 1, pad: 0 });
  const inner3 = b.add(lat3, b.upsample(inner4, lat3), false);
  const p3 = b.conv(inner3, 'fpn.output3', F, { pad: 1 });
  const p4 = b.conv(inner4, 'fpn.output4', F, { pad: 1 });
  const p5 = b.conv(inner5, 'fpn.output5', F, { pad: 1 });
  const p6 = b.conv(c5, 'fpn.p6', F, { stride: 2, pad: 1 });
  const p7 = b.conv(b.relu(p6), 'fpn.p7', F, { stride: 2, pad: 1 });
  // Head, shared over levels.
  b.convParam('head.clsTower', 3, F, F, true);
  b.convParam('head.boxTower', 3, F, F, true);
  b.convParam('head.clsScore', 3, F, A * K, true);
  b.convParam('head.boxDelta', 3, F, A * 4, true);
  const clsOutputs: string[] = [];
  const boxOutputs: string[] = [];
  for (const p of [p3, p4, p5, p6, p7]) {
    clsOutputs.push(b.apply(b.apply(p, 'head.clsTower', 1, 1, true), 'head.clsScore', 1, 1, false));
    boxOutputs.push(b.apply(b.apply(p, 'head.boxTower', 1, 1, true), 'head.boxDelta', 1, 1, false));
  }
  const spec: ArchSpec = { name: 'reference RetinaNet-like', params: b.params, ops: b.ops, clsOutputs, boxOutputs, numClasses: K, anchorsPerCell: A };
  validateArch(spec);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Export of a built detector.

/**
 * The layer list of a baseline Detector with the small backbone (lib/model/backbones/small.ts,
 * fpn.ts, heads/towers.ts, heads/predefined.ts), with every shape read from its ParamStore.
 * Throws a UserError for other detectors, and an Error if the store holds parameters this export
 * does not use (i.e. lib/model changed and this mirror must follow).
 */
export function detectorArch(det: Detector): ArchSpec {
  const cfg = det.config;
  if (cfg.backbone !== 'small' || cfg.method !== 'baseline') {
    throw new UserError(
      `the PyTorch comparison covers baseline detectors with the small backbone; got backbone ${cfg.backbone}, method ${cfg.method}`,
      'benchmark a preset such as quick with method baseline',
    );
  }
  const store = det.store;
  const b = new ArchBuilder();
  const shapeOf = (name: string): number[] => {
    if (!store.has(name)) throw new Error(`detector export: the detector has no parameter ${name}; lib/bench/arch.ts no longer mirrors lib/model`);
    return store.get(name).shape;
  };
  const useConv = (x: string, name: string, stride: number, relu: boolean): string => {
    const [k, , cin, cout] = shapeOf(`${name}.weight`);
    b.convParam(name, k, cin, cout, store.has(`${name}.bias`));
    return b.apply(x, name, stride, 'same', relu);
  };
  const useGn = (x: string, name: string, relu: boolean): string => {
    shapeOf(`${name}.weight`);
    return b.gn(x, name, Math.min(cfg.gnGroups, b.ch(x)), relu);
  };
  // Backbone: five stride-2 stages, stages 3-5 with a second stride-1 conv.
  let x = b.normalize('input', [...cfg.pixelMeanRGB], [...cfg.pixelStdRGB]);
  const feats: string[] = [];
  for (let s = 1; s <= 5; s++) {
    for (let j = 1; j <= (s <= 2 ? 1 : 2); j++) {
      const gn = store.has(`backbone.stage${s}.norm${j}.weight`);
      x = useConv(x, `backbone.stage${s}.conv${j}`, j === 1 ? 2 : 1, !gn);
      if (gn) x = useGn(x, `backbone.stage${s}.norm${j}`, true);
    }
    if (s >= 3) feats.push(x);
  }
  const c5 = feats[2];
  // FPN (fpn.ts).
  const inner: string[] = new Array(3);
  inner[2] = useConv(c5, 'fpn.lateral5', 1, false);
  for (let i = 1; i >= 0; i--) {
    const lat = useConv(feats[i], `fpn.lateral${i + 3}`, 1, false);
    inner[i] = b.add(lat, b.upsample(inner[i + 1], lat), false);
  }
  const outs = inner.map((t, i) => useConv(t, `fpn.output${i + 3}`, 1, false));
  const p6 = useConv(cfg.p6From === 'c5' ? c5 : outs[2], 'fpn.p6', 2, false);
  const p7 = useConv(b.relu(p6), 'fpn.p7', 2, false);
  // Towers and predefined anchor functions, shared over levels.
  const clsOutputs: string[] = [];
  const boxOutputs: string[] = [];
  for (const p of [...outs, p6, p7]) {
    let c = p;
    let r = p;
    for (let i = 0; i < cfg.towerDepth; i++) {
      // heads/towers.ts: conv + ReLU, or (towerNorm 'gn', the quick preset) conv, GroupNorm, ReLU.
      for (const tower of ['clsTower', 'boxTower'] as const) {
        const name = `head.${tower}.${i}`;
        const gn = store.has(`${name}.gn.weight`);
        let y = useConv(tower === 'clsTower' ? c : r, name, 1, !gn);
        if (gn) y = useGn(y, `${name}.gn`, true);
        if (tower === 'clsTower') c = y;
        else r = y;
      }
    }
    clsOutputs.push(useConv(c, 'head.clsScore', 1, false));
    boxOutputs.push(useConv(r, 'head.boxDelta', 1, false));
  }
  const spec: ArchSpec = {
    name: `${cfg.backbone} RetinaNet (baseline, A=${cfg.numAnchors})`,
    params: b.params,
    ops: b.ops,
    clsOutputs,
    boxOutputs,
    numClasses: cfg.numClasses,
    anchorsPerCell: cfg.numAnchors,
  };
  validateArch(spec);
  const covered = new Set(spec.params.flatMap((p) => [`${p.name}.weight`, `${p.name}.bias`]));
  const missing = store.names().filter((n) => !covered.has(n));
  if (missing.length)
    throw new Error(`detector export: parameters not in the layer list: ${missing.join(', ')}; lib/bench/arch.ts no longer mirrors lib/model`);
  if (archParamCount(spec) !== store.count())
    throw new Error(`detector export: ${archParamCount(spec)} parameters in the list, ${store.count()} in the detector`);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// TensorFlow.js interpreter.

/** Registers the architecture's parameters in `store` (He-normal convs, zero biases, unit GN). */
export function addArchParams(spec: ArchSpec, store: ParamStore): void {
  for (const p of spec.params) {
    if (p.kind === 'conv') {
      store.add(`${p.name}.weight`, [p.kernel, p.kernel, p.inChannels, p.outChannels], { kind: 'normal', std: heStd(p.kernel * p.kernel * p.inChannels) });
      if (p.bias) store.add(`${p.name}.bias`, [p.outChannels], { kind: 'zeros' });
    } else {
      createGroupNorm(store, p.name, p.channels, p.groups);
    }
  }
}

/**
 * Forward pass of the layer list on tfjs with the parameters in `store` (named as in the list),
 * using the detector's own layer functions. Returns [N, totalAnchors, K] logits and
 * [N, totalAnchors, 4] deltas in the detector's anchor order (level, y, x, anchor).
 */
export function archForward(spec: ArchSpec, store: ParamStore, images: tf.Tensor4D): { clsLogits: tf.Tensor3D; boxDeltas: tf.Tensor3D } {
  const params = new Map(spec.params.map((p) => [p.name, p]));
  const norms = new Map<string, NormLayer>();
  const normOf = (p: GroupNormParam): NormLayer => {
    let n = norms.get(p.name);
    if (!n) {
      const gamma = store.get(`${p.name}.weight`);
      const beta = store.get(`${p.name}.bias`);
      // lib/model/layers.ts groupNorm: the detector's own GroupNorm (per-channel moments combined
      // into group moments, explicit gradient; the wasm-friendly form of the textbook
      // moments(reshape(x, [N, HW, G, C/G]), [1, 3]), equal to it to float32 rounding).
      n = {
        kind: 'gn',
        name: p.name,
        apply: (x) => groupNorm(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, p.groups, 1e-5),
      };
      norms.set(p.name, n);
    }
    return n;
  };
  return tf.tidy(() => {
    const acts = new Map<string, tf.Tensor4D>([['input', images]]);
    const get = (n: string): tf.Tensor4D => acts.get(n)!;
    for (const op of spec.ops) {
      let y: tf.Tensor4D;
      switch (op.op) {
        case 'normalize':
          y = tf.div(tf.sub(get(op.input), tf.tensor1d(op.meanRGB)), tf.tensor1d(op.stdRGB)) as tf.Tensor4D;
          break;
        case 'conv': {
          const p = params.get(op.param) as ConvParam;
          const bias = p.bias ? (store.get(`${p.name}.bias`) as tf.Tensor1D) : undefined;
          y = conv2dWith(get(op.input), store.get(`${p.name}.weight`) as tf.Tensor4D, bias, op.stride, op.pad, op.relu);
          break;
        }
        case 'gn': {
          y = normOf(params.get(op.param) as GroupNormParam).apply(get(op.input));
          if (op.relu) y = tf.relu(y);
          break;
        }
        case 'relu':
          y = tf.relu(get(op.input));
          break;
        case 'add':
          y = tf.add(get(op.inputs[0]), get(op.inputs[1]));
          if (op.relu) y = tf.relu(y);
          break;
        case 'maxpool':
          y = maxPoolPadded(get(op.input), op.kernel, op.stride, op.pad);
          break;
        case 'upsample2x': {
          const like = get(op.like);
          y = upsampleNearest2x(get(op.input), like.shape[1], like.shape[2]);
          break;
        }
      }
      acts.set(op.output, y);
    }
    const n = images.shape[0];
    const flat = (names: string[], width: number): tf.Tensor3D =>
      tf.concat(
        names.map((o) => {
          const t = get(o);
          return tf.reshape(t, [n, t.shape[1] * t.shape[2] * spec.anchorsPerCell, width]);
        }),
        1,
      ) as tf.Tensor3D;
    return { clsLogits: flat(spec.clsOutputs, spec.numClasses), boxDeltas: flat(spec.boxOutputs, 4) };
  });
}
