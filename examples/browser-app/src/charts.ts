/**
 * Live Vega-Lite charts: each chart reads a named data set, and new training results go in as Vega
 * changesets (insert/remove) on the embedded view, so a step redraws only what changed.
 */
import { changeset, type View } from 'vega';
import embed from 'vega-embed';
import type { TopLevelSpec } from 'vega-lite';
import type { LossPoint, WeightsSnapshot } from './model.js';

/** Vega's log level `Error` (vega-util: None 0, Error 1, Warn 2, Info 3, Debug 4). */
const LOG_ERRORS_ONLY = 1;
// Errors only: the charts start empty, and Vega warns about the empty scale extents.
const EMBED_OPTIONS = { actions: false, renderer: 'svg', logLevel: LOG_ERRORS_ONLY } as const;

/** The loss chart: negative annualised Sharpe ratio per step, training and held-out. */
export class LossChart {
  private constructor(private readonly view: View) {}

  /**
   * Embeds an empty loss chart in `el`.
   *
   * @example
   * ```ts
   * const chart = await LossChart.create(document.querySelector('#loss-chart')!);
   * await chart.add({ step: 1, train: -0.9, validation: -1.6 });
   * ```
   */
  static async create(el: HTMLElement): Promise<LossChart> {
    const spec: TopLevelSpec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 'container',
      height: 240,
      title: 'Loss: negative annualised Sharpe ratio of next-day returns',
      data: { name: 'loss' },
      mark: { type: 'line', point: { size: 18 }, interpolate: 'monotone' },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'Adam step (full batch)' },
        y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { zero: false } },
        color: {
          field: 'set',
          type: 'nominal',
          title: null,
          scale: { domain: ['train', 'held-out'], range: ['#1f77b4', '#ff7f0e'] },
        },
        tooltip: [
          { field: 'set', type: 'nominal' },
          { field: 'step', type: 'quantitative' },
          { field: 'loss', type: 'quantitative', format: '.3f' },
        ],
      },
    };
    const { view } = await embed(el, spec, EMBED_OPTIONS);
    return new LossChart(view);
  }

  /** Appends one step's losses. */
  async add(p: LossPoint): Promise<void> {
    const rows = [{ step: p.step, set: 'train', loss: p.train }];
    if (p.validation !== undefined) rows.push({ step: p.step, set: 'held-out', loss: p.validation });
    await this.view.change('loss', changeset().insert(rows)).runAsync();
  }

  /** Empties the chart (a new training run). */
  async clear(): Promise<void> {
    await this.view
      .change(
        'loss',
        changeset().remove(() => true),
      )
      .runAsync();
  }
}

/** How a data set's row labels are plotted on the x axis. */
function axisFor(labels: readonly string[]): {
  type: 'quantitative' | 'temporal';
  values: number[];
  format: string;
} {
  const nums = labels.map(Number);
  if (nums.every(Number.isFinite)) {
    // Integers (row numbers) as such; fractional years (R's time index) with their decimals.
    return { type: 'quantitative', values: nums, format: nums.every(Number.isInteger) ? 'd' : '~g' };
  }
  const dates = labels.map((l) => Date.parse(l));
  if (dates.every(Number.isFinite)) return { type: 'temporal', values: dates, format: '%b %Y' };
  return { type: 'quantitative', values: labels.map((_, i) => i + 1), format: 'd' };
}

/** The weights chart: the model's allocation on every held-out day, stacked to 100%. */
export class WeightsChart {
  private constructor(
    private readonly view: View,
    private readonly x: number[],
  ) {}

  /**
   * Embeds an empty weights chart for these assets and held-out days in `el` (replacing what was
   * there).
   *
   * @example
   * ```ts
   * const chart = await WeightsChart.create(el, ['DAX', 'SMI'], ['1997.1', '1997.2']);
   * await chart.update({ step: 5, assets: ['DAX', 'SMI'], labels, weights: new Float32Array([0.5, 0.5, 0.6, 0.4]) });
   * ```
   */
  static async create(
    el: HTMLElement,
    assets: readonly string[],
    labels: readonly string[],
  ): Promise<WeightsChart> {
    const axis = axisFor(labels);
    const spec: TopLevelSpec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 'container',
      height: 240,
      title: 'Portfolio weights on the held-out days (latest evaluation)',
      data: { name: 'weights' },
      mark: { type: 'area' },
      encoding: {
        x: { field: 'x', type: axis.type, title: 'held-out day', axis: { format: axis.format } },
        y: {
          field: 'weight',
          type: 'quantitative',
          stack: 'normalize',
          title: 'weight',
          axis: { format: '%' },
        },
        color: { field: 'asset', type: 'nominal', title: null, scale: { domain: [...assets] } },
        order: { field: 'order', type: 'quantitative' },
        tooltip: [
          { field: 'label', type: 'nominal', title: 'day' },
          { field: 'asset', type: 'nominal' },
          { field: 'weight', type: 'quantitative', format: '.1%' },
        ],
      },
    };
    const { view } = await embed(el, spec, EMBED_OPTIONS);
    return new WeightsChart(view, axis.values);
  }

  /** Replaces the plotted weights with a newer snapshot. */
  async update(w: WeightsSnapshot): Promise<void> {
    const A = w.assets.length;
    const rows = [];
    for (let d = 0; d < w.labels.length; d++) {
      for (let a = 0; a < A; a++) {
        rows.push({
          x: this.x[d],
          label: w.labels[d],
          asset: w.assets[a],
          order: a,
          weight: w.weights[d * A + a],
        });
      }
    }
    await this.view
      .change(
        'weights',
        changeset()
          .remove(() => true)
          .insert(rows),
      )
      .runAsync();
  }
}
