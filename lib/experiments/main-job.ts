/**
 * The main job's notebooks (`npm start` = `metaanchor table all --notebooks`): as soon as a table's
 * runs are trained (runner.ts onTableTrained), that table's notebooks are executed, one notebook
 * process at a time, beside the training workers, and written to outputs/ (executed .ipynb and a
 * self-contained .html, scripts/notebook.js). The notebooks find the runs in the cache; the
 * evaluations and searches they compute are cached too, so the tables printed at the end cost
 * nothing more. Notebooks that belong to no table run once the training is over.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../util/package-dir';
import { TableId } from './tables';

/** Notebooks (file names without .ipynb, in notebooks/) that show each table. */
export const TABLE_NOTEBOOKS: Readonly<Record<TableId, readonly string[]>> = {
  '2': ['02_table2'],
  '3': ['03_table3', '09_figure2'],
  '4': ['04_table4'],
  '5': ['05_table5'],
  '6': ['06_table6'],
  '7': ['07_table7'],
  '8': ['08_table8'],
};

export interface NotebookOutcome {
  notebook: string;
  ok: boolean;
  seconds: number;
  /** The exported page, when written. */
  html?: string;
  /** The runner's last lines (shown when the notebook failed). */
  tail: string;
}

export interface NotebookQueueOptions {
  profile: string;
  /** The results cache the notebooks read (the table command's --runs-dir), as METAANCHOR_RUNS_DIR. */
  runsDir?: string;
  /** Seeds given to the table command (--seeds), as METAANCHOR_SEEDS. */
  seeds?: readonly number[];
  /** Folder the executed notebooks go to (scripts/notebook.js default: outputs/). */
  outDir?: string;
  log: (line: string) => void;
}

/** Every notebook in notebooks/, by name without .ipynb. */
export function allNotebooks(root = projectRoot()): string[] {
  const dir = path.join(root, 'notebooks');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb') && !f.startsWith('.'))
    .map((f) => f.slice(0, -'.ipynb'.length))
    .sort();
}

/** Runs notebooks one process at a time, in the order they were added (each at most once). */
export class NotebookQueue {
  private readonly queued: string[] = [];
  private readonly seen = new Set<string>();
  private running: Promise<void> | undefined;
  readonly outcomes: NotebookOutcome[] = [];

  constructor(private readonly options: NotebookQueueOptions) {}

  add(notebooks: readonly string[], reason: string): void {
    const fresh = notebooks.filter((n) => !this.seen.has(n));
    if (fresh.length === 0) return;
    for (const n of fresh) this.seen.add(n);
    this.options.log(`${reason}: writing ${fresh.map((n) => `${n}.ipynb`).join(', ')} now`);
    this.queued.push(...fresh);
    if (!this.running) this.running = this.drain();
  }

  /** Resolves when every added notebook has run. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.queued.length > 0) {
      const name = this.queued.shift()!;
      const outcome = await this.runOne(name);
      this.outcomes.push(outcome);
      this.options.log(
        outcome.ok
          ? `notebook ${name} written in ${outcome.seconds.toFixed(0)} s: ${outcome.html ?? ''}`
          : `notebook ${name} FAILED after ${outcome.seconds.toFixed(0)} s:\n${outcome.tail}`,
      );
    }
    this.running = undefined;
  }

  private runOne(name: string): Promise<NotebookOutcome> {
    const root = projectRoot();
    const outDir = path.resolve(this.options.outDir ?? path.join(root, 'outputs'));
    const args = [path.join(root, 'scripts', 'notebook.js'), 'run', '--profile', this.options.profile, '--out', outDir, name];
    const t0 = Date.now();
    return new Promise((resolve) => {
      const env = { ...process.env };
      if (this.options.runsDir) env.METAANCHOR_RUNS_DIR = path.resolve(this.options.runsDir);
      if (this.options.seeds) env.METAANCHOR_SEEDS = this.options.seeds.join(',');
      const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
      let tail = '';
      const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-3000));
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const finish = (ok: boolean) => {
        const html = path.join(outDir, `${name}.html`);
        resolve({
          notebook: name,
          ok,
          seconds: (Date.now() - t0) / 1000,
          html: ok && fs.existsSync(html) ? path.relative(process.cwd(), html) || html : undefined,
          tail: tail.trim().split('\n').slice(-15).join('\n'),
        });
      };
      child.on('error', (err) => {
        tail += `\n${err.message}`;
        finish(false);
      });
      child.on('close', (code) => finish(code === 0));
    });
  }
}
