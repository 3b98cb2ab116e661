/**
 * Result-cache keys: a hash of the full configuration, so that a table cell reruns only what
 * changed. Keys are computed over a canonical JSON (object keys sorted at every depth), so field
 * order never matters and every field — down to one learning-rate decay step — does.
 */
import { createHash } from 'node:crypto';
import { TrainConfig } from '../train/config';

/** JSON with object keys sorted recursively; undefined fields are left out, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as Record<string, unknown>).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

/** First 12 hex digits of the SHA-256 of the canonical JSON (48 bits: no collisions at table scale). */
export function configHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 12);
}

/**
 * A run folder name people can read, followed by the hash that makes it unique:
 * "metaanchor-5x5-iou0.6-0.5-seed0-1a2b3c4d5e6f", and for the YOLOv2 port (whose region layer
 * matches by its own rules, not by the IoU thresholds) "yolov2-metaanchor-quick-seed0-...". The
 * readable part is a label only; the hash covers every field.
 */
export function runFolderName(cfg: TrainConfig): string {
  if (cfg.detector !== 'yolov2') return retinaNetStyleName(cfg);
  const parts: string[] = ['yolov2', cfg.method];
  if (cfg.method === 'metaanchor' && cfg.generator === 'dependent') parts.push('dependent');
  if (cfg.anchors !== 'yolov2') parts.push(fileNameLabel(cfg.anchors));
  if (cfg.dropBoxes) parts.push('drop');
  parts.push(`${cfg.preset}`, `seed${cfg.seed}`);
  return `${parts.join('-')}-${configHash(cfg)}`;
}

/**
 * Names a run's folder had in earlier versions, for the results cache to find and rename: YOLOv2
 * runs were named like RetinaNet runs ("baseline-yolov2-iou0.5-0.4-..."). None for RetinaNet runs.
 */
export function previousRunFolderNames(cfg: TrainConfig): string[] {
  return cfg.detector === 'yolov2' ? [retinaNetStyleName(cfg)] : [];
}

function retinaNetStyleName(cfg: TrainConfig): string {
  const parts: string[] = [cfg.method];
  if (cfg.method === 'metaanchor' && cfg.generator === 'dependent') parts.push('dependent');
  parts.push(fileNameLabel(cfg.anchors));
  parts.push(`iou${cfg.posIou}-${cfg.negIou}`);
  if (cfg.dropBoxes) parts.push('drop');
  parts.push(`${cfg.preset}`, `seed${cfg.seed}`);
  return `${parts.join('-')}-${configHash(cfg)}`;
}

/** `text` as part of a file name: every run of characters other than letters, digits and '.' becomes '_'; at most 40 characters. */
export function fileNameLabel(text: string): string {
  return text.replace(/[^A-Za-z0-9.]+/g, '_').slice(0, 40);
}
