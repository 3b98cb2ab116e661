/**
 * `metaanchor bench [--quick] [--json] [--out file]`: training-step time against PyTorch on the
 * same layer lists, inference, evaluator and greedy-search throughput, peak memory (lib/bench/run.ts).
 * Progress goes to stderr; the table (or with --json one JSON object) to stdout and to --out.
 */
import { Command } from 'commander';
import { runBench } from '../../bench/run';
import { formatBenchReport } from '../../bench/report';
import { writeFileAtomicSync } from '../../util/atomic';
import { checkWritableFile } from '../../util/files';
import { intOption } from '../options';

export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmark: training step vs PyTorch (same nets), inference img/s, COCO evaluator, greedy search, peak memory')
    .option('--quick', 'fewer repetitions and images (a smoke check, ~1-2 min)')
    .option('--json', 'print one JSON object instead of the table')
    .option('--out <file>', 'also write the output (table or JSON) to this file')
    .option('--python <path>', 'Python interpreter with torch for bench/torch_reference.py', '/usr/bin/python3')
    .option('--torch-threads <n>', 'PyTorch threads', intOption('--torch-threads', 1), 2)
    .option('--no-torch', 'skip the PyTorch side')
    .action(async (opts: { quick?: boolean; json?: boolean; out?: string; python: string; torchThreads: number; torch: boolean }) => {
      const out = opts.out ? checkWritableFile(opts.out, '--out') : undefined;
      const result = await runBench({ quick: opts.quick, python: opts.python, torchThreads: opts.torchThreads, noTorch: !opts.torch });
      const text = opts.json ? JSON.stringify(result, null, 2) : formatBenchReport(result).join('\n');
      console.log(text);
      if (out) writeFileAtomicSync(out, text + '\n');
    });
}
