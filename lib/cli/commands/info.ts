import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { BackendChoice, initBackend } from '../../backend';
import { AdapterReport, formatAdapter } from '../../backend/webgpu';

interface WebgpuSummary {
  available: boolean;
  adapter?: AdapterReport;
  reason?: string;
  hint?: string;
}

/** What `info` says about WebGPU: the adapter in use, or why it was not used and what to install. */
export function webgpuSummary(choice: BackendChoice): WebgpuSummary {
  if (choice.adapter) return { available: true, adapter: choice.adapter };
  const skip = choice.skipped.find((s) => s.kind === 'webgpu');
  if (skip) return { available: false, reason: skip.reason, hint: skip.hint };
  return { available: false, reason: `not tried (${choice.kind} was chosen first or requested)` };
}

export function formatWebgpuSummary(w: WebgpuSummary): string {
  if (w.adapter) {
    const a = w.adapter;
    return [
      `webgpu adapter: ${formatAdapter(a)}`,
      `  vendor ${a.vendor || '(not reported)'}, architecture ${a.architecture || '(not reported)'}, device ${a.device || '(not reported)'}, API ${a.api} (${a.featureLevel})`,
      `  features: ${a.features.join(', ') || 'none'}`,
    ].join('\n');
  }
  return `webgpu: unavailable: ${w.reason}` + (w.hint ? `\n  to use it: ${w.hint}` : '');
}

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
        webgpu: webgpuSummary(choice),
      };
      if (opts.json) console.log(JSON.stringify(report, null, 2));
      else console.log(choice.line + `\ntfjs ${tf.version.tfjs}, node ${process.version}\n` + formatWebgpuSummary(report.webgpu));
    });
}
