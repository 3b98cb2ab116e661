/**
 * Locates the reference evaluation cases (test/fixtures/eval-cases/coco/<case>/{gt,dt,expected}.json and
 * test/fixtures/eval-cases/voc/<case>/{case,expected}.json, produced by pycocotools and py-faster-rcnn's voc_eval)
 * and compares numbers against them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';

/** The cases shipped in test/fixtures/eval-cases (its README says where they came from). */
export const EVAL_CASES_ROOT = path.resolve(__dirname, '../fixtures/eval-cases');

/** Case folders under eval-cases/<kind>, sorted; fails loudly when the reference cases are missing. */
export function listCases(kind: 'coco' | 'voc'): string[] {
  const dir = path.join(EVAL_CASES_ROOT, kind);
  assert.ok(fs.existsSync(dir), `reference cases not found at ${dir}`);
  const names = fs
    .readdirSync(dir)
    .filter((name) => fs.statSync(path.join(dir, name)).isDirectory() && fs.existsSync(path.join(dir, name, 'expected.json')))
    .sort();
  assert.ok(names.length > 0, `no cases in ${dir}`);
  return names.map((name) => path.join(dir, name));
}

export function readJson<T = any>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

export const TOLERANCE = 1e-9;

/** |actual - expected| <= 1e-9; `null` in the reference stands for NaN. */
export function assertClose(actual: number, expected: number | null, label: string): void {
  if (expected === null) {
    assert.ok(Number.isNaN(actual), `${label}: expected NaN (null), got ${actual}`);
    return;
  }
  assert.equal(typeof actual, 'number', `${label}: not a number: ${actual}`);
  assert.ok(Math.abs(actual - expected) <= TOLERANCE, `${label}: got ${actual}, expected ${expected} (diff ${actual - expected})`);
}
