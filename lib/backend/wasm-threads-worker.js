'use strict';
/**
 * Entry point of one pthread worker of tfjs-backend-wasm's threaded SIMD build under Node
 * (lib/backend/wasm-threads.ts). The package ships the emscripten pthread worker only as a string
 * (`wasmWorkerContents`, which its browser code turns into a Blob URL); Node's worker_threads
 * accept only file paths, so this file runs that string. Newlines are escaped first, as the
 * package does before making its Blob: the string holds "\n" escapes that the template literal
 * it is stored in has turned into real line breaks inside string literals.
 */
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');

// Direct eval: the worker script expects a CommonJS module scope (require, __filename).
eval(wasmWorkerContents.replace(/\n/g, '\\n'));
