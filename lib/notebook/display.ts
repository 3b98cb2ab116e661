/**
 * Where notebook helpers send rich output. Inside a tslab kernel that is tslab's display API; anywhere
 * else (unit tests, the CLI) a sink can be installed with `setDisplaySink`, and without one a call
 * to display fails with a clear error instead of tslab's bare "Not ready".
 */
import type * as Tslab from 'tslab';
import { UserError } from '../util/errors';

/** One output area. Each call adds an output; on an updatable display it replaces the last one. */
export interface DisplaySink {
  html(html: string): void;
  png(data: Uint8Array): void;
  jpeg(data: Uint8Array): void;
  text(text: string): void;
  markdown(markdown: string): void;
}

export interface DisplayTarget {
  /** Display in the current cell's output. */
  display(): DisplaySink;
  /** A display whose content is replaced by each later call (for live-updating outputs). */
  newDisplay(): DisplaySink;
}

let installed: DisplayTarget | undefined;

/** Route display calls to `target` (tests, other front ends); `undefined` restores tslab. */
export function setDisplaySink(target: DisplayTarget | undefined): void {
  installed = target;
}

function inKernel(): boolean {
  // tslab's launcher exposes its hooks there (node_modules/tslab/dist/executor.js).
  return typeof (globalThis as { __tslab__?: unknown }).__tslab__ === 'object';
}

function tslab(): typeof Tslab {
  if (!inKernel()) {
    throw new UserError('rich display needs a notebook (tslab kernel)', 'run this from a notebook (npm run notebook), or call setDisplaySink() first');
  }
  // Required lazily: loading tslab pulls in its TypeScript compiler, and inside the kernel this
  // require is hooked to return the running kernel's own display API.
  return require('tslab') as typeof Tslab;
}

const tslabTarget: DisplayTarget = {
  display: () => tslab().display,
  newDisplay: () => tslab().newDisplay(),
};

function target(): DisplayTarget {
  return installed ?? tslabTarget;
}

export function display(): DisplaySink {
  return target().display();
}

export function newDisplay(): DisplaySink {
  return target().newDisplay();
}

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * JSON for inlining in a <script>: `<`, U+2028 and U+2029 are escaped so that no string in the data
 * (a plot title, a file name) can close the script element or break the JavaScript.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    // Typed arrays (tfjs dataSync() results) would otherwise become {"0": .., "1": ..}.
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
    return v;
  })
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

let counter = 0;

/** A page-unique element id: random per kernel session (outputs of several sessions share one page). */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${SESSION}-${counter}`;
}

const SESSION = Math.floor(Math.random() * 0x7fffffff).toString(36);
