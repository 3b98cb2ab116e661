/**
 * One verdict on a ground-truth box for every command that reads it (docs/CONTRACT.md "Boxes"):
 * the loaders (coco.ts, voc.ts) and the VOC evaluator (lib/eval/voc.ts) reject the same boxes
 * with the same message, so `eval voc` and `evaluate --voc` agree on a file.
 */
import { UserError } from '../util/errors';

const LIST_LIMIT = 8;

/**
 * A VOC object's box problem, or null. VOC boxes are 1-based inclusive pixel indices, so a box is
 * xmax - xmin + 1 pixels wide: xmax = xmin is one pixel, xmax < xmin is no box.
 */
export function vocBoxProblem([xmin, ymin, xmax, ymax]: readonly number[]): string | null {
  if (![xmin, ymin, xmax, ymax].every(Number.isFinite)) return `xmin ${xmin}, ymin ${ymin}, xmax ${xmax}, ymax ${ymax}: not finite numbers`;
  if (xmax < xmin || ymax < ymin) return `xmin ${xmin}, ymin ${ymin}, xmax ${xmax}, ymax ${ymax}`;
  return null;
}

/** The error for boxes with non-positive size; `where` names the file or dataset. */
export function invalidBoxesError(where: string, invalid: readonly string[], hint: string): UserError {
  const shown = invalid.slice(0, LIST_LIMIT).join('\n  ');
  const more = invalid.length > LIST_LIMIT ? `\n  ... and ${invalid.length - LIST_LIMIT} more` : '';
  return new UserError(`${where}: ${invalid.length} box(es) with non-positive size:\n  ${shown}${more}`, hint);
}
