/**
 * Times COCO bbox evaluation on eval-cases/coco/perf_500img_80cat (500 images, 50,000 detections),
 * the case pycocotools (3.32 s) and faster-coco-eval (0.31 s) were timed on for evaluate + accumulate.
 *
 *   npx tsx bench/eval-coco.ts [--runs N] [--case <dir with gt.json and dt.json>] [--json]
 *
 * Prints the JSON.parse time once and the median of N runs for each stage.
 */
import { benchCocoEval, formatCocoEvalBench } from '../lib/eval/bench';

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
  console.error(err);
  process.exit(1);
});
