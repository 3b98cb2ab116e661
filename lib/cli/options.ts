/**
 * Parsers of command-line values, shared by every command so that the same bad value gets the same
 * verdict everywhere: counts are whole numbers in their range, numbers are finite (and positive
 * where zero makes no sense). Commander calls them while parsing, before any work starts.
 */
import { UserError } from '../util/errors';

/** A whole number >= min (counts, sizes, seeds, indices). */
export function intOption(name: string, min = 0): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) {
      throw new UserError(`${name} must be a whole number >= ${min}, got "${v}"`, `e.g. ${name} ${Math.max(min, 1)}`);
    }
    return n;
  };
}

/** A finite number, optionally > 0. */
export function numberOption(name: string, { positive = false, min, max }: { positive?: boolean; min?: number; max?: number } = {}): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (positive && !(n > 0))) {
      throw new UserError(`${name} must be a ${positive ? 'positive ' : ''}number, got "${v}"`, positive ? `e.g. ${name} 0.01` : undefined);
    }
    if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
      throw new UserError(
        `${name} must be between ${min ?? '-inf'} and ${max ?? 'inf'}, got "${v}"`,
        `e.g. ${name} ${min !== undefined && max !== undefined ? (min + max) / 2 : (min ?? max)}`,
      );
    }
    return n;
  };
}

/** A comma-separated option as its trimmed, non-empty items (undefined when not given). */
export function listOption(v: string | undefined): string[] | undefined {
  return v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
