/**
 * One entry point for "the dataset the user pointed at": a COCO json (+ image folder), a VOCdevkit
 * image set, or — when pointed at nothing — the embedded MNIST-Det (generated on first use).
 * Returns the dataset with the input geometry that suits it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../util/errors';
import { loadCoco } from './coco';
import { MANIFEST_FILE, MnistDetManifest, ensureDefaultDataset, loadMnistDet } from './mnist-det';
import { LoaderConfig, MNIST_DET_INPUT, PAPER_COCO_INPUT } from './pipeline';
import { DetectionDataset } from './types';
import { loadVoc } from './voc';

export interface DatasetSpec {
  /** COCO instances json. */
  coco?: string;
  /** Image folder for `coco` (default: looked for next to the json). */
  images?: string;
  /** VOCdevkit year folder. */
  voc?: string;
  /** VOC image set (default "trainval") */
  vocSet?: string;
  /** MNIST-Det split when neither coco nor voc is given (default "train"). */
  split?: 'train' | 'val';
  skipInvalidBoxes?: boolean;
}

export type InputGeometry = Partial<LoaderConfig> & Pick<LoaderConfig, 'maxSizePx'>;

/** The MNIST-Det manifest of the folder an annotation file belongs to, if any. */
export function mnistDetManifestFor(annotationFile: string): MnistDetManifest | undefined {
  const f = path.join(path.dirname(path.resolve(annotationFile)), '..', MANIFEST_FILE);
  if (!fs.existsSync(f)) return undefined;
  try {
    const m = JSON.parse(fs.readFileSync(f, 'utf8')) as MnistDetManifest;
    return m.generator === 'mnist-det' ? m : undefined;
  } catch {
    return undefined;
  }
}

export async function openDataset(spec: DatasetSpec = {}): Promise<{ dataset: DetectionDataset; input: InputGeometry }> {
  if (spec.coco && spec.voc) throw new UserError('give either a COCO json or a VOC folder, not both');
  if (spec.coco) {
    const dataset = loadCoco({ annotationFile: spec.coco, imageDir: spec.images, skipInvalidBoxes: spec.skipInvalidBoxes });
    const manifest = mnistDetManifestFor(spec.coco);
    const input: InputGeometry = manifest ? { ...MNIST_DET_INPUT, maxSizePx: manifest.config.imageSizePx } : { ...PAPER_COCO_INPUT };
    return { dataset, input };
  }
  if (spec.voc) {
    const dataset = loadVoc({ root: spec.voc, imageSet: spec.vocSet ?? 'trainval', skipInvalidBoxes: spec.skipInvalidBoxes });
    return { dataset, input: { ...PAPER_COCO_INPUT } };
  }
  const paths = await ensureDefaultDataset();
  return { dataset: loadMnistDet(paths, spec.split ?? 'train'), input: { ...MNIST_DET_INPUT, maxSizePx: paths.manifest.config.imageSizePx } };
}
