/**
 * On-disk format for named float32 weights, used for checkpoints and for ImageNet backbones.
 *
 * A weights directory holds
 *   weights.json            the manifest (below)
 *   weights-<sha16>.bin     all tensors, little-endian float32, concatenated
 *
 * manifest = {
 *   "format": "metaanchor-weights", "version": 1,
 *   "layout": "tfjs" | "torchvision",   // 4-D conv weights: tfjs HWIO [kh, kw, in, out], or
 *                                       // torchvision OIHW [out, in, kh, kw] (transposed on load)
 *   "binFile": "weights-<sha16>.bin", "byteLength": <int>, "sha256": "<hex of the bin>",
 *   "weights": [ { "name": "layer1.0.conv1.weight", "shape": [64, 64, 3, 3], "dtype": "float32",
 *                  "offset": <byte offset in binFile> }, ... ],
 *   "meta": { ... }                     // free-form: model config, step, ...
 * }
 *
 * Writes are crash-safe: the bin gets a content-derived name and is written atomically first,
 * then the manifest is atomically replaced to point at it, then unreferenced bins are removed. A
 * reader sees either the previous complete checkpoint or the new one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { createHash } from 'node:crypto';
import { UserError } from '../util/errors';
import { writeFileAtomicSync, writeJsonAtomicSync } from '../util/atomic';

const LITTLE_ENDIAN = os.endianness() === 'LE';

export const WEIGHTS_FORMAT = 'metaanchor-weights';
export const MANIFEST_NAME = 'weights.json';

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  offset: number;
}

export interface WeightsManifest {
  format: typeof WEIGHTS_FORMAT;
  version: 1;
  layout: 'tfjs' | 'torchvision';
  binFile: string;
  byteLength: number;
  sha256: string;
  weights: WeightEntry[];
  meta?: Record<string, unknown>;
}

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface LoadedWeights {
  manifest: WeightsManifest;
  /** Directory the manifest was read from. */
  dir: string;
  names(): string[];
  /** The entry's shape and values (a copy-free view into the file buffer), or undefined. */
  get(name: string): NamedArray | undefined;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Write `arrays` to `dir` (created if needed). */
export function writeWeights(
  dir: string,
  arrays: NamedArray[],
  opts: { layout?: 'tfjs' | 'torchvision'; meta?: Record<string, unknown> } = {},
): WeightsManifest {
  fs.mkdirSync(dir, { recursive: true });
  let total = 0;
  const entries: WeightEntry[] = [];
  const seen = new Set<string>();
  for (const a of arrays) {
    if (seen.has(a.name)) throw new Error(`writeWeights: duplicate name "${a.name}"`);
    seen.add(a.name);
    if (a.data.length !== sizeOf(a.shape)) {
      throw new Error(`writeWeights: "${a.name}" has ${a.data.length} values for shape [${a.shape}]`);
    }
    entries.push({ name: a.name, shape: [...a.shape], dtype: 'float32', offset: total });
    total += a.data.length * 4;
  }
  const buf = Buffer.alloc(total);
  for (let i = 0; i < arrays.length; i++) {
    const a = arrays[i];
    const off = entries[i].offset;
    if (LITTLE_ENDIAN) {
      buf.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), off);
    } else {
      for (let j = 0; j < a.data.length; j++) buf.writeFloatLE(a.data[j], off + 4 * j);
    }
  }
  const sha256 = createHash('sha256').update(buf).digest('hex');
  const binFile = `weights-${sha256.slice(0, 16)}.bin`;
  writeFileAtomicSync(path.join(dir, binFile), buf);
  const manifest: WeightsManifest = {
    format: WEIGHTS_FORMAT,
    version: 1,
    layout: opts.layout ?? 'tfjs',
    binFile,
    byteLength: total,
    sha256,
    weights: entries,
    meta: opts.meta,
  };
  writeJsonAtomicSync(path.join(dir, MANIFEST_NAME), manifest);
  for (const f of fs.readdirSync(dir)) {
    if (/^weights-[0-9a-f]{16}\.bin$/.test(f) && f !== binFile) fs.rmSync(path.join(dir, f), { force: true });
  }
  return manifest;
}

