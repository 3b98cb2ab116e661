/**
 * Sum and Mean for the wasm backend over axes that are not the innermost ones.
 *
 * wasm reduces only over trailing axes: for any other axes it first transposes the whole input with
 * its generic Transpose (~0.5 GB/s). Training reduces over leading axes all the time: every bias
 * gradient and every gradient of a broadcast add/mul sums dy over (N, H, W); group norm and global
 * average pooling take means over spatial axes. Here the input is read once, in memory order, and
 * accumulated into the output (float64 accumulators). Reductions over trailing axes, which need no
 * transpose, stay on wasm's kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { allocate, heapView, TensorInfo } from './wasm-ops';

let stockSum: tf.KernelFunc | undefined;
let stockMean: tf.KernelFunc | undefined;

export function setStockSum(kernelFunc: tf.KernelFunc): void {
  stockSum = kernelFunc;
}

export function setStockMean(kernelFunc: tf.KernelFunc): void {
  stockMean = kernelFunc;
}

/**
 * Sum of x over `axes` (sorted, unique) as float64. Adjacent axes of the same kind are merged, so
 * the shape becomes alternating kept / reduced groups; the last two groups are walked by a double
 * loop over contiguous memory and an odometer steps through the groups before them.
 */
function sumOverAxes(x: Float32Array, shape: number[], axes: number[]): Float64Array {
  const groups: { size: number; reduced: boolean }[] = [];
  shape.forEach((d, i) => {
    const reduced = axes.includes(i);
    const last = groups[groups.length - 1];
    if (last && last.reduced === reduced) last.size *= d;
    else groups.push({ size: d, reduced });
  });
  if (groups.length === 1) groups.unshift({ size: 1, reduced: !groups[0].reduced });
  const out = new Float64Array(groups.filter((g) => !g.reduced).reduce((a, g) => a * g.size, 1));
  const [second, last] = groups.slice(-2);
  const outer = groups.slice(0, -2);
  // Output stride of each outer group (0 for reduced groups).
  const outStrides = new Array<number>(outer.length).fill(0);
  let stride = (second.reduced ? 1 : second.size) * (last.reduced ? 1 : last.size);
  for (let g = outer.length - 1; g >= 0; g--) {
    if (!outer[g].reduced) {
      outStrides[g] = stride;
      stride *= outer[g].size;
    }
  }
  const count = outer.reduce((a, g) => a * g.size, 1);
  const index = new Array<number>(outer.length).fill(0);
  const n2 = second.size;
  const n1 = last.size;
  let o = 0;
  let s = 0;
  for (let r = 0; r < count; r++) {
    if (last.reduced) {
      // [kept n2, reduced n1]: one output per run of n1.
      for (let i = 0; i < n2; i++) {
        let acc = 0;
        for (let j = 0; j < n1; j++) acc += x[s++];
        out[o + i] += acc;
      }
    } else {
      // [reduced n2, kept n1]: n2 rows added onto the same n1 outputs.
      for (let i = 0; i < n2; i++) {
        for (let j = 0; j < n1; j++) out[o + j] += x[s++];
      }
    }
    for (let g = outer.length - 1; g >= 0; g--) {
      o += outStrides[g];
      if (++index[g] < outer[g].size) break;
      o -= outStrides[g] * index[g];
      index[g] = 0;
    }
  }
  return out;
}

function reduce(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.SumAttrs }, mean: boolean): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: TensorInfo };
  const stock = mean ? stockMean : stockSum;
  if (!stock) throw new Error(`${mean ? 'Mean' : 'Sum'} on wasm: the stock kernel was not recorded at registration`);
  const axes = tf.util
    .parseAxisParam(attrs.axis, x.shape)
    .slice()
    .sort((a, b) => a - b);
  const needsTranspose = tf.backend_util.getAxesPermutation(axes, x.shape.length) != null;
  const size = tf.util.sizeFromShape(x.shape);
  if (!needsTranspose || x.dtype !== 'float32' || size === 0) {
    return stock(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  const sums = sumOverAxes(heapView(backend, x) as Float32Array, x.shape, axes);
  if (mean) {
    const n = axes.reduce((a, i) => a * x.shape[i], 1);
    for (let i = 0; i < sums.length; i++) sums[i] /= n;
  }
  const outShape = attrs.keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  return allocate(backend, outShape, 'float32', Float32Array.from(sums));
}

export function sumWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.SumAttrs }): TensorInfo {
  return reduce(args, false);
}

export function meanWasm(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.MeanAttrs }): TensorInfo {
  return reduce(args, true);
}
