/**
 * The report: a Markdown metrics table and two Vega-Lite charts rendered to SVG with `vega` in Node.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';

/** One strategy's out-of-sample numbers (after costs). */
export interface StrategyMetrics {
  name: string;
  /** CAGR. */
  annualReturn: number;
  annualVolatility: number;
  sharpeRatio: number;
  sortinoRatio: number;
  /** A number <= 0. */
  maxDrawdown: number;
  /** Mean one-way turnover per day (`sum |w_target - w_drifted|`), initial purchase included. */
  dailyTurnover: number;
  totalReturn: number;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/**
 * The metrics as a Markdown table (turnover also annualised: x252).
 *
 * @example
 * ```ts
 * console.log(metricsTable([{ name: '1/N', annualReturn: 0.1, ... }]));
 * ```
 */
export function metricsTable(rows: readonly StrategyMetrics[]): string {
  const head =
    '| strategy | ann. return | ann. volatility | Sharpe | Sortino | max drawdown | turnover / day | turnover / year | total return |\n' +
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const body = rows.map(
    (r) =>
      `| ${r.name} | ${pct(r.annualReturn)} | ${pct(r.annualVolatility)} | ${r.sharpeRatio.toFixed(2)} | ${r.sortinoRatio.toFixed(2)} | ${pct(r.maxDrawdown)} | ${pct(r.dailyTurnover)} | ${(252 * r.dailyTurnover).toFixed(2)}x | ${pct(r.totalReturn)} |`,
  );
  return [head, ...body].join('\n');
}

/**
 * Renders a Vega-Lite spec to an SVG string (no browser: vega's headless `View`).
 *
 * @example
 * ```ts
 * const svg = await toSVG({ data: { values: [{ a: 1, b: 2 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' } } });
 * ```
 */
export async function toSVG(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Equity curves, one line per strategy: `{ date, strategy, equity }` rows. */
export function equitySpec(
  values: ReadonlyArray<{ date: string; strategy: string; equity: number }>,
): vl.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Out-of-sample equity after 1 bp costs (start = 1)',
    width: 720,
    height: 360,
    background: 'white',
    data: { values: [...values] },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'date', type: 'temporal', title: null },
      y: { field: 'equity', type: 'quantitative', title: 'equity', scale: { zero: false } },
      color: {
        field: 'strategy',
        type: 'nominal',
        title: null,
        legend: { orient: 'top-left', labelLimit: 400 },
      },
    },
  };
}

/** The LSTM's weights as a stacked area chart: `{ date, asset, weight }` rows. */
export function weightsSpec(
  values: ReadonlyArray<{ date: string; asset: string; weight: number }>,
): vl.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'LSTM portfolio weights (out of sample, weekly samples)',
    width: 720,
    height: 360,
    background: 'white',
    data: { values: [...values] },
    mark: { type: 'area', interpolate: 'step-after' },
    encoding: {
      x: { field: 'date', type: 'temporal', title: null },
      y: { field: 'weight', type: 'quantitative', stack: 'zero', title: 'weight', scale: { domain: [0, 1] } },
      color: { field: 'asset', type: 'nominal', title: 'asset', scale: { scheme: 'tableau20' } },
    },
  };
}

/** Writes `report.md`, `equity.svg` and `weights.svg` into `dir` (created if missing). */
export async function writeReport(
  dir: string,
  markdown: string,
  equity: vl.TopLevelSpec,
  weights: vl.TopLevelSpec,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'report.md'), markdown);
  await writeFile(join(dir, 'equity.svg'), await toSVG(equity));
  await writeFile(join(dir, 'weights.svg'), await toSVG(weights));
}
