/**
 * `metaanchor analyze --gt <instances.json> --dt <results.json> [--json] [--html out.html]`:
 * PR curves, AP by size and aspect ratio, TIDE's error breakdown and a confusion matrix of a COCO
 * results file (lib/analysis).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { analysisHtml, analyzeDetections, formatAnalysis } from '../../analysis';
import { parseSpecNumber } from '../../anchors';
import { UserError } from '../../util/errors';

function number(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UserError(`--${name} expects a number, got "${v}"`, 'defaults: --tf 0.5 --tb 0.1 --score 0.3');
    return n;
  };
}

function ratioEdges(v: string): number[] {
  const edges = v.split(',').map((s) => parseSpecNumber(s.trim()));
  if (edges.some((e) => !(e > 0))) throw new UserError(`--ratio-bins "${v}" must be positive numbers separated by commas`, 'e.g. --ratio-bins 1/3,2/3,3/2,3');
  return edges;
}

interface AnalyzeCliOptions {
  gt: string;
  dt: string;
  json?: boolean;
  html?: string;
  tf: number;
  tb: number;
  score: number;
  ratioBins?: number[];
}

export function register(program: Command): void {
  program
    .command('analyze')
    .description('why a COCO number is what it is: PR curves, AP by size and aspect ratio, TIDE error breakdown (dAP), confusion matrix')
    .requiredOption('--gt <instances.json>', 'ground truth, COCO instances format')
    .requiredOption('--dt <results.json>', 'detections, COCO results format')
    .option('--json', 'print everything as JSON: {"ap": {"0.5", "0.75", "0.5:0.95"}, "errors": {"cls", "loc", "both", "dupe", "bkg", "miss"}, ...} (fractions)')
    .option('--html <file>', 'also write a self-contained HTML page with the plots')
    .option('--tf <iou>', 'TIDE foreground IoU t_f (one of 0.5, 0.55, ..., 0.95)', number('tf'), 0.5)
    .option('--tb <iou>', 'TIDE background IoU t_b', number('tb'), 0.1)
    .option('--score <s>', 'confusion matrix: detections with score >= s', number('score'), 0.3)
    .option('--ratio-bins <edges>', 'aspect-ratio bin edges on w/h (default 1/3,2/3,3/2,3)', ratioEdges)
    .action((o: AnalyzeCliOptions) => {
      const a = analyzeDetections(o.gt, o.dt, { tf: o.tf, tb: o.tb, ratioEdges: o.ratioBins, confusion: { scoreThreshold: o.score } });
      if (o.html) {
        const out = path.resolve(o.html);
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, analysisHtml(a, `Detection analysis: ${path.basename(o.dt)} on ${path.basename(o.gt)}`));
      }
      if (o.json) {
        console.log(JSON.stringify(a));
        return;
      }
      console.log(formatAnalysis(a));
      if (o.html) console.log(`-> ${path.resolve(o.html)}`);
    });
}
