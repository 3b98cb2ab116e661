/**
 * Table 8's RetinaNet*: a cell whose run is picked per seed among several trained configurations
 * (tables.ts RunSelection), by COCO mmAP on the greedy search's subset of training images.
 */
import { TrainConfig } from '../train/config';
import { evaluateOnTrainSubset } from './run-eval';
import { SearchSettings } from './settings';
import { RunSelection } from './tables';

/** Table 8's RetinaNet* for one seed: every candidate's score on the training subset and the pick. */
export interface SelectionRecord {
  rule: 'train-subset-mmAP';
  /** Label of the picked candidate (Table 2's row, e.g. "0.5/0.4 5x5"). */
  picked: string;
  candidates: { label: string; runDir: string; mmAP: number }[];
  /** Training images scored. */
  images: number;
}

/**
 * The rule of a cell's run selection: the candidate with the highest mmAP on the training subset
 * (strictly higher replaces; ties keep the earlier candidate). A score that is not a number (COCO's
 * -1 is a number; NaN is not) ranks last. Returns its index.
 */
export function pickBest(scores: readonly number[]): number {
  if (scores.length === 0) throw new Error('no candidates to pick from');
  const rank = (v: number) => (Number.isNaN(v) ? -Infinity : v);
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (rank(scores[i]) > rank(scores[best])) best = i;
  return best;
}

/**
 * One seed's pick: every candidate's run (`runOf`) scored on the training subset (cached,
 * run-eval.ts evaluateOnTrainSubset; `onEval` hears whether each score was cached), then pickBest.
 */
export async function selectRun<R extends { dir: string; cfg: TrainConfig }>(
  select: RunSelection,
  runOf: (train: TrainConfig) => R,
  search: SearchSettings,
  onEval: (reused: boolean) => void,
): Promise<{ run: R; selection: SelectionRecord }> {
  const scored: SelectionRecord['candidates'] = [];
  let images = 0;
  for (const c of select.candidates) {
    const r = runOf(c.train);
    const ev = await evaluateOnTrainSubset(r.dir, r.cfg, search);
    onEval(ev.reused);
    scored.push({ label: c.label, runDir: r.dir, mmAP: ev.record.stats[0] });
    images = ev.record.images;
  }
  const best = pickBest(scored.map((c) => c.mmAP));
  return { run: runOf(select.candidates[best].train), selection: { rule: select.rule, picked: scored[best].label, candidates: scored, images } };
}
