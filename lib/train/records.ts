/** What a run records as it trains: a line of log.jsonl per step, an entry of metrics.json per evaluation. */

export interface StepRecord {
  step: number;
  loss: number;
  cls: number;
  box: number;
  positives: number;
  lr: number;
  gradNorm: number;
  sec: number;
}

export interface EvalRecord {
  step: number;
  /** COCO's 12 summary numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl). */
  stats: number[];
  images: number;
  anchors: string;
  sec: number;
}

/** The state a checkpoint stores beside the weights (train-state.json). */
export interface TrainState {
  step: number;
  history: StepRecord[];
  evals: EvalRecord[];
}
