import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../backend';

export function register(program: Command): void {
  program
    .command('info')
    .description('show the TensorFlow.js backend that loads here, its kernels and versions')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const choice = await initBackend({ log: false });
      const report = {
        backend: choice.kind,
        tfBackend: choice.tfBackend,
        tfjs: tf.version.tfjs,
        node: process.version,
        skipped: choice.skipped,
        details: choice.details,
      };
      if (opts.json) console.log(JSON.stringify(report, null, 2));
      else console.log(choice.line + `\ntfjs ${tf.version.tfjs}, node ${process.version}`);
    });
}
