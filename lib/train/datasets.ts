/**
 * Dataset specs of a run config -> loaded datasets, and the COCO ground truth to evaluate against.
 */
import * as path from 'node:path';
import { ensureDefaultDataset, loadMnistDet } from '../data/mnist-det';
import { loadCoco } from '../data/coco';
import { loadVoc } from '../data/voc';
import { toCocoJson } from '../data/coco';
import { DetectionDataset } from '../data/types';
import { CocoGroundTruthJson } from '../eval/coco-input';
import { DatasetSpec } from './config';

export async function loadDatasetSpec(spec: DatasetSpec, split: 'train' | 'val'): Promise<DetectionDataset> {
  switch (spec.kind) {
    case 'mnist-det': {
      const paths = await ensureDefaultDataset({ preset: spec.preset ?? 'default' });
      return loadMnistDet(paths, split);
    }
    case 'coco':
      return loadCoco({ annotationFile: path.resolve(spec.annotations), imageDir: path.resolve(spec.images), skipInvalidBoxes: spec.skipInvalidBoxes });
    case 'voc':
      return loadVoc({ root: path.resolve(spec.root), imageSet: spec.imageSet, skipInvalidBoxes: spec.skipInvalidBoxes });
  }
}

/** The dataset as COCO ground truth (a COCO source is used as it is on disk). */
export function groundTruthOf(ds: DetectionDataset): string | CocoGroundTruthJson {
  if (ds.format === 'coco' && ds.source.endsWith('.json')) return ds.source;
  return toCocoJson(ds) as unknown as CocoGroundTruthJson;
}

/** Short human name of a spec for logs and tables. */
export function describeDatasetSpec(spec: DatasetSpec): string {
  switch (spec.kind) {
    case 'mnist-det':
      return `MNIST-Det${spec.preset && spec.preset !== 'default' ? ` (${spec.preset})` : ''}`;
    case 'coco':
      return `COCO ${path.basename(spec.annotations)}`;
    case 'voc':
      return `VOC ${path.basename(spec.root)}/${spec.imageSet}`;
  }
}
