/**
 * The box statistics (stats.ts) and anchor coverage reports as the text `metaanchor data stats`
 * and `metaanchor anchors` print.
 */
import { AnchorCoverageReport } from '../anchors';
import { DatasetStats } from './stats';

function fmt(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a';
}

/**
 * The coverage reports as text: BPR at the matcher's IoU and by YOLOv5's ratio metric, AAT,
 * positives per box, and where boxes find their best anchor (share per FPN level).
 */
export function formatCoverageReports(reports: readonly AnchorCoverageReport[]): string[] {
  if (reports.length === 0) return [];
  const r0 = reports[0];
  const levels = r0.levels.map((l) => `P${l.level}`.padStart(5)).join('');
  const name = Math.max(8, ...reports.map((r) => r.anchors.length + 1));
  return [
    `  BPR = share of boxes an anchor reaches: best IoU >= ${r0.posIou} (the matcher's positive threshold), and YOLOv5's ratio metric > 1/${r0.anchorT};`,
    `  AAT = anchors (shape x level) per box above that ratio; pos/box = grid anchors at IoU >= ${r0.posIou}; best level = share of boxes whose best anchor is there:`,
    `    ${'anchors'.padEnd(name)}${'A'.padStart(4)}${'BPR IoU'.padStart(9)}${'BPR ratio'.padStart(10)}${'AAT'.padStart(6)}${'pos/box'.padStart(9)}${'no pos'.padStart(8)}  best level${levels}`,
    ...reports.map((r) =>
      `    ${r.anchors.padEnd(name)}${String(r.anchorsPerPosition).padStart(4)}${pct(r.bprIou).padStart(9)}${pct(r.bprRatio).padStart(10)}${fmt(r.aat, 1).padStart(6)}` +
      `${fmt(r.positivesPerBox, 1).padStart(9)}${pct(r.withoutPositive).padStart(8)}            ${r.levels.map((l) => pct(l.bestShare).replace('%', '').padStart(5)).join('')}`),
  ];
}

/** The stats as the text `metaanchor data stats` prints. */
export function formatStats(s: DatasetStats, inputNote = ''): string {
  const q = s.quantileLevels.map((l) => (l === 0 ? 'min' : l === 1 ? 'max' : `p${Math.round(l * 100)}`));
  const row = (label: string, vals: number[], d: number): string => `  ${label.padEnd(14)}${vals.map((v, i) => `${q[i]} ${fmt(v, d)}`).join('  ')}`;
  const lines = [
    `${s.name}: ${s.images} images, ${s.boxes} boxes` + (s.ignoreBoxes ? ` (+${s.ignoreBoxes} ignore regions)` : '') + (inputNote ? `, measured in ${inputNote}` : ''),
    `  objects/image mean ${fmt(s.objectsPerImage.mean, 2)}, min ${s.objectsPerImage.min}, max ${s.objectsPerImage.max}; ` +
      `images with k objects: ${s.objectsPerImage.histogram.map((c, k) => `${k}:${c}`).join(' ')}`,
    row('sqrt(wh) px', s.sizePxQuantiles, 1),
    row('ln(w/h)', s.logRatioWHQuantiles, 2),
    `  w/h < 1/3: ${pct(s.tallerThan3)}   w/h > 3: ${pct(s.widerThan3)}`,
    `  nearest anchor level by size: ${s.nearestLevel.map((l) => `${l.label} ${pct(l.fraction)}`).join(', ')}`,
    s.perClass.length <= 20
      ? `  per class: ${s.perClass.map((c) => `${c.name}:${c.count}`).join(' ')}`
      : `  per class (${s.perClass.filter((c) => c.count > 0).length} of ${s.perClass.length} categories have boxes): ` +
        s.perClass.filter((c) => c.count > 0).map((c) => `${c.name}:${c.count}`).join(' '),
    `  Table 4 drop range ${fmt(s.dropRange.sqrtMinPx)} < sqrt(wh) < ${fmt(s.dropRange.sqrtMaxPx)} px, ` +
      `${fmt(s.dropRange.logRatioMin, 2)} < ln(w/h) < ${fmt(s.dropRange.logRatioMax, 2)}: ${pct(s.droppedFraction)} of boxes dropped (paper: ~1/6 on COCO)`,
  ];
  if (s.coverage) {
    lines.push('  anchor coverage (best IoU of any anchor, P3-P7, RetinaNet base size 4*stride):');
    lines.push(`    ${'config'.padEnd(8)}${'A'.padStart(4)}${'mean IoU'.padStart(10)}${'>=0.4'.padStart(8)}${'>=0.5'.padStart(8)}${'>=0.6'.padStart(8)}`);
    for (const r of s.coverage) {
      lines.push(`    ${r.config.padEnd(8)}${String(r.anchorsPerPosition).padStart(4)}${fmt(r.meanBestIou, 3).padStart(10)}${pct(r.atLeast04).padStart(8)}${pct(r.atLeast05).padStart(8)}${pct(r.atLeast06).padStart(8)}`);
    }
  }
  if (s.anchorCoverage?.length) lines.push(...formatCoverageReports(s.anchorCoverage));
  return lines.join('\n');
}
