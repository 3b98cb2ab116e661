/**
 * `metaanchor bench`: one run that measures, on the active tfjs backend and side by side with
 * PyTorch on the same machine,
 *   (a) training-step time of the quick-preset detector (baseline 3x3) and of the fixed reference
 *       net (lib/bench/arch.ts), (b) the same layer lists in PyTorch (bench/torch_reference.py)
 *       and the tfjs/torch ratio,
 *   (c) inference images/s of the quick detector, (d) COCO evaluator time (lib/eval/bench.ts),
 *   (e) greedy anchor search candidates/s (lib/search/greedy.ts), (f) peak memory.
 * tfjs and torch run one after the other, never at the same time (2 cores).
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend';
import { wasmHeapBytes } from '../backend/wasm-kernels';
import { parseAnchorSpec, table8CandidateConfig, AnchorConfig } from '../anchors';
import { forEachImageDetections } from '../detect/detect';
import { RETINANET_INFERENCE, concatDetections, InferenceConfig } from '../detect/postprocess';
import { benchCocoEval } from '../eval/bench';
import { prepareCocoGroundTruth } from '../eval/coco';
import { Detector, buildDetector, modelConfig } from '../model';
import { FeatureCache, scoreCandidates, searchSubset } from '../search/greedy';
import { TRAIN_PRESETS } from '../train/config';
import { groundTruthOf, loadDatasetSpec } from '../train/datasets';
import { makeRng, shuffle } from '../util/seed';
import { ArchSpec, detectorArch, referenceNetArch } from './arch';
import { BenchResult, TrainStepRow, median, ratio } from './report';
import { archNet, detectorNet, timeTrainSteps } from './train-step';
import { runTorchReference, TorchCaseRequest, TorchRun } from './torch';

export interface BenchOptions {
  /** Fewer repetitions and images: a smoke check of the whole command (~1-2 min). */
  quick?: boolean;
  /** Interpreter for bench/torch_reference.py (default /usr/bin/python3). */
  python?: string;
  /** Skip the PyTorch side. */
  noTorch?: boolean;
  /** PyTorch threads (default 2). */
  torchThreads?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** One anchor in this many is positive in the synthetic targets (~2%, as in a real batch). */
const POSITIVE_EVERY = 50;

/**
 * Random weights score every anchor at ~sigmoid(-4.6) = 0.01, below RetinaNet's 0.05 threshold, so
 * post-processing would see no candidates. Threshold 0 keeps the top 1000 per level and runs NMS
 * on them: the work of a trained model (an upper bound on it).
 */
const BENCH_INFERENCE: InferenceConfig = { ...RETINANET_INFERENCE, scoreThresh: 0 };

interface TrainCase {
  net: 'reference' | 'quick detector';
  batch: number;
  sizePx: number;
}

/** (a): the quick preset's own batch (8 @ 160 px) and batch 4 @ 320 px; the reference net at batch 4. */
export function trainCases(): TrainCase[] {
  const q = TRAIN_PRESETS.quick;
  return [
    { net: 'reference', batch: 4, sizePx: 160 },
    { net: 'reference', batch: 4, sizePx: 320 },
    { net: 'quick detector', batch: q.batchSize, sizePx: q.imageSizePx },
    { net: 'quick detector', batch: 4, sizePx: 320 },
  ];
}

