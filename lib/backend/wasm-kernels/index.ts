/**
 * Kernels the wasm backend needs to train conv nets (docs/DESIGN.md section 4), registered by
 * `initBackend` when wasm is chosen: the missing gradients (conv filter, gather), and faster
 * versions of wasm kernels that training leans on. Each file says why; every kernel is checked
 * against the cpu backend (and the gradients against finite differences) in
 * test/backend/wasm-kernels.test.ts, and timed by bench/wasm-kernels.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { batchMatMulWasm, setStockBatchMatMul } from './batch-matmul';
import { conv2DBackpropFilterWasm, conv2DBackpropInputWasm } from './conv2d-backprop';
import { gatherV2Wasm, setStockGatherV2 } from './gather';
import { guardWasmAllocations } from './memory';
import { maxPoolGradWasm } from './max-pool-grad';
import { meanWasm, setStockMean, setStockSum, sumWasm } from './reduce';
import { castWasm, identityWasm, setStockCast, setStockIdentity, setStockSlice, setStockSplitV, sliceWasm, splitVWasm } from './slice';
import { unsortedSegmentSumWasm } from './unsorted-segment-sum';

export { DEFAULT_COLS_BUDGET_BYTES, setIm2colBudgetBytes } from './conv2d-backprop';
export { explainWasmOom, guardWasmAllocations, isWasmOutOfMemory, wasmHeapBytes, WASM_HEAP_MAX_BYTES } from './memory';
export type { WasmOomContext } from './memory';

interface Replacement {
  name: string;
  kernelFunc: tf.KernelFunc;
  /** Receives wasm's own kernel, which the replacement still calls for some cases. */
  keepStock?: (stock: tf.KernelFunc) => void;
}

/** Each entry replaces wasm's own kernel of that name if it has one. */
const KERNELS: Replacement[] = [
  { name: tf.Conv2DBackpropFilter, kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc },
  // wasm ships a scalar-loop Conv2DBackpropInput; this one runs on XNNPACK's convolution.
  { name: tf.Conv2DBackpropInput, kernelFunc: conv2DBackpropInputWasm as unknown as tf.KernelFunc },
  // wasm's own reads past the indices when batchDims > 0 (gather.ts).
  { name: tf.GatherV2, kernelFunc: gatherV2Wasm as unknown as tf.KernelFunc, keepStock: setStockGatherV2 },
  { name: tf.UnsortedSegmentSum, kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc },
  // wasm's own is wrong for negative inputs (max-pool-grad.ts).
  { name: tf.MaxPoolGrad, kernelFunc: maxPoolGradWasm as unknown as tf.KernelFunc },
  // Transposed / batched products (every matMul gradient) on XNNPACK instead of a scalar loop.
  { name: tf.BatchMatMul, kernelFunc: batchMatMulWasm as unknown as tf.KernelFunc, keepStock: setStockBatchMatMul },
  // Heap-to-heap copies; wasm's versions first copy the whole input out of the heap (gradients of
  // pad and concat).
  { name: tf.Slice, kernelFunc: sliceWasm as unknown as tf.KernelFunc, keepStock: setStockSlice },
  { name: tf.SplitV, kernelFunc: splitVWasm as unknown as tf.KernelFunc, keepStock: setStockSplitV },
  // Shares the buffer instead of copying it (every Multiply gradient clones both inputs).
  { name: tf.Identity, kernelFunc: identityWasm as unknown as tf.KernelFunc, keepStock: setStockIdentity },
  // The same for a cast to the input's own dtype (the Multiply gradient casts both inputs); cast
  // to bool as x != 0 (wasm's own converts the bytes).
  { name: tf.Cast, kernelFunc: castWasm as unknown as tf.KernelFunc, keepStock: setStockCast },
  // Reductions over leading axes (bias and broadcast gradients, spatial means) without a transpose.
  { name: tf.Sum, kernelFunc: sumWasm as unknown as tf.KernelFunc, keepStock: setStockSum },
  { name: tf.Mean, kernelFunc: meanWasm as unknown as tf.KernelFunc, keepStock: setStockMean },
];

/**
 * Registers the project's wasm training kernels and returns their names, and makes a full wasm
 * heap raise an error instead of corrupting memory (memory.ts). Idempotent. Loads
 * @tensorflow/tfjs-backend-wasm first, so that its own registrations (which would otherwise
 * overwrite ours when the package is loaded later) are already in place.
 */
export function registerWasmTrainingKernels(): string[] {
  require('@tensorflow/tfjs-backend-wasm');
  guardWasmAllocations();
  for (const { name, kernelFunc, keepStock } of KERNELS) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing?.kernelFunc === kernelFunc) continue;
    if (existing) {
      keepStock?.(existing.kernelFunc);
      tf.unregisterKernel(name, 'wasm');
    } else if (keepStock) {
      throw new Error(`wasm kernel ${name} is missing; @tensorflow/tfjs-backend-wasm did not load as expected`);
    }
    // The stock kernel's setupFunc (binding its C++ entry point) must still run when the backend
    // is initialised after this registration.
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc, setupFunc: existing?.setupFunc });
  }
  return KERNELS.map((k) => k.name);
}