/** Accepts a weights directory or the path of its weights.json. */
export function resolveManifestPath(dirOrManifest: string): string {
  if (!fs.existsSync(dirOrManifest)) {
    throw new UserError(`weights not found: ${dirOrManifest}`, `give a directory holding ${MANIFEST_NAME} (or the ${MANIFEST_NAME} itself)`);
  }
  if (fs.statSync(dirOrManifest).isDirectory()) {
    const p = path.join(dirOrManifest, MANIFEST_NAME);
    if (!fs.existsSync(p)) {
      throw new UserError(
        `${dirOrManifest} holds no ${MANIFEST_NAME}`,
        'point at a directory written by saveDetector / the ImageNet converter (lib/model/pretrained.ts)',
      );
    }
    return p;
  }
  return dirOrManifest;
}

export function readWeights(dirOrManifest: string): LoadedWeights {
  const manifestPath = resolveManifestPath(dirOrManifest);
  const dir = path.dirname(manifestPath);
  let manifest: WeightsManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as WeightsManifest;
  } catch (err) {
    throw new UserError(`cannot parse ${manifestPath}: ${(err as Error).message}`, 'the file is damaged; restore it or retrain');
  }
  if (manifest.format !== WEIGHTS_FORMAT || manifest.version !== 1) {
    throw new UserError(
      `${manifestPath} is not a ${WEIGHTS_FORMAT} v1 manifest (format ${JSON.stringify(manifest.format)}, version ${JSON.stringify(manifest.version)})`,
      'see lib/model/weights-file.ts for the format and lib/model/pretrained.ts for converting torchvision weights',
    );
  }
  if (manifest.layout !== 'tfjs' && manifest.layout !== 'torchvision') {
    throw new UserError(`${manifestPath}: unknown layout ${JSON.stringify(manifest.layout)}`, 'use "tfjs" (HWIO) or "torchvision" (OIHW)');
  }
  const binPath = path.join(dir, manifest.binFile);
  if (!fs.existsSync(binPath)) {
    throw new UserError(`${manifestPath} refers to ${manifest.binFile}, which is missing`, 'copy the whole weights directory, not only the manifest');
  }
  const buf = fs.readFileSync(binPath);
  if (buf.length !== manifest.byteLength) {
    throw new UserError(`${binPath} has ${buf.length} bytes, the manifest says ${manifest.byteLength}`, 'the file is truncated; copy it again');
  }
  if (manifest.sha256) {
    const sha = createHash('sha256').update(buf).digest('hex');
    if (sha !== manifest.sha256) throw new UserError(`${binPath} does not match the sha256 in its manifest`, 'the file is damaged; copy it again');
  }
  // Copy into an aligned Float32Array (the Buffer's offset in its pool may not be 4-aligned).
  const all = new Float32Array(buf.length / 4);
  if (LITTLE_ENDIAN) new Uint8Array(all.buffer).set(buf);
  else for (let i = 0; i < all.length; i++) all[i] = buf.readFloatLE(4 * i);
  const byName = new Map<string, WeightEntry>();
  for (const e of manifest.weights) {
    if (e.dtype !== 'float32') throw new UserError(`${manifestPath}: "${e.name}" has dtype ${e.dtype}`, 'only float32 is supported');
    if (e.offset % 4 !== 0 || e.offset + 4 * sizeOf(e.shape) > buf.length) {
      throw new UserError(`${manifestPath}: "${e.name}" lies outside ${manifest.binFile}`, 'the manifest and bin do not belong together');
    }
    byName.set(e.name, e);
  }
  return {
    manifest,
    dir,
    names: () => manifest.weights.map((e) => e.name),
    get(name) {
      const e = byName.get(name);
      if (!e) return undefined;
      const start = e.offset / 4;
      return { name, shape: e.shape, data: all.subarray(start, start + sizeOf(e.shape)) };
    },
  };
}

/** OIHW [out, in, kh, kw] -> HWIO [kh, kw, in, out]. */
export function oihwToHwio(data: Float32Array, shape: number[]): { shape: number[]; data: Float32Array } {
  const [o, i, kh, kw] = shape;
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = data[((a * i + b) * kh + y) * kw + x];
  return { shape: [kh, kw, i, o], data: out };
}
