/**
 * Running a table: every cell's runs are trained (or found finished, or resumed) by parallel worker
 * processes (parallel.ts), then evaluated in this process with the cell's inference anchors; both
 * steps are cached on disk. The cache's layout, names and hashes: run-cache.ts; scoring a run:
 * run-eval.ts; Table 8's choice of a run among candidates: run-selection.ts.
 */
import * as path from 'node:path';
import { initBackend } from '../backend';
import { TrainConfig } from '../train/config';
import { formatDuration } from '../util/progress';
import { configHash } from './key';
import { ExperimentSettings, seedsFor } from './settings';
import { estimatedStepSeconds, trainRuns } from './parallel';
import { modelConfig } from '../model/config';
import { PRETRAINED_PREFIX } from '../train/pretrain';
import { ensurePretrained } from '../train/pretrain-trunk';
import { RunStatus, defaultRunsDir, runDirOf, seededConfig } from './run-cache';
import { EvalRecordFile, evaluateRun, metricValue } from './run-eval';
import { SelectionRecord, selectRun } from './run-selection';
import { CellSpec, Inference, TableSpec, cellTrainConfigs } from './tables';
import { statusStream } from '../util/log';

export interface SeedResult {
  seed: number;
  runDir: string;
  status: RunStatus;
  evalReused: boolean;
  eval: EvalRecordFile;
  /** Cells with a run selection (Table 8's RetinaNet*): how this seed's run was chosen. */
  selection?: SelectionRecord;
}

export interface CellResult {
  row: string;
  group: string;
  inference: Inference;
  seeds: SeedResult[];
}

export interface TableCounts {
  /** Runs trained from step 0, resumed from a checkpoint, or found finished. */
  trained: number;
  resumed: number;
  reused: number;
  /** Evaluations computed vs read from the cache. */
  evaluated: number;
  evalReused: number;
}

export interface TableResult {
  table: TableSpec;
  profile: string;
  seeds: number[];
  cells: CellResult[];
  counts: TableCounts;
  seconds: number;
}

export interface RunTableOptions {
  runsDir?: string;
  /** Training progress lines (default: on unless METAANCHOR_QUIET=1). */
  quiet?: boolean;
  /** One line per finished cell and training progress (default: stderr unless quiet). */
  log?: (line: string) => void;
  /**
   * Training worker processes (default: one per CPU core on the wasm/cpu backends, 1 on a native
   * backend; parallel.ts defaultJobs). 1 trains in this process, one run after another.
   */
  jobs?: number;
  /**
   * Called as soon as every run of a table is finished (tables then train one after another,
   * cheapest remaining first: tableOrder), while the other tables' runs go on training. The main
   * job writes each table's notebook from here (lib/experiments/main-job.ts).
   */
  onTableTrained?: (table: TableSpec) => void;
  /** Train the missing runs through this run queue (Redis URL; default env METAANCHOR_QUEUE): parallel.ts TrainRunsOptions.queue. */
  queue?: string;
}

/**
 * Train what is missing (in `jobs` worker processes, lib/experiments/parallel.ts), then evaluate
 * what is not cached, and collect every cell's per-seed stats.
 */
export async function runTable(table: TableSpec, settings: ExperimentSettings, options: RunTableOptions = {}): Promise<TableResult> {
  return (await runTables([table], settings, options))[0];
}

/**
 * Several tables at once: the runs of all of them (shared runs once) are trained first, so the
 * workers stay busy across table boundaries; then each table is evaluated.
 */
export async function runTables(tables: TableSpec[], settings: ExperimentSettings, options: RunTableOptions = {}): Promise<TableResult[]> {
  const t0 = Date.now();
  const runsDir = path.resolve(options.runsDir ?? defaultRunsDir());
  const quiet = options.quiet ?? process.env.METAANCHOR_QUIET === '1';
  const log = options.log ?? ((s: string) => (quiet ? undefined : statusStream().write(s + '\n')));
  const progressive = options.onTableTrained !== undefined;
  const cfgs = progressive ? tableOrder(tables, settings) : distinctRuns(tables, settings);
  await ensurePretrainedFor(cfgs, log);
  // Progressive: announce each table once all of its runs are finished.
  const pending = tables.map((t) => new Set(distinctRuns([t], settings).map((c) => runDirOf(runsDir, c))));
  const announced = new Set<number>();
  const announce = (doneDir?: string): void => {
    pending.forEach((dirs, i) => {
      if (doneDir) dirs.delete(doneDir);
      if (dirs.size === 0 && !announced.has(i)) {
        announced.add(i);
        options.onTableTrained?.(tables[i]);
      }
    });
  };
  const trained = await trainRuns(cfgs, runsDir, {
    jobs: options.jobs,
    queue: options.queue,
    quiet,
    log,
    keepOrder: progressive,
    onRunDone: progressive ? announce : undefined,
  });
  if (progressive) announce();
  const results: TableResult[] = [];
  for (const table of tables) {
    const t1 = results.length === 0 ? t0 : Date.now();
    const counts: TableCounts = { trained: 0, resumed: 0, reused: 0, evaluated: 0, evalReused: 0 };
    // A run shared by several cells of this table counts once.
    const seenRuns = new Set<string>();
    const cells: CellResult[] = [];
    const runOf = (train: TrainConfig, seed: number) => {
      const cfg = seededConfig(train, seed);
      const dir = runDirOf(runsDir, cfg);
      const status = trained.status.get(dir);
      if (!status) throw new Error(`run ${dir} was not trained`);
      if (!seenRuns.has(dir)) {
        seenRuns.add(dir);
        counts[status] += 1;
      }
      return { cfg, dir, status };
    };
    const metric = table.metrics[0];
    // A table with its own search (Table 7: YOLOv2's grid) evaluates with it; the others keep settings.search.
    const tableSettings = table.search ? { ...settings, search: table.search } : settings;
    for (const cell of table.cells) {
      const seeds: SeedResult[] = [];
      for (const seed of cellSeeds(settings, cell)) {
        let run = runOf(cell.train, seed);
        let selection: SelectionRecord | undefined;
        if (cell.select) {
          const pick = (train: TrainConfig) => runOf(train, seed);
          ({ run, selection } = await selectRun(cell.select, pick, tableSettings.search, (reused) => (counts[reused ? 'evalReused' : 'evaluated'] += 1)));
        }
        const ev = await evaluateRun(run.dir, run.cfg, cell.inference, tableSettings, table.evaluation);
        counts[ev.reused ? 'evalReused' : 'evaluated'] += 1;
        seeds.push({ seed, runDir: run.dir, status: run.status, evalReused: ev.reused, eval: ev.record, ...(selection ? { selection } : {}) });
      }
      cells.push({ row: cell.row, group: cell.group, inference: cell.inference, seeds });
      const values = seeds.map((s) => (100 * metricValue(s.eval, metric)).toFixed(1)).join(', ');
      const picked = seeds.some((s) => s.selection) ? `; picked ${seeds.map((s) => s.selection?.picked).join(', ')}` : '';
      log(`Table ${table.id} [${cell.row}${cell.group ? ` | ${cell.group}` : ''}] ${metric} ${values} (${seeds.map((s) => s.status).join(', ')})${picked}`);
    }
    const allSeeds = [...new Set(cells.flatMap((c) => c.seeds.map((x) => x.seed)))].sort((a, b) => a - b);
    results.push({ table, profile: settings.profile, seeds: allSeeds, cells, counts, seconds: (Date.now() - t1) / 1000 });
  }
  // The last status line, and in a notebook the one its status output keeps: a summary.
  log(runsSummary(results, (Date.now() - t0) / 1000));
  return results;
}

