/**
 * The result file of a greedy anchor search (Sec. 4.1.2), `<run>/search.json`: the final anchor
 * list and the trace of every candidate tried. `metaanchor detect --anchors search` reads it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, parseAnchorSpec } from '../anchors';
import { UserError } from '../util/errors';
import { writeJsonAtomicSync } from '../util/atomic';

export const SEARCH_FILE = 'search.json';

export interface SearchTraceEntry {
  step: number;
  /** The candidate anchor as a spec item, e.g. "s:1.149,r:0.5". */
  anchor: string;
  kept: boolean;
  /** Score (mmAP on the search subset) after this step: the new score if kept, else the previous one. */
  mmAP: number;
  /** Score the set would have had with this candidate. */
  candidateMmAP: number;
}

export interface SearchResultFile {
  /** Spec of the final anchor list (parseAnchorSpec syntax). */
  anchors: string;
  /** Starting configuration and its score. */
  start: string;
  startMmAP: number;
  finalMmAP: number;
  subsetImages: number;
  seed: number;
  trace: SearchTraceEntry[];
  seconds: number;
}

export function writeSearchResult(file: string, result: SearchResultFile): void {
  writeJsonAtomicSync(file, result);
}

/** The searched anchors of a run folder (or a search json file). */
export function readSearchResult(runDirOrFile: string): { anchors: AnchorConfig; file: SearchResultFile } {
  const file = runDirOrFile.endsWith('.json') ? runDirOrFile : path.join(runDirOrFile, SEARCH_FILE);
  if (!fs.existsSync(file)) {
    throw new UserError(`no search result at ${file}`, `run \`npx metaanchor search --checkpoint ${runDirOrFile}\` first`);
  }
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as SearchResultFile;
  if (typeof parsed.anchors !== 'string') throw new UserError(`${file} has no "anchors" field`, 'rerun the search');
  return { anchors: parseAnchorSpec(parsed.anchors), file: parsed };
}
