/**
 * `metaanchor worker --queue redis://host:port [--concurrency n] [--runs-dir dir]`: train table runs
 * that `metaanchor table --queue` (or a notebook with METAANCHOR_QUEUE) queued, on this machine,
 * into the runs folder every worker and the submitter share (lib/experiments/queue-worker.ts).
 * Runs until stopped; Ctrl-C (or SIGTERM) stops the training processes, whose jobs another worker
 * takes again and resumes from their last checkpoint.
 */
import { Command } from 'commander';
import { defaultRunsDir } from '../../experiments/run-cache';
import { queueUrlFrom } from '../../experiments/parallel';
import { UserError } from '../../util/errors';

function parseConcurrency(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UserError(
      `--concurrency expects a whole number >= 1, got "${String(value)}"`,
      'e.g. --concurrency 2 (one training process per CPU core on the wasm backend)',
    );
  return n;
}

interface WorkerOpts {
  queue?: string;
  concurrency?: number;
  runsDir?: string;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('take table runs from a Redis run queue and train them here, into the shared runs folder (README "Many machines")')
    .option('--queue <url>', 'the Redis of the run queue, redis://host:port (default: env METAANCHOR_QUEUE)')
    .option('--concurrency <n>', 'runs trained at once, each in its own process (default 1; one per core on the wasm backend)', parseConcurrency)
    .option('--runs-dir <dir>', 'the shared runs folder (default: runs/tables, env METAANCHOR_RUNS_DIR)')
    .action(async (o: WorkerOpts) => {
      const url = queueUrlFrom(o.queue);
      if (!url) throw new UserError('worker: no queue given', 'pass --queue redis://host:port (or set METAANCHOR_QUEUE)');
      // Loaded here only: BullMQ takes about a second to load, which other commands need not pay.
      const { startQueueWorker } = require('../../experiments/queue-worker') as typeof import('../../experiments/queue-worker');
      const w = await startQueueWorker(url, { concurrency: o.concurrency, runsDir: o.runsDir ?? defaultRunsDir() });
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          process.stderr.write(`worker: ${signal}: stopping; running jobs will be taken again by a worker and resume from their last checkpoint\n`);
          void w.close().finally(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
