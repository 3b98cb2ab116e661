/**
 * Matching a transfer target's classes to the classes a detector was trained on (Table 5: a COCO
 * model evaluated on PASCAL VOC 2007). A target class matches a detector class of the same name
 * (case, spaces, '-' and '_' ignored), else through COCO_TO_VOC: the 20 VOC classes are COCO classes
 * under other names ("airplane" is "aeroplane", "couch" is "sofa", "tv" is "tvmonitor", ...).
 *
 * The aligned target keeps its images and boxes but takes the detector's category list, renamed to
 * the target's names where they match, so that detector class i and target class index i are the
 * same class and detections score against the target's ground truth. Boxes of target classes left
 * out of the evaluation are removed when no detector class matches them (they are scored by no
 * class); an unmatched class that is evaluated is an error.
 */
import { CategoryInfo, DetectionDataset, ImageEntry } from '../data/types';
import { UserError } from '../util/errors';

/** COCO 2017 category names -> PASCAL VOC class names (the VOC classes are all COCO classes). */
export const COCO_TO_VOC: Readonly<Record<string, string>> = {
  airplane: 'aeroplane',
  bicycle: 'bicycle',
  bird: 'bird',
  boat: 'boat',
  bottle: 'bottle',
  bus: 'bus',
  car: 'car',
  cat: 'cat',
  chair: 'chair',
  cow: 'cow',
  'dining table': 'diningtable',
  dog: 'dog',
  horse: 'horse',
  motorcycle: 'motorbike',
  person: 'person',
  'potted plant': 'pottedplant',
  sheep: 'sheep',
  couch: 'sofa',
  train: 'train',
  tv: 'tvmonitor',
};

function norm(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, '');
}

export interface ClassMatch {
  target: string;
  /** The detector class it is scored as, or null (left out and unmatched). */
  source: string | null;
}

export interface AlignedTarget {
  /** The target in the detector's category list (names of matched classes are the target's). */
  dataset: DetectionDataset;
  /** The target's classes to evaluate (all but the left-out ones), in the target's order. */
  classes: string[];
  matches: ClassMatch[];
  /** Boxes removed because their class is left out and has no detector class. */
  removedBoxes: number;
}

/**
 * Re-express `target` in the detector's categories `source` (see the file comment). Throws a
 * UserError naming every evaluated target class that no detector class matches, and every class to
 * leave out that the target does not have.
 */
export function alignTargetClasses(
  target: DetectionDataset,
  source: readonly CategoryInfo[],
  leaveOut: readonly string[] = [],
  opts: { missingHint?: string } = {},
): AlignedTarget {
  const targetNames = target.categories.map((c) => c.name);
  const unknown = leaveOut.filter((c) => !targetNames.includes(c));
  if (unknown.length)
    throw new UserError(
      `class${unknown.length > 1 ? 'es' : ''} to leave out not in ${target.name}: ${unknown.join(', ')}`,
      `classes: ${targetNames.join(', ')}`,
    );
  const bySourceName = new Map<string, number>();
  source.forEach((c, i) => bySourceName.set(norm(c.name), i));
  const cocoAlias = new Map(Object.entries(COCO_TO_VOC).map(([coco, voc]) => [norm(voc), norm(coco)]));
  const sourceIdx = target.categories.map((c) => {
    const direct = bySourceName.get(norm(c.name));
    if (direct !== undefined) return direct;
    const alias = cocoAlias.get(norm(c.name));
    return alias !== undefined ? (bySourceName.get(alias) ?? -1) : -1;
  });
  const missing = targetNames.filter((n, k) => sourceIdx[k] < 0 && !leaveOut.includes(n));
  if (missing.length) {
    throw new UserError(
      `the detector has no class for ${missing.length} of ${target.name}'s ${targetNames.length} classes: ${missing.slice(0, 12).join(', ')}${missing.length > 12 ? ', ...' : ''}`,
      opts.missingHint ??
        `its classes are ${source
          .map((c) => c.name)
          .slice(0, 12)
          .join(', ')}${source.length > 12 ? ', ...' : ''}; leave those classes out (--leave-out) or evaluate a detector trained on them`,
    );
  }
  const twice = sourceIdx.filter((s, k) => s >= 0 && sourceIdx.indexOf(s) !== k);
  if (twice.length) {
    const names = target.categories.filter((_, k) => twice.includes(sourceIdx[k])).map((c) => c.name);
    throw new UserError(`${target.name}'s classes ${names.join(', ')} match the same detector class`, 'give the target distinct class names');
  }
  const categories: CategoryInfo[] = source.map((c, i) => {
    const k = sourceIdx.indexOf(i);
    return { index: i, id: c.id, name: k >= 0 ? targetNames[k] : c.name };
  });
  let removedBoxes = 0;
  const images: ImageEntry[] = target.images.map((im) => {
    const keep: number[] = [];
    for (let j = 0; j < im.classIdx.length; j++) {
      if (sourceIdx[im.classIdx[j]] >= 0) keep.push(j);
      else removedBoxes++;
    }
    const pick = <T extends Float32Array | Int32Array | Uint8Array>(a: T, per: number, make: (n: number) => T): T => {
      const out = make(keep.length * per);
      keep.forEach((j, n) => out.set(a.subarray(j * per, (j + 1) * per), n * per));
      return out;
    };
    return {
      ...im,
      boxes: pick(im.boxes, 4, (n) => new Float32Array(n)),
      classIdx: Int32Array.from(keep, (j) => sourceIdx[im.classIdx[j]]),
      ignore: pick(im.ignore, 1, (n) => new Uint8Array(n)),
      annotationIds: pick(im.annotationIds, 1, (n) => new Int32Array(n)),
      areas: pick(im.areas, 1, (n) => new Float32Array(n)),
    };
  });
  return {
    dataset: { ...target, categories, images },
    classes: targetNames.filter((n) => !leaveOut.includes(n)),
    matches: target.categories.map((c, k) => ({ target: c.name, source: sourceIdx[k] >= 0 ? source[sourceIdx[k]].name : null })),
    removedBoxes,
  };
}

/**
 * Results of a detector for a data file whose categories were aligned to the detector's
 * (alignTargetClasses): each detection gets the data file's own category id of its class (matched
 * by name), and detections of detector classes the data does not have are left out (counted per
 * class name). `aligned.dataset.categories[i]` is detector class i; `dataCategories` are the file's.
 */
export function resultsInDataIds<R extends { category_id: number }>(
  results: readonly R[],
  aligned: Pick<AlignedTarget, 'dataset' | 'matches'>,
  source: readonly CategoryInfo[],
  dataCategories: readonly CategoryInfo[],
): { results: R[]; absent: Map<string, number> } {
  const fileId = new Map<number, number>();
  aligned.matches.forEach((m, k) => {
    const i = m.source === null ? -1 : source.findIndex((c) => c.name === m.source);
    if (i >= 0) fileId.set(aligned.dataset.categories[i].id, dataCategories[k].id);
  });
  const out: R[] = [];
  const absent = new Map<string, number>();
  for (const r of results) {
    const id = fileId.get(r.category_id);
    if (id !== undefined) out.push({ ...r, category_id: id });
    else {
      const name = source.find((c) => c.id === r.category_id)?.name ?? String(r.category_id);
      absent.set(name, (absent.get(name) ?? 0) + 1);
    }
  }
  return { results: out, absent };
}