/** "Table 2: 16 runs (16 trained, 0 resumed, 0 reused), 16 evaluations (0 cached) in 34 s". */
export function runsSummary(results: Pick<TableResult, 'table' | 'counts'>[], seconds: number): string {
  const sum = (k: keyof TableCounts) => results.reduce((a, r) => a + r.counts[k], 0);
  const runs = sum('trained') + sum('resumed') + sum('reused');
  const evals = sum('evaluated') + sum('evalReused');
  const tables = results.map((r) => `Table ${r.table.id}`).join(', ');
  return (
    `${tables}: ${runs} run${runs === 1 ? '' : 's'} (${sum('trained')} trained, ${sum('resumed')} resumed, ${sum('reused')} reused), ` +
    `${evals} evaluation${evals === 1 ? '' : 's'} (${sum('evalReused')} cached) in ${formatDuration(seconds)}`
  );
}

/**
 * The runs of several tables in the order that finishes whole tables early: repeatedly the table
 * whose runs not yet scheduled cost least (estimated step seconds x steps), its runs longest first.
 */
export function tableOrder(tables: TableSpec[], settings: ExperimentSettings): TrainConfig[] {
  const cost = (c: TrainConfig) => estimatedStepSeconds(c) * c.steps;
  const scheduled = new Set<string>();
  const order: TrainConfig[] = [];
  const remaining = tables.map((t) => distinctRuns([t], settings));
  const left = new Set(remaining.keys());
  while (left.size > 0) {
    let best = -1;
    let bestCost = Infinity;
    for (const i of left) {
      const c = remaining[i].filter((x) => !scheduled.has(configHash(x))).reduce((a, x) => a + cost(x), 0);
      if (c < bestCost) [best, bestCost] = [i, c];
    }
    left.delete(best);
    const runs = remaining[best].filter((x) => !scheduled.has(configHash(x))).sort((a, b) => cost(b) - cost(a));
    for (const r of runs) {
      scheduled.add(configHash(r));
      order.push(r);
    }
  }
  return order;
}

/** Make (once, in this process) every pretrained initialisation the runs start from, before workers need it. */
export async function ensurePretrainedFor(cfgs: TrainConfig[], log: (s: string) => void): Promise<void> {
  const seen = new Set<string>();
  for (const cfg of cfgs) {
    const spec = cfg.initFrom?.weights;
    if (!spec?.startsWith(PRETRAINED_PREFIX) || cfg.detector === 'yolov2') continue;
    const model = modelConfig(cfg.preset, { ...cfg.model });
    const key = `${spec}:${configHash(model)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    await initBackend();
    await ensurePretrained(spec, model, { log });
  }
}

/**
 * Seeds of a cell: its configuration's (seedsFor); a cell choosing among runs (Table 8's RetinaNet*)
 * compares its candidates over the seeds they all have, the profile's.
 */
export function cellSeeds(settings: ExperimentSettings, cell: CellSpec): number[] {
  return cell.select ? settings.seeds : seedsFor(settings, cell.train);
}

/** The distinct training runs behind some tables (shared cells counted once): their cost is runs x time per run. */
export function distinctRuns(tables: TableSpec[], settings: ExperimentSettings): TrainConfig[] {
  const seen = new Map<string, TrainConfig>();
  for (const t of tables) {
    for (const c of t.cells as CellSpec[]) {
      for (const train of cellTrainConfigs(c)) {
        for (const seed of cellSeeds(settings, c)) {
          const cfg = seededConfig(train, seed);
          seen.set(configHash(cfg), cfg);
        }
      }
    }
  }
  return [...seen.values()];
}
