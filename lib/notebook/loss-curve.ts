/**
 * Loss curves: a final plot of recorded losses, or a live one that redraws while training runs.
 * The training code stays in lib and reports each step through a callback; the notebook only wires
 * that callback to `LiveLossCurve.push`.
 */
import { display, DisplaySink, newDisplay } from './display';
import { figureHtml, PlotlyFigure } from './plotly';

export interface LossPoint {
  step: number;
  loss: number;
}

/** One curve, or several named ones (e.g. { total, cls, box }). */
export type LossSeries = LossPoint[] | Record<string, LossPoint[]>;

export interface LossCurveOptions {
  title?: string;
  /** Log-scale loss axis (useful when the loss falls over decades). Default false. */
  logY?: boolean;
  heightPx?: number;
}

function named(series: LossSeries): Record<string, LossPoint[]> {
  return Array.isArray(series) ? { loss: series } : series;
}

/** A plotly figure of the loss against the step, one line per series. */
export function lossCurveFigure(series: LossSeries, options: LossCurveOptions = {}): PlotlyFigure {
  const data = Object.entries(named(series)).map(([name, points]) => ({
    type: 'scatter',
    mode: points.length > 1 ? 'lines' : 'markers',
    name,
    x: points.map((p) => p.step),
    y: points.map((p) => p.loss),
  }));
  return {
    data,
    layout: {
      title: { text: options.title ?? 'training loss' },
      xaxis: { title: { text: 'step' } },
      yaxis: { title: { text: 'loss' }, type: options.logY ? 'log' : 'linear' },
      showlegend: data.length > 1,
    },
  };
}

/** Show recorded losses as a plot. */
export function showLossCurve(series: LossSeries, options: LossCurveOptions = {}): void {
  display().html(figureHtml(lossCurveFigure(series, options), { heightPx: options.heightPx ?? 360 }));
}

export interface LiveLossCurveOptions extends LossCurveOptions {
  /** Minimum time between redraws; each redraw sends the whole figure. Default 1000 ms. */
  minIntervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * A loss plot in one output that redraws as points arrive (at most every `minIntervalMs`) and once
 * more on `finish()`. Jupyter replaces the output in place; the executed notebook keeps the last one.
 * The training loop must yield to the event loop (await) for redraws to reach the page.
 */
export class LiveLossCurve {
  readonly series: Record<string, LossPoint[]> = {};
  private readonly out: DisplaySink;
  private readonly options: LiveLossCurveOptions;
  private readonly now: () => number;
  private lastDrawMs = -Infinity;
  private dirty = false;

  constructor(options: LiveLossCurveOptions = {}) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.out = newDisplay();
  }

  /** Record a point; redraw if the last redraw is old enough. Returns whether it redrew. */
  push(step: number, loss: number, series = 'loss'): boolean {
    (this.series[series] ??= []).push({ step, loss });
    this.dirty = true;
    const t = this.now();
    if (t - this.lastDrawMs < (this.options.minIntervalMs ?? 1000)) return false;
    this.draw(t);
    return true;
  }

  /** Draw the final state (if anything changed since the last redraw). */
  finish(): void {
    if (this.dirty) this.draw(this.now());
  }

  private draw(t: number): void {
    this.lastDrawMs = t;
    this.dirty = false;
    this.out.html(figureHtml(lossCurveFigure(this.series, this.options), { heightPx: this.options.heightPx ?? 360 }));
  }
}

export function liveLossCurve(options: LiveLossCurveOptions = {}): LiveLossCurve {
  return new LiveLossCurve(options);
}
