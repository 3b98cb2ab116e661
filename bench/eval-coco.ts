/**
 * Times COCO bbox evaluation on a case shaped like the perf_500img_80cat reference case (500 images,
 * 80 categories, 50,000 detections; generated unless --case names a folder with gt.json and dt.json),
 * the case pycocotools (3.32 s) and faster-coco-eval (0.31 s) were timed on for evaluate + accumulate
 * (docs/eval-cases.md).
 *
 *   npx tsx bench/eval-coco.ts [--runs N] [--case <dir with gt.json and dt.json>] [--json]
 *
 * Prints the JSON.parse time once and the median of N runs for each stage.
 */
import { benchCocoEval, formatCocoEvalBench } from '../lib/eval/bench';
import { formatError } from '../lib/util/errors';

async function run(): Promise<void> {
  const args = process.argv.slice(2);
  const valueOf = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const runs = valueOf('--runs');
  const result = await benchCocoEval({ runs: runs ? Number(runs) : undefined, caseDir: valueOf('--case') });
  if (args.includes('--json')) console.log(JSON.stringify(result, null, 2));
  else console.log(formatCocoEvalBench(result).join('\n'));
}

run().catch((err) => {
  console.error(formatError(err));
  process.exit(1);
});
