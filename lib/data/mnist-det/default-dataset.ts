/**
 * The MNIST-Det dataset on first use: where it lives (data/ or METAANCHOR_DATA_DIR), generated once
 * per config and reused while its manifest matches, and loading a split of it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DetectionDataset } from '../types';
import { loadCoco } from '../coco';
import { projectRoot } from '../../util/package-dir';
import { MNIST_DET_VERSION, MnistDetConfig, MnistDetOptions, mnistDetConfig } from './config';
import { GenerateOptions, MANIFEST_FILE, MnistDetManifest, generateMnistDet } from './write';

/** data/ in the project, or METAANCHOR_DATA_DIR. */
export function dataRoot(): string {
  return process.env.METAANCHOR_DATA_DIR ? path.resolve(process.env.METAANCHOR_DATA_DIR) : path.join(projectRoot(), 'data');
}

export interface MnistDetPaths {
  dir: string;
  trainJson: string;
  valJson: string;
  trainImages: string;
  valImages: string;
  manifest: MnistDetManifest;
  /** True when this call generated the files. */
  generated: boolean;
}

function pathsOf(dir: string, manifest: MnistDetManifest, generated: boolean): MnistDetPaths {
  return {
    dir,
    trainJson: path.join(dir, 'annotations', 'instances_train.json'),
    valJson: path.join(dir, 'annotations', 'instances_val.json'),
    trainImages: path.join(dir, 'train'),
    valImages: path.join(dir, 'val'),
    manifest,
    generated,
  };
}

function readManifest(dir: string): MnistDetManifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as MnistDetManifest;
  } catch {
    return undefined;
  }
}

function sameConfig(a: MnistDetConfig, b: MnistDetConfig): boolean {
  // Both went through JSON (the manifest) or come from mnistDetConfig: compare canonical JSON.
  return JSON.stringify(a) === JSON.stringify(JSON.parse(JSON.stringify(b)));
}

export interface EnsureOptions extends MnistDetOptions, GenerateOptions {
  /** Target folder (default data/mnist-det, or data/mnist-det-<preset> for other presets). */
  dir?: string;
}

/**
 * The MNIST-Det dataset for `options`, generated on first use (a few seconds with the defaults)
 * and reused while its manifest matches the requested config and generator version. Generation
 * goes to a temporary sibling folder that is renamed into place, so an interrupted run or a
 * concurrent process never leaves a half-written dataset behind.
 */
export async function ensureDefaultDataset(options: EnsureOptions = {}): Promise<MnistDetPaths> {
  const cfg = mnistDetConfig(options);
  const preset = options.preset ?? 'default';
  const dir = path.resolve(options.dir ?? path.join(dataRoot(), preset === 'default' ? 'mnist-det' : `mnist-det-${preset}`));
  const existing = readManifest(dir);
  if (existing && existing.version === MNIST_DET_VERSION && sameConfig(existing.config, cfg)) return pathsOf(dir, existing, false);
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    const manifest = await generateMnistDet(staging, cfg, options);
    // Another process may have finished the same dataset meanwhile: keep theirs if it matches.
    const now = readManifest(dir);
    if (now && now.version === MNIST_DET_VERSION && sameConfig(now.config, cfg)) {
      fs.rmSync(staging, { recursive: true, force: true });
      return pathsOf(dir, now, false);
    }
    const old = `${staging}.old`;
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(staging, dir);
    fs.rmSync(old, { recursive: true, force: true });
    return pathsOf(dir, manifest, true);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/** Load one split of an MNIST-Det folder as a DetectionDataset. */
export function loadMnistDet(paths: MnistDetPaths, split: 'train' | 'val'): DetectionDataset {
  return loadCoco({
    annotationFile: split === 'train' ? paths.trainJson : paths.valJson,
    imageDir: split === 'train' ? paths.trainImages : paths.valImages,
    name: `${path.basename(paths.dir)}/${split}`,
  });
}
