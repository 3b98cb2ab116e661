/**
 * PASCAL VOC (VOCdevkit layout) <-> DetectionDataset.
 *
 *   <year folder, e.g. VOCdevkit/VOC2007>/
 *     Annotations/<key>.xml        one per image: size, objects (name, difficult, bndbox)
 *     JPEGImages/<key>.jpg         the images
 *     ImageSets/Main/<set>.txt     image keys of a split ("trainval", "test", ...)
 *
 * VOC boxes are 1-based inclusive pixel indices; like detectron2's `load_voc_instances` they become
 * continuous coordinates with x1 = xmin - 1, y1 = ymin - 1, x2 = xmax, y2 = ymax (so a box's width
 * is xmax - xmin + 1 pixels). `difficult` objects become ignore boxes (the VOC evaluator ignores
 * them too). Category ids are 1..K in class-list order.
 *
 * The class list is, in this order of preference: the `classNames` option; `classes.txt` in the
 * year folder (one name per line; written by `writeVoc`, not part of the original devkit); the 20
 * VOC classes when every name is one of them; otherwise the sorted set of names found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { XMLBuilder } from 'fast-xml-parser';
import { parseVocAnnotation } from '../eval/voc-annotations';
import { GT_DROPPED, GT_NORMAL } from '../box/matcher';
import { UserError } from '../util/errors';
import { writeFileAtomicSync } from '../util/atomic';
import { defaultWarn } from './coco';
import { CategoryInfo, DetectionDataset, ImageEntry, emptyReport } from './types';
import { invalidBoxesError, vocBoxProblem } from './validate-boxes';

/** The 20 VOC classes in the devkit's order (detectron2 CLASS_NAMES). */
export const VOC_CLASSES = [
  'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

export const CLASS_LIST_FILE = 'classes.txt';

export interface VocLoadOptions {
  /** The year folder (holding Annotations/), or a VOCdevkit folder holding exactly one VOC* folder. */
  root: string;
  /** Image set name: ImageSets/Main/<imageSet>.txt. */
  imageSet: string;
  classNames?: string[];
  /** Drop boxes with non-positive size instead of failing. */
  skipInvalidBoxes?: boolean;
  checkFiles?: boolean;
  name?: string;
  onWarning?: (line: string) => void;
}

const LIST_LIMIT = 8;
function listSome(items: string[], sep = ', '): string {
  const shown = items.slice(0, LIST_LIMIT).join(sep);
  return items.length > LIST_LIMIT ? `${shown}${sep}... and ${items.length - LIST_LIMIT} more` : shown;
}

function resolveYearFolder(root: string): string {
  const abs = path.resolve(root);
  if (!fs.existsSync(abs)) throw new UserError(`VOC folder not found: ${abs}`);
  if (fs.existsSync(path.join(abs, 'Annotations'))) return abs;
  const years = fs.readdirSync(abs).filter((d) => fs.existsSync(path.join(abs, d, 'Annotations')));
  if (years.length === 1) return path.join(abs, years[0]);
  throw new UserError(
    years.length ? `${abs} holds several VOC folders (${years.join(', ')})` : `${abs} has no Annotations/ folder: not a VOCdevkit year folder`,
    years.length ? `pass one of them, e.g. ${path.join(abs, years[0])}` : 'pass the folder holding Annotations/, JPEGImages/ and ImageSets/Main/ (e.g. VOCdevkit/VOC2007)',
  );
}

/** Load a VOCdevkit image set. */
export function loadVoc(options: VocLoadOptions): DetectionDataset {
  const year = resolveYearFolder(options.root);
  const warn = options.onWarning ?? defaultWarn;
  const report = emptyReport();
  const name = options.name ?? `${path.basename(year)}/${options.imageSet}`;
  const setFile = path.join(year, 'ImageSets', 'Main', `${options.imageSet}.txt`);
  if (!fs.existsSync(setFile)) {
    const main = path.join(year, 'ImageSets', 'Main');
    const sets = fs.existsSync(main) ? fs.readdirSync(main).filter((f) => f.endsWith('.txt') && !f.includes('_')).map((f) => f.slice(0, -4)) : [];
    throw new UserError(`image set file not found: ${setFile}`, sets.length ? `available sets: ${sets.join(', ')}` : 'expected ImageSets/Main/<set>.txt');
  }
  const keys = fs
    .readFileSync(setFile, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((k) => k && k.length > 0);
  if (keys.length === 0) throw new UserError(`${setFile} lists no images`, 'pass an image set with one image key per line');
  const missingXml = keys.filter((k) => !fs.existsSync(path.join(year, 'Annotations', `${k}.xml`)));
  if (missingXml.length) {
    throw new UserError(`${missingXml.length} of ${keys.length} annotation file(s) listed in ${path.basename(setFile)} are missing from ${path.join(year, 'Annotations')}: ${listSome(missingXml.map((k) => `${k}.xml`))}`);
  }
  // The evaluator's reader (one parser and one box check for VOC files in every command).
  const parsed = keys.map((k) => {
    const f = path.join(year, 'Annotations', `${k}.xml`);
    const a = parseVocAnnotation(fs.readFileSync(f, 'utf8'), path.relative(year, f));
    return { filename: a.filename || undefined, widthPx: a.width, heightPx: a.height, objects: a.objects };
  });

  // Class list.
  let classNames = options.classNames;
  const classFile = path.join(year, CLASS_LIST_FILE);
  if (!classNames && fs.existsSync(classFile)) {
    classNames = fs.readFileSync(classFile, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  }
  const found = new Set(parsed.flatMap((p) => p.objects.map((o) => o.name)));
  if (!classNames) classNames = [...found].every((n) => VOC_CLASSES.includes(n)) ? VOC_CLASSES : [...found].sort();
  const indexOf = new Map(classNames.map((n, i) => [n, i]));
  const unknown = [...found].filter((n) => !indexOf.has(n));
  if (unknown.length) {
    const where = keys.filter((_, i) => parsed[i].objects.some((o) => !indexOf.has(o.name)));
    throw new UserError(
      `${unknown.length} class name(s) not in the class list: ${listSome(unknown)} (in ${listSome(where.map((k) => `${k}.xml`))})`,
      `pass classNames (known: ${listSome(classNames)})`,
    );
  }
  const categories: CategoryInfo[] = classNames.map((n, index) => ({ index, id: index + 1, name: n }));

  // Images and boxes.
  const imageDir = path.join(year, 'JPEGImages');
  const missing: string[] = [];
  const invalid: string[] = [];
  let clipped = 0;
  let annId = 0;
  const images: ImageEntry[] = keys.map((key, i) => {
    const p = parsed[i];
    const candidates = [`${key}.jpg`, ...(p.filename ? [p.filename] : []), `${key}.png`, `${key}.jpeg`];
    const fileName = options.checkFiles === false ? candidates[0] : candidates.find((c) => fs.existsSync(path.join(imageDir, c)));
    if (!fileName) missing.push(`${key}.jpg`);
    const boxes: number[] = [];
    const classIdx: number[] = [];
    const ignore: number[] = [];
    const ids: number[] = [];
    const areas: number[] = [];
    p.objects.forEach((o, j) => {
      annId++;
      const problem = vocBoxProblem(o.bbox);
      if (problem) {
        invalid.push(`${key}.xml object #${j} (${o.name}): ${problem}`);
        return;
      }
      const [x, y, x2r, y2r] = [o.bbox[0] - 1, o.bbox[1] - 1, o.bbox[2], o.bbox[3]];
      const x1 = Math.max(0, x);
      const y1 = Math.max(0, y);
      const x2 = Math.min(p.widthPx, x2r);
      const y2 = Math.min(p.heightPx, y2r);
      if (!(x2 > x1 && y2 > y1)) {
        invalid.push(`${key}.xml object #${j} (${o.name}): box lies outside the ${p.widthPx}x${p.heightPx} image`);
        return;
      }
      if (x1 !== x || y1 !== y || x2 !== x2r || y2 !== y2r) clipped++;
      boxes.push(x1, y1, x2, y2);
      classIdx.push(indexOf.get(o.name)!);
      ignore.push(o.difficult ? GT_DROPPED : GT_NORMAL); // difficult objects neither help nor hurt
      ids.push(annId);
      areas.push((x2 - x1) * (y2 - y1));
    });
    return {
      id: i + 1,
      fileName: fileName ?? `${key}.jpg`,
      filePath: path.join(imageDir, fileName ?? `${key}.jpg`),
      widthPx: p.widthPx,
      heightPx: p.heightPx,
      boxes: Float32Array.from(boxes),
      classIdx: Int32Array.from(classIdx),
      ignore: Uint8Array.from(ignore),
      annotationIds: Int32Array.from(ids),
      areas: Float32Array.from(areas),
    };
  });
  if (missing.length) {
    throw new UserError(`${missing.length} of ${keys.length} image file(s) are missing from ${imageDir}: ${listSome(missing)}`, 'download the JPEGImages of this VOC year, or check the folder');
  }
  if (invalid.length && !options.skipInvalidBoxes) {
    throw invalidBoxesError(name, invalid, 'fix them, or skip them: skipInvalidBoxes: true in code, --skip-invalid-boxes on the command line');
  }
  if (invalid.length) {
    report.skippedInvalidBoxes = invalid.length;
    report.warnings.push(`${name}: skipped ${invalid.length} box(es) with non-positive size (first: ${invalid[0]})`);
  }
  if (clipped) {
    report.clippedBoxes = clipped;
    report.warnings.push(`${name}: clipped ${clipped} box(es) extending past their image to the image`);
  }
  for (const w of report.warnings) warn(w);
  report.images = images.length;
  report.annotations = images.reduce((s, im) => s + im.classIdx.length, 0);
  report.ignoreBoxes = images.reduce((s, im) => s + im.ignore.reduce((t, v) => t + v, 0), 0);
  report.imagesWithoutAnnotations = images.filter((im) => im.classIdx.length === 0).length;
  return { name, format: 'voc', imageDir, source: year, categories, images, report };
}

export interface VocWriteOptions {
  /** The year folder to create (e.g. out/VOCdevkit/MNISTDET). Existing files of the same keys are overwritten. */
  outDir: string;
  imageSet: string;
  /**
   * 'copy' (default): image files are copied byte for byte into JPEGImages/, keeping their format
   * and extension (PNG stays PNG; the xml <filename> names it; loadVoc finds it).
   * 'jpeg': non-JPEG images are re-encoded as <key>.jpg (quality `jpegQuality`), as the original
   * devkit expects; lossy.
   */
  images?: 'copy' | 'jpeg';
  jpegQuality?: number;
  /** Database name in <source>. */
  database?: string;
}

/** VOC key of a file name: its base name without extension, with folders joined by "_". */
function keyOf(fileName: string): string {
  const noExt = fileName.replace(/\.[^./\\]+$/, '');
  return noExt.replace(/[\\/]/g, '_');
}

/** VOC coordinate text: integers when the value is integral (most tools parse int()), else 2 decimals. */
function coord(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Number.isInteger(r) ? String(r) : r.toFixed(2);
}

/**
 * Write `ds` in VOCdevkit layout (Annotations/, JPEGImages/, ImageSets/Main/<set>.txt and
 * classes.txt). Ignore boxes are written as difficult. Returns the year folder.
 */
export async function writeVoc(ds: DetectionDataset, options: VocWriteOptions): Promise<string> {
  const out = path.resolve(options.outDir);
  const mode = options.images ?? 'copy';
  for (const sub of ['Annotations', 'JPEGImages', path.join('ImageSets', 'Main')]) fs.mkdirSync(path.join(out, sub), { recursive: true });
  const keys = ds.images.map((im) => keyOf(im.fileName));
  const seen = new Map<string, string>();
  keys.forEach((k, i) => {
    const prev = seen.get(k);
    if (prev !== undefined) throw new UserError(`two images map to the same VOC key "${k}": ${prev} and ${ds.images[i].fileName}`, 'rename one of them');
    seen.set(k, ds.images[i].fileName);
  });
  const builder = new XMLBuilder({ format: true, indentBy: '\t', suppressEmptyNode: false });
  for (let i = 0; i < ds.images.length; i++) {
    const im = ds.images[i];
    const key = keys[i];
    const ext = path.extname(im.fileName).toLowerCase();
    const isJpeg = ext === '.jpg' || ext === '.jpeg';
    let outName: string;
    if (mode === 'copy' || isJpeg) {
      outName = `${key}${ext || '.jpg'}`;
      fs.copyFileSync(im.filePath, path.join(out, 'JPEGImages', outName));
    } else {
      outName = `${key}.jpg`;
      await sharp(im.filePath).jpeg({ quality: options.jpegQuality ?? 95 }).toFile(path.join(out, 'JPEGImages', outName));
    }
    const meta = await sharp(path.join(out, 'JPEGImages', outName)).metadata();
    const objects = Array.from(im.classIdx, (c, k) => ({
      name: ds.categories[c].name,
      pose: 'Unspecified',
      truncated: 0,
      difficult: im.ignore[k] ? 1 : 0,
      bndbox: {
        xmin: coord(im.boxes[4 * k] + 1),
        ymin: coord(im.boxes[4 * k + 1] + 1),
        xmax: coord(im.boxes[4 * k + 2]),
        ymax: coord(im.boxes[4 * k + 3]),
      },
    }));
    const doc = {
      annotation: {
        folder: path.basename(out),
        filename: outName,
        source: { database: options.database ?? ds.name },
        size: { width: im.widthPx, height: im.heightPx, depth: meta.channels ?? 3 },
        segmented: 0,
        ...(objects.length ? { object: objects } : {}),
      },
    };
    writeFileAtomicSync(path.join(out, 'Annotations', `${key}.xml`), builder.build(doc) as string);
  }
  writeFileAtomicSync(path.join(out, 'ImageSets', 'Main', `${options.imageSet}.txt`), keys.join('\n') + '\n');
  writeFileAtomicSync(path.join(out, CLASS_LIST_FILE), ds.categories.map((c) => c.name).join('\n') + '\n');
  return out;
}
