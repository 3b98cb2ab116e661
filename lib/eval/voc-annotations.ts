/**
 * Readers for the PASCAL VOCdevkit layout:
 *   Annotations/<id>.xml                      one annotation file per image
 *   ImageSets/Main/<set>.txt                  image ids, one per line
 *   results/.../comp4_det_test_<class>.txt    detections, `<image_id> <score> <xmin> <ymin> <xmax> <ymax>`
 * Coordinates are kept exactly as written: VOC boxes are 1-based inclusive pixel coordinates, and
 * the evaluator applies the devkit's +1 convention itself.
 */
import * as fs from 'node:fs';
import { XMLParser } from 'fast-xml-parser';
import { UserError } from '../util/errors';

export interface VocObject {
  /** Class name, whitespace-trimmed. */
  name: string;
  /** [xmin, ymin, xmax, ymax], inclusive pixel coordinates as in the file (1-based in VOC). */
  bbox: [number, number, number, number];
  /** `<difficult>1</difficult>`: excluded from evaluation (neither counted nor penalised). Absent = false. */
  difficult: boolean;
  /** `<truncated>1</truncated>`. Absent = false. */
  truncated: boolean;
}

export interface VocAnnotation {
  filename: string;
  /** Image size in px from `<size>`; NaN when the file has no `<size>` and `requireSize` is false. */
  width: number;
  height: number;
  objects: VocObject[];
}

export interface ReadVocAnnotationOptions {
  /** Throw when `<size>` is missing or invalid (default true). Evaluation does not need it. */
  requireSize?: boolean;
}

// `object` is the only repeated element we read; everything else is a single child. Tag values stay
// strings (parseTagValue: false) so that a filename such as "000005" keeps its leading zeros.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (tagName: string) => tagName === 'object',
});

function text(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (typeof x === 'number') return String(x);
  return undefined;
}

function flag(x: unknown, what: string, source: string, index: number): boolean {
  const s = text(x);
  if (s === undefined || s === '') return false;
  const v = Number(s);
  if (v === 0 || v === 1) return v === 1;
  throw new UserError(`${source}: object #${index} has <${what}>${s}</${what}>, expected 0 or 1`, `fix the annotation file`);
}

/** Parses the text of one VOC annotation file; `source` names it in errors. */
export function parseVocAnnotation(xml: string, source: string, options: ReadVocAnnotationOptions = {}): VocAnnotation {
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml, true) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`${source} is not well-formed XML: ${(err as Error).message}`, 'fix or regenerate the annotation file');
  }
  const ann = doc.annotation;
  if (typeof ann !== 'object' || ann === null) {
    throw new UserError(`${source} has no <annotation> root element`, 'pass a PASCAL VOC annotation file (Annotations/<id>.xml)');
  }
  const a = ann as Record<string, unknown>;
  const size = (typeof a.size === 'object' && a.size !== null ? a.size : {}) as Record<string, unknown>;
  let width = Number(text(size.width) ?? NaN);
  let height = Number(text(size.height) ?? NaN);
  if (!(width > 0 && height > 0 && Number.isFinite(width) && Number.isFinite(height))) {
    if (options.requireSize ?? true) {
      throw new UserError(`${source} has no valid <size><width>/<height>`, 'add the image size to the annotation file');
    }
    width = NaN;
    height = NaN;
  }
  const rawObjects = Array.isArray(a.object) ? (a.object as unknown[]) : [];
  const objects = rawObjects.map((raw, i): VocObject => {
    const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const name = text(o.name);
    if (!name) {
      throw new UserError(`${source}: object #${i} has no <name>`, 'every <object> needs a class <name>');
    }
    const box = (typeof o.bndbox === 'object' && o.bndbox !== null ? o.bndbox : null) as Record<string, unknown> | null;
    const coords = ['xmin', 'ymin', 'xmax', 'ymax'].map((k) => {
      const s = box ? text(box[k]) : undefined;
      return s === undefined || s === '' ? NaN : Number(s);
    });
    if (!box || coords.some((v) => !Number.isFinite(v))) {
      throw new UserError(`${source}: object #${i} (${name}) has no valid <bndbox> with numeric xmin, ymin, xmax, ymax`, 'fix the annotation file');
    }
    return {
      name,
      bbox: coords as [number, number, number, number],
      difficult: flag(o.difficult, 'difficult', source, i),
      truncated: flag(o.truncated, 'truncated', source, i),
    };
  });
  const filename = text(a.filename) ?? '';
  return { filename, width, height, objects };
}

/** Reads Annotations/<id>.xml of a VOCdevkit. */
export function readVocAnnotation(filePath: string, options: ReadVocAnnotationOptions = {}): VocAnnotation {
  let xml: string;
  try {
    xml = fs.readFileSync(filePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot read VOC annotation ${filePath}` + (code ? ` (${code})` : ''),
      'check --annotations: it must be the folder holding <image_id>.xml for every id of the image set',
    );
  }
  return parseVocAnnotation(xml, filePath, options);
}

/**
 * Reads an ImageSets/Main/<set>.txt: the first whitespace-separated token of every non-empty line
 * (so the per-class `<id> <±1>` lists work too), in file order.
 */
export function readVocImageSet(filePath: string): string[] {
  let content: string;
  try {
    content = fs.readFileSync(filePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read image set ${filePath}` + (code ? ` (${code})` : ''), 'check --imageset');
  }
  const ids: string[] = [];
  for (const line of content.split(/\r?\n/)) {
    const token = line.trim().split(/\s+/)[0];
    if (token) ids.push(token);
  }
  return ids;
}

export interface VocDetectionLine {
  image: string;
  score: number;
  bbox: [number, number, number, number];
}

/** Parses the text of a detection file, lines `<image_id> <score> <xmin> <ymin> <xmax> <ymax>`. */
export function parseVocDetections(content: string, source: string): VocDetectionLine[] {
  const out: VocDetectionLine[] = [];
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const f = line.split(/\s+/);
    const nums = f.slice(1).map(Number);
    if (f.length !== 6 || nums.some((v) => !Number.isFinite(v))) {
      throw new UserError(
        `${source}:${i + 1}: expected "<image_id> <score> <xmin> <ymin> <xmax> <ymax>", got "${line.slice(0, 200)}"`,
        'write one detection per line: image id, score and 4 box coordinates, separated by spaces',
      );
    }
    out.push({ image: f[0], score: nums[0], bbox: [nums[1], nums[2], nums[3], nums[4]] });
  }
  return out;
}

/** Reads a comp4_det_test_<class>.txt detection file. */
export function readVocDetections(filePath: string): VocDetectionLine[] {
  let content: string;
  try {
    content = fs.readFileSync(filePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot read detection file ${filePath}` + (code ? ` (${code})` : ''),
      'write one file per class (an empty file for a class without detections)',
    );
  }
  return parseVocDetections(content, filePath);
}
