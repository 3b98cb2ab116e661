/**
 * The benchmark's result object (printed with --json) and its aligned text table. Pure functions:
 * no timing, no TensorFlow.js.
 */

export interface TrainStepRow {
  /** 'reference' (lib/bench/arch.ts referenceNetArch) or 'quick detector'. */
  net: string;
  batch: number;
  sizePx: number;
  params: number;
  anchorsPerImage: number;
  /** Median over the timed steps. */
  tfjsMs: number;
  tfjsMinMs: number;
  torchMs: number | null;
  torchMinMs: number | null;
  /** tfjsMs / torchMs; null without torch. */
  ratio: number | null;
}

export interface BenchResult {
  machine: {
    node: string;
    platform: string;
    cpus: number;
    cpuModel: string;
    /** os.loadavg() at start and at the end (1, 5, 15 min): the machine is shared. */
    loadAvgStart: number[];
    loadAvgEnd: number[];
    tfjs: string;
    backend: string;
    backendLine: string;
  };
  options: { quick: boolean; warmup: number; steps: number; torchThreads: number };
  torch: { available: true; version: string; threads: number; python: string } | { available: false; reason: string; hint: string };
  trainStep: TrainStepRow[];
  inference: {
    images: number;
    batch: number;
    sizePx: number;
    /** Decode + resize + forward + decode boxes + NMS (lib/detect forEachImageDetections). */
    endToEndImagesPerSec: number;
    /** Detector.forward alone on a random batch, median. */
    networkImagesPerSec: number;
    /** Post-processing used: RetinaNet's with score threshold 0 (see lib/bench/run.ts). */
    scoreThresh: number;
  };
  evaluator: {
    source: string;
    runs: number;
    evaluateAccumulateSec: number;
    endToEndSec: number;
    ap: number;
    pycocotoolsSec: number;
    fasterCocoEvalSec: number;
  };
  search: { images: number; candidates: number; featureCacheSec: number; candidatesPerSec: number; secPerCandidate: number };
  memory: { wasmHeapBytes: number | null; rssBytes: number; maxRssBytes: number };
  totalSec: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** a / b, or null when either is missing or b is not positive. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !(b > 0) || !isFinite(a)) return null;
  return a / b;
}

/** Pads columns to equal width: text left-aligned, numbers (columns in `right`) right-aligned. */
export function alignTable(rows: string[][], right: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

export function formatMs(ms: number | null): string {
  if (ms === null || !isFinite(ms)) return '-';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

export function formatRatio(r: number | null): string {
  return r === null ? '-' : `${r.toFixed(1)}x`;
}

export function formatBytes(b: number | null): string {
  if (b === null || !isFinite(b)) return '-';
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(2)} GiB`;
  return `${(b / 1024 ** 2).toFixed(0)} MiB`;
}

function formatParams(n: number): string {
  return `${(n / 1e6).toFixed(3)} M`;
}

/** The report as lines of text. */
export function formatBenchReport(r: BenchResult): string[] {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`metaanchor bench${r.options.quick ? ' --quick' : ''}: ${m.cpus} x ${m.cpuModel}, ${m.platform}, Node ${m.node}, tfjs ${m.tfjs} (${m.backend})`);
  if (/software adapter/.test(m.backend)) {
    lines.push(
      'NOTE: webgpu on a software adapter (a CPU rasteriser): these rows show that every part runs (correctness only); they say nothing about GPU speed.',
    );
  }
  lines.push(
    `load average ${m.loadAvgStart.map((v) => v.toFixed(2)).join(' ')} at start, ${m.loadAvgEnd.map((v) => v.toFixed(2)).join(' ')} at end (shared machine)`,
  );
  lines.push(
    r.torch.available
      ? `PyTorch ${r.torch.version}, ${r.torch.threads} threads (${r.torch.python})`
      : `PyTorch: not measured (${r.torch.reason}). Install: ${r.torch.hint}`,
  );
  lines.push('');
  lines.push(`Training step (forward + focal/smooth-L1 loss + backward + Adam), median of ${r.options.steps} steps after ${r.options.warmup} warm-up`);
  const rows: string[][] = [['net', 'batch', 'input', 'params', 'anchors/img', 'tfjs', 'torch', 'tfjs/torch']];
  for (const t of r.trainStep) {
    rows.push([
      t.net,
      String(t.batch),
      `${t.sizePx} px`,
      formatParams(t.params),
      String(t.anchorsPerImage),
      formatMs(t.tfjsMs),
      formatMs(t.torchMs),
      formatRatio(t.ratio),
    ]);
  }
  lines.push(...alignTable(rows, new Set([1, 2, 3, 4, 5, 6, 7])).map((l) => `  ${l}`));
  lines.push('');
  const inf = r.inference;
  const ev = r.evaluator;
  const s = r.search;
  const other: string[][] = [
    ['measure', 'value', 'detail'],
    [
      'inference, end to end',
      `${inf.endToEndImagesPerSec.toFixed(1)} img/s`,
      `quick detector, ${inf.images} MNIST-Det val images, batch ${inf.batch} @ ${inf.sizePx} px, decode + forward + NMS (score thresh ${inf.scoreThresh})`,
    ],
    ['inference, network only', `${inf.networkImagesPerSec.toFixed(1)} img/s`, `Detector.forward, batch ${inf.batch} @ ${inf.sizePx} px`],
    [
      'COCO evaluate + accumulate',
      `${ev.evaluateAccumulateSec.toFixed(3)} s`,
      `median of ${ev.runs}; pycocotools ${ev.pycocotoolsSec} s, faster-coco-eval ${ev.fasterCocoEvalSec} s (reference machine); AP ${ev.ap.toFixed(4)}`,
    ],
    ['COCO evaluation end to end', `${ev.endToEndSec.toFixed(3)} s`, ev.source],
    [
      'greedy search',
      `${s.candidatesPerSec.toFixed(2)} cand/s`,
      `${s.candidates} single-anchor candidates on ${s.images} images (${(1000 * s.secPerCandidate).toFixed(0)} ms each); feature cache ${s.featureCacheSec.toFixed(2)} s`,
    ],
    ['peak wasm heap', formatBytes(r.memory.wasmHeapBytes), 'the heap never shrinks: its size is the peak'],
    ['peak RSS', formatBytes(r.memory.maxRssBytes), `process.resourceUsage().maxRSS; RSS now ${formatBytes(r.memory.rssBytes)}`],
  ];
  lines.push(...alignTable(other, new Set([1])).map((l) => `  ${l}`));
  lines.push('');
  lines.push(`total ${r.totalSec.toFixed(0)} s`);
  return lines;
}