/** The quick preset's baseline detector on MNIST-Det's 10 classes with the 3x3 configuration. */
function quickDetector(method: 'baseline' | 'metaanchor', numClasses = 10): Detector {
  const anchors = parseAnchorSpec(TRAIN_PRESETS.quick.anchors);
  const frame = method === 'metaanchor' ? { standardBoxP3: anchors.standardBoxP3 } : {};
  return buildDetector(modelConfig('quick', { method, numClasses, numAnchors: anchors.shapes.length, ...frame }), { log: () => undefined });
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const quick = opts.quick ?? false;
  const torchThreads = opts.torchThreads ?? 2;
  const t0 = performance.now();
  const loadAvgStart = os.loadavg();
  const choice = await initBackend({ log: false });
  // A software WebGPU adapter (llvmpipe) takes ~50 s per reference-net step: its rows only show that
  // everything runs, so one untimed warm-up is skipped and one step is timed.
  const software = choice.adapter?.type === 'software';
  const warmup = software ? 0 : quick ? 1 : 2;
  const steps = software ? 1 : quick ? 3 : 10;
  if (software) log('[bench] webgpu on a software adapter: correctness only, 1 step per row');
  log(`[bench] ${choice.line}`);

  // (a) tfjs training steps.
  const cases = trainCases();
  const archs = new Map<string, ArchSpec>();
  const rows: TrainStepRow[] = [];
  for (const [i, c] of cases.entries()) {
    const label = `[bench] train step ${i + 1}/${cases.length}: tfjs ${c.net} b${c.batch}@${c.sizePx}`;
    let det: Detector | undefined;
    let net;
    if (c.net === 'reference') {
      const spec = archs.get(c.net) ?? referenceNetArch();
      archs.set(c.net, spec);
      net = archNet(spec);
    } else {
      det = quickDetector('baseline');
      if (!archs.has(c.net)) archs.set(c.net, detectorArch(det));
      net = detectorNet(det);
    }
    try {
      const t = await timeTrainSteps(net, {
        batch: c.batch,
        sizePx: c.sizePx,
        positiveEvery: POSITIVE_EVERY,
        warmup,
        steps,
        onStep: (done, total) => process.stderr.isTTY && process.stderr.write(`\r${label} step ${done}/${total}`),
      });
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
      const tfjsMs = median(t.stepMs);
      log(`${label}: ${tfjsMs.toFixed(0)} ms`);
      rows.push({
        ...c,
        params: t.params,
        anchorsPerImage: t.anchorsPerImage,
        tfjsMs,
        tfjsMinMs: Math.min(...t.stepMs),
        torchMs: null,
        torchMinMs: null,
        ratio: null,
      });
    } finally {
      if (det) det.dispose();
      else net.store.dispose();
    }
  }

  // (b) the same layer lists in PyTorch.
  let torch: TorchRun;
  if (opts.noTorch) {
    torch = { available: false, reason: 'skipped (--no-torch)', hint: 'omit --no-torch' };
  } else {
    log(`[bench] PyTorch side: ${opts.python ?? '/usr/bin/python3'} bench/torch_reference.py (${torchThreads} threads)`);
    const requests: TorchCaseRequest[] = cases.map((c) => ({
      name: c.net,
      arch: archs.get(c.net)!,
      batch: c.batch,
      sizePx: c.sizePx,
      positiveEvery: POSITIVE_EVERY,
    }));
    torch = await runTorchReference(requests, { python: opts.python, threads: torchThreads, warmup, steps, onLine: (l) => log(`[bench] ${l}`) });
  }
  if (torch.available) {
    torch.cases.forEach((tc, i) => {
      const row = rows[i];
      // Both sides must have trained the same net: same parameter and anchor counts.
      if (tc.params !== row.params || tc.anchorsPerImage !== row.anchorsPerImage) {
        throw new Error(
          `torch built a different net for ${row.net}: ${tc.params} params / ${tc.anchorsPerImage} anchors vs tfjs ${row.params} / ${row.anchorsPerImage}`,
        );
      }
      row.torchMs = tc.medianMs;
      row.torchMinMs = tc.minMs;
      row.ratio = ratio(row.tfjsMs, tc.medianMs);
    });
  } else {
    log(`[bench] PyTorch not measured: ${torch.reason}`);
    log(`[bench]   install it with: ${torch.hint}`);
  }

  // (c) inference.
  const val = await loadDatasetSpec({ kind: 'mnist-det' }, 'val');
  const infImages = quick ? 16 : 64;
  const inferenceBatch = 8;
  const sizePx = TRAIN_PRESETS.quick.imageSizePx;
  const input = { maxSizePx: sizePx, pad: 'square' as const, sizeDivisor: 32 };
  const anchors3x3 = parseAnchorSpec(TRAIN_PRESETS.quick.anchors);
  let inference: BenchResult['inference'];
  {
    log(`[bench] inference: quick detector on ${infImages} MNIST-Det val images`);
    const det = quickDetector('baseline');
    try {
      const run = (n: number): Promise<void> =>
        forEachImageDetections(
          det,
          { ...val, images: val.images.slice(0, n) },
          { anchors: anchors3x3, input, batchSize: inferenceBatch, inference: BENCH_INFERENCE },
          () => undefined,
        );
      await run(inferenceBatch); // warm-up
      const ti = performance.now();
      await run(infImages);
      const endToEndImagesPerSec = infImages / ((performance.now() - ti) / 1000);
      const x = tf.randomUniform([inferenceBatch, sizePx, sizePx, 3], 0, 255, 'float32', 1) as tf.Tensor4D;
      const fwd: number[] = [];
      for (let i = 0; i < warmup + steps; i++) {
        const tf0 = performance.now();
        const o = det.forward(x);
        await Promise.all([o.clsLogits.data(), o.boxDeltas.data()]);
        tf.dispose([o.clsLogits, o.boxDeltas]);
        if (i >= warmup) fwd.push(performance.now() - tf0);
      }
      x.dispose();
      inference = {
        images: infImages,
        batch: inferenceBatch,
        sizePx,
        endToEndImagesPerSec,
        networkImagesPerSec: inferenceBatch / (median(fwd) / 1000),
        scoreThresh: BENCH_INFERENCE.scoreThresh,
      };
      log(`[bench] inference: ${endToEndImagesPerSec.toFixed(1)} img/s end to end, ${inference.networkImagesPerSec.toFixed(1)} img/s network`);
    } finally {
      det.dispose();
    }
  }

  // (d) evaluator.
  const evalRuns = quick ? 2 : 7;
  log(`[bench] COCO evaluator: ${evalRuns} runs on the 500-image case`);
  const ev = await benchCocoEval({ runs: evalRuns });
  log(`[bench] COCO evaluator: ${ev.evaluateAccumulateSec.toFixed(3)} s evaluate + accumulate`);

  // (e) greedy search.
  const searchImages = quick ? 16 : 32;
  const numCandidates = quick ? 4 : 10;
  let search: BenchResult['search'];
  {
    log(`[bench] greedy search: ${numCandidates} candidates on ${searchImages} images`);
    // As many classes as the dataset scored against (MNIST-Det's default has 4): a class index
    // beyond its categories would be a detection without a category.
    const det = quickDetector('metaanchor', val.categories.length);
    const subset = searchSubset(val, searchImages, 0);
    const gt = prepareCocoGroundTruth(groundTruthOf(subset));
    const categoryIds = subset.categories.map((c) => c.id);
    const std = anchors3x3.standardBoxP3;
    const tc = performance.now();
    const cache = await FeatureCache.build(det, subset, input, 8);
    const featureCacheSec = (performance.now() - tc) / 1000;
    try {
      const images = cache.images();
      const current = await cache.candidates(anchors3x3, BENCH_INFERENCE);
      scoreCandidates(current, images, gt, categoryIds, BENCH_INFERENCE); // warm-up (JIT)
      const order = shuffle(table8CandidateConfig().shapes.slice(), makeRng(1)).slice(0, numCandidates);
      const ts = performance.now();
      for (const shape of order) {
        const single: AnchorConfig = { name: 'candidate', shapes: [shape], standardBoxP3: std };
        const cand = await cache.candidates(single, BENCH_INFERENCE);
        scoreCandidates(
          current.map((c, i) => concatDetections([c, cand[i]])),
          images,
          gt,
          categoryIds,
          BENCH_INFERENCE,
        );
      }
      const secPerCandidate = (performance.now() - ts) / 1000 / numCandidates;
      search = { images: subset.images.length, candidates: numCandidates, featureCacheSec, candidatesPerSec: 1 / secPerCandidate, secPerCandidate };
      log(`[bench] greedy search: ${search.candidatesPerSec.toFixed(2)} candidates/s`);
    } finally {
      cache.dispose();
      det.dispose();
    }
  }

  // (f) memory.
  const usage = process.resourceUsage();
  const memory = {
    wasmHeapBytes: choice.tfBackend === 'wasm' ? (wasmHeapBytes() ?? null) : null,
    rssBytes: process.memoryUsage().rss,
    maxRssBytes: usage.maxRSS * 1024,
  };

  const cpus = os.cpus();
  return {
    machine: {
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      loadAvgStart,
      loadAvgEnd: os.loadavg(),
      tfjs: tf.version.tfjs,
      backend: `${choice.tfBackend}${choice.details.length ? ', ' + choice.details.join(', ') : ''}`,
      backendLine: choice.line,
    },
    options: { quick, warmup, steps, torchThreads },
    torch: torch.available ? { available: true, version: torch.torch, threads: torch.threads, python: torch.python } : torch,
    trainStep: rows,
    inference,
    evaluator: {
      source: ev.source,
      runs: ev.runs,
      evaluateAccumulateSec: ev.evaluateAccumulateSec,
      endToEndSec: ev.endToEndSec,
      ap: ev.ap,
      pycocotoolsSec: ev.reference.pycocotools,
      fasterCocoEvalSec: ev.reference.fasterCocoEval,
    },
    search,
    memory,
    totalSec: (performance.now() - t0) / 1000,
  };
}
