/**
 * Anchor sets named on the command line or in a notebook: an anchor spec (README "Anchor specs"),
 * or a result file of an anchor search — the greedy search's search.json, a k-means or evolution
 * result (lib/search/kmeans.ts) — whose "anchors" field is a spec.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AnchorConfig, parseAnchorSpec } from '../anchors';
import { readJsonFile } from '../util/files';
import { UserError } from '../util/errors';

/** Longest spec kept as a display name; longer lists are named by their size. */
const MAX_NAME = 24;

export function anchorSetFromArg(arg: string): AnchorConfig {
  const text = arg.trim();
  if (text.toLowerCase().endsWith('.json')) {
    if (!fs.existsSync(text))
      throw new UserError(`anchor set file ${text} not found`, 'give an anchor spec (3x3, "h:32,w:64; ...") or the json of an anchor search');
    const json = readJsonFile(text, 'anchor set') as { anchors?: unknown; method?: unknown };
    if (typeof json?.anchors !== 'string')
      throw new UserError(`${text} has no "anchors" spec`, 'pass a search.json or the --json output of `metaanchor anchors kmeans|evolve`');
    const config = parseAnchorSpec(json.anchors);
    const method = typeof json.method === 'string' ? json.method : path.basename(text, '.json');
    return { ...config, name: `${method} (${config.shapes.length})` };
  }
  const config = parseAnchorSpec(text);
  return config.name.length > MAX_NAME ? { ...config, name: `${config.shapes.length} anchors` } : config;
}
