/**
 * `metaanchor anchors kmeans|evolve`: data-driven anchor sets, the baselines of the paper's greedy
 * search (lib/search/kmeans.ts): YOLOv2's k-means with 1 - IoU, YOLOv5's k-means + evolution.
 *   anchors kmeans [--data <json> | --voc <dir>] [--k 9] [--seed 0] [--json] [--out <file.json>]
 *   anchors evolve ... [--generations 1000] [--anchor-t 4]
 * The printed spec works with `train --anchors` (baseline) and `evaluate --anchors` (MetaAnchor);
 * --out writes a file `data stats --anchors` and notebooks read.
 */
import * as path from 'node:path';
import { Command } from 'commander';
import { anchorCoverageReport, parseAnchorSpec, tableOneConfig } from '../../anchors';
import { openDataset } from '../../data/open';
import { collectInputBoxes } from '../../data/stats';
import { formatCoverageReports } from '../../data/stats-report';
import { AnchorSearchMethod, searchAnchorsFromBoxes } from '../../search/kmeans';
import { writeJsonAtomicSync } from '../../util/atomic';
import { UserError } from '../../util/errors';
import { GeometryOpts, SourceOpts, addGeometryOptions, addSourceOptions, geometryNote, geometryOf, specOf } from './data';

function whole(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new UserError(`${name} must be a whole number >= ${min}, got "${v}"`, `e.g. ${name} ${name === '--k' ? 9 : name === '--generations' ? 1000 : 0}`);
    return n;
  };
}

interface AnchorsCliOptions extends SourceOpts, GeometryOpts {
  k: number;
  seed: number;
  generations: number;
  anchorT: number;
  posIou: number;
  json?: boolean;
  out?: string;
}

async function run(method: AnchorSearchMethod, o: AnchorsCliOptions): Promise<void> {
  if (!(o.anchorT > 1)) throw new UserError(`--anchor-t must be > 1, got ${o.anchorT}`, 'YOLOv5 uses 4');
  if (!(o.posIou > 0 && o.posIou <= 1)) throw new UserError(`--pos-iou must be in (0, 1], got ${o.posIou}`, 'the matcher uses 0.5 (or 0.6, Table 2)');
  const { dataset, input } = await openDataset(specOf(o));
  const full = geometryOf(input, o);
  const ib = collectInputBoxes(dataset, full);
  const result = searchAnchorsFromBoxes(ib.boxes, method, { k: o.k, seed: o.seed, generations: o.generations, anchorT: o.anchorT, dataset: dataset.name });
  if (o.out) writeJsonAtomicSync(path.resolve(o.out), result);
  if (o.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const found = { ...parseAnchorSpec(result.anchors), name: method };
  const coverage = [found, tableOneConfig('3x3')].map((c) => anchorCoverageReport(ib, c, { posIou: o.posIou, anchorT: o.anchorT }));
  const lines = [
    `${method} on ${dataset.name}: ${result.boxes} boxes in ${geometryNote(full)}, k ${result.k}, seed ${result.seed}, ${result.seconds.toFixed(1)} s`,
    `  k-means (1 - IoU, boxes folded to P3): mean IoU with the centroid ${result.kmeansMeanIou.toFixed(3)} after ${result.kmeansIterations} iterations; YOLOv5 fitness ${result.kmeansFitness.toFixed(4)}`,
    ...(method === 'evolve'
      ? [
          `  evolution: ${result.generations} generations, ${result.accepted} accepted, fitness ${result.kmeansFitness.toFixed(4)} -> ${result.fitness.toFixed(4)}`,
        ]
      : []),
    `  anchors (h, w at P3; one shape per position on every level P3-P7): ${result.anchors}`,
    ...formatCoverageReports(coverage),
    `  train a baseline:      npx metaanchor train --method baseline --anchors "${result.anchors}" --out runs/<name>`,
    `  MetaAnchor inference:  npx metaanchor evaluate --checkpoint <metaanchor run> --anchors "${result.anchors}"`,
  ];
  if (o.out) lines.push(`-> ${path.resolve(o.out)} (data stats --anchors ${o.out})`);
  console.log(lines.join('\n'));
}

export function register(program: Command): void {
  const anchors = program
    .command('anchors')
    .description('data-driven anchor sets (baselines of the greedy search): YOLOv2 k-means, YOLOv5 k-means + evolution');
  for (const method of ['kmeans', 'evolve'] as const) {
    const cmd = addGeometryOptions(
      addSourceOptions(
        anchors
          .command(method)
          .description(
            method === 'kmeans'
              ? 'k-means on box (w, h) with distance 1 - IoU (YOLOv2), boxes folded to P3 sizes; prints an anchor spec'
              : "k-means, then YOLOv5's genetic evolution of the ratio-metric fitness (p 0.9, sigma 0.1); prints an anchor spec",
          ),
      ),
    )
      .option('--k <n>', 'anchor shapes per position (Table 1: 3x3 = 9)', whole('--k', 1), 9)
      .option('--seed <n>', 'seed of the k-means initialisation and the mutations', whole('--seed', 0), 0)
      .option('--anchor-t <t>', "YOLOv5's anchor_t (fitness and ratio BPR)", Number, 4)
      .option('--pos-iou <iou>', "the matcher's positive IoU for the printed coverage", Number, 0.5)
      .option('--json', 'print the result file as JSON')
      .option('--out <file.json>', 'write the result file ({"method", "anchors", ...})');
    if (method === 'evolve') cmd.option('--generations <n>', 'generations of evolution', whole('--generations', 1), 1000);
    cmd.action((o: AnchorsCliOptions) => run(method, o));
  }
}
