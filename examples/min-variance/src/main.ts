/**
 * Seed 004's portfolio example on real data: the notebook's SGD + clamp/renormalise loop, next to the
 * exact long-only minimum variance portfolio and the differentiable mean-variance layer, on the Swiss
 * bond (SBI), equity (SPI) and real-estate (SII) indices, with the efficient frontier drawn as SVG.
 *
 *   pnpm --filter @gradfolio/example-min-variance start -- --out report
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as gf from 'gradfolio';
import { writeSVG } from './chart.js';

// pnpm passes a literal `--` through (`pnpm start -- --steps 500`); drop it.
const argv = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'));
const { values: args } = parseArgs({
  args: argv,
  options: {
    lr: { type: 'string', default: '0.01' },
    steps: { type: 'string', default: '500' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log('usage: start [--lr 0.01] [--steps 500] [--out DIR=examples/min-variance/report]');
  process.exit(0);
}
const lr = Number(args.lr);
const steps = Number(args.steps);
if (!(lr > 0)) throw new Error(`--lr must be positive, got ${args.lr}`);
if (!Number.isInteger(steps) || steps < 1)
  throw new Error(`--steps must be a positive integer, got ${args.steps}`);
const outDir = args.out ? resolve(args.out) : fileURLToPath(new URL('../report/', import.meta.url));
const started = performance.now();

// --- Data: daily index levels -> pct_change -> annualised mean and covariance (x252) ----------------
const ASSETS = ['SBI', 'SPI', 'SII'] as const;
const table = await gf.data.readCSVFile(fileURLToPath(new URL('../data/SWX.csv', import.meta.url)), {
  usecols: ['date', ...ASSETS],
  dtypes: { date: 'string' },
  checkSorted: 'date',
});
const dates = table.array('date') as ArrayLike<string>;
const prices = gf.data.tableToTensor(table, { columns: [...ASSETS], dtype: 'float64' }); // [T, 3]
const ret = gf.finance.simpleReturns(prices); // ret = data.pct_change() (without the NaN first row)
const expectedReturns = ret.mean(0).mul(252);
const cov = gf.finance.sampleCov(ret, { annualize: true });

const fmtW = (w: gf.Tensor): string =>
  (w.toArraySync() as number[]).map((v) => `${(100 * v).toFixed(2).padStart(6)}%`).join(' ');
console.log(
  `SWX indices ${ASSETS.join(', ')}: ${prices.shape[0]} days ${dates[0]} .. ${dates[dates.length - 1]}, ${ret.shape[0]} daily returns`,
);
console.log('annualised expected returns (mean x 252):', fmtW(expectedReturns));
console.log(`annualised covariance (x 252):\n${cov.toString()}\n`);

// --- 1. The notebook's loop, line for line: SGD on w'Σw, then clamp at 0 and divide by the sum ------
const weights = gf.tensor([0.33, 0.33, 0.34], { dtype: 'float64', requiresGrad: true });
const portfolioRisk = (w: gf.Tensor, s: gf.Tensor): gf.Tensor =>
  w
    .unsqueeze(0)
    .matmul(s.matmul(w.unsqueeze(1)))
    .squeeze();
const optimizer = new gf.optim.SGD([weights], { lr });
console.log(
  `seed 004's loop: SGD(lr=${lr}) on w'Σw for ${steps} steps, clamp(min=0) and w /= w.sum() after each`,
);
for (let epoch = 0; epoch < steps; epoch++) {
  optimizer.zeroGrad();
  const loss = portfolioRisk(weights, cov);
  loss.backward();
  optimizer.step();
  gf.noGrad(() => {
    weights.copy_(weights.clamp(0));
    weights.div_(weights.sum());
  });
  if (epoch % 50 === 0 || epoch === steps - 1) {
    console.log(
      `  Epoch ${epoch}, Risk: ${(loss.itemSync() as number).toFixed(8)}, Weights: ${fmtW(weights)}`,
    );
  }
}
const sgd = weights.detach();
// The library keeps the same heuristic (float64 on the host) as a documented example; they must agree.
const sgdLib = await gf.finance.sgdMinimumVarianceExample(cov, { lr, steps });
const libGap = sgd.sub(sgdLib).abs().max().itemSync() as number;
console.log(
  `  gf.finance.sgdMinimumVarianceExample gives the same weights (max |difference| ${libGap.toExponential(1)})`,
);
// Run longer, the heuristic keeps moving: dividing by the sum makes it a power iteration on I - 2·lr·Σ,
// so it passes near the optimum and then drifts on towards a (clamped) eigenvector of Σ.
const longRuns = await Promise.all(
  [50_000, 1_000_000].map(async (n) => ({
    n,
    w: await gf.finance.sgdMinimumVarianceExample(cov, { lr, steps: n }),
  })),
);

// --- 2. The exact long-only minimum variance portfolio (a QP solved on the host in float64) -----------
const exact = await gf.finance.minimumVariance(cov);

// --- 3. The differentiable layer in minimum-variance mode (no expected returns) ----------------------
const covLeaf = cov.detach().requiresGrad_();
const layer = gf.finance.meanVarianceLayer(covLeaf);
const layerVariance = gf.finance.portfolioVariance(layer, covLeaf);
layerVariance.backward();
// At the optimum dw is orthogonal to Σw on the budget plane, so d(w*'Σw*)/dΣ is w*w*' (envelope theorem).
const lw = layer.detach();
const gradGap = covLeaf
  .grad!.sub(lw.unsqueeze(1).mul(lw.unsqueeze(0)))
  .abs()
  .max()
  .itemSync() as number;

// --- Table --------------------------------------------------------------------------------------
const rows: { name: string; w: gf.Tensor }[] = [
  { name: 'start [0.33, 0.33, 0.34]', w: gf.tensor([0.33, 0.33, 0.34], { dtype: 'float64' }) },
  { name: `SGD + clamp/renorm, ${steps} steps`, w: sgd },
  ...longRuns.map(({ n, w }) => ({ name: `same loop, ${n.toLocaleString('en-US')} steps`, w })),
  { name: 'exact minimumVariance', w: exact },
  { name: 'meanVarianceLayer (min-var)', w: lw },
];
const stats = rows.map(({ name, w }) => ({
  name,
  w: w.toArraySync() as number[],
  variance: gf.finance.portfolioVariance(w, cov).itemSync() as number,
  volatility: gf.finance.portfolioVolatility(w, cov).itemSync() as number,
  ret: gf.finance.portfolioReturn(w, expectedReturns).itemSync() as number,
}));
const pct = (v: number, d = 2): string => `${(100 * v).toFixed(d)}%`;
console.log(
  `\n${'portfolio'.padEnd(34)}${ASSETS.map((a) => a.padStart(8)).join('')}   variance  volatility  return`,
);
for (const s of stats) {
  console.log(
    `${s.name.padEnd(34)}${s.w.map((v) => pct(v).padStart(8)).join('')}  ${s.variance.toFixed(6).padStart(9)}  ${pct(s.volatility).padStart(10)}  ${pct(s.ret).padStart(6)}`,
  );
}
const best = stats.find((s) => s.name === 'exact minimumVariance')!;
const sgdRow = stats[1]!;
console.log(
  `\nThe notebook's loop ends at variance ${sgdRow.variance.toFixed(6)}, ${(sgdRow.variance / best.variance).toFixed(2)}x the minimum ${best.variance.toFixed(6)} ` +
    `(volatility ${pct(sgdRow.volatility)} vs ${pct(best.volatility)}).`,
);
console.log(
  `meanVarianceLayer matches the exact solver (max |weight difference| ${lw.sub(exact).abs().max().itemSync()}), ` +
    `and its backward pass gives d(w'Σw)/dΣ = w w' to ${gradGap.toExponential(1)}.`,
);

// --- Efficient frontier chart ------------------------------------------------------------------------
const frontier = await gf.finance.efficientFrontier(cov, expectedReturns, { points: 60 });
const fVol = frontier.volatilities.toArraySync() as number[];
const fRet = frontier.returns.toArraySync() as number[];
const assetVol = cov.diagonal().sqrt().toArraySync() as number[];
const assetRet = expectedReturns.toArraySync() as number[];
const marks = [
  ...ASSETS.map((a, i) => ({ label: a, kind: 'single asset', vol: assetVol[i]!, ret: assetRet[i]! })),
  ...stats.map((s, i) => ({
    label: s.name,
    kind:
      i === 0
        ? 'start (≈1/N)'
        : i === 1
          ? `SGD + clamp, ${steps} steps (notebook)`
          : i < stats.length - 2
            ? `SGD + clamp, ${longRuns[i - 2]!.n.toLocaleString('en-US')} steps`
            : i === stats.length - 2
              ? 'exact minimumVariance'
              : 'meanVarianceLayer',
    vol: s.volatility,
    ret: s.ret,
  })),
];
const kinds = [...new Set(marks.map((m) => m.kind))];
const chartPath = await writeSVG(
  {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Long-only efficient frontier: SBI, SPI, SII (${dates[0]} .. ${dates[dates.length - 1]}, annualised)`,
    width: 640,
    height: 400,
    layer: [
      {
        data: { values: fVol.map((v, i) => ({ vol: v, ret: fRet[i]! })) },
        mark: { type: 'line', color: '#4c78a8', strokeWidth: 2 },
        encoding: {
          x: { field: 'vol', type: 'quantitative', title: 'volatility', axis: { format: '.0%' } },
          y: { field: 'ret', type: 'quantitative', title: 'expected return', axis: { format: '.1%' } },
        },
      },
      {
        data: { values: marks },
        mark: { type: 'point', filled: true, size: 90 },
        encoding: {
          x: { field: 'vol', type: 'quantitative' },
          y: { field: 'ret', type: 'quantitative' },
          shape: {
            field: 'kind',
            type: 'nominal',
            title: null,
            scale: { domain: kinds },
            legend: { labelLimit: 320 },
          },
          color: { field: 'kind', type: 'nominal', title: null, scale: { domain: kinds } },
        },
      },
      {
        data: { values: marks.filter((m) => m.kind === 'single asset') },
        mark: { type: 'text', dx: 8, align: 'left', baseline: 'middle' },
        encoding: {
          x: { field: 'vol', type: 'quantitative' },
          y: { field: 'ret', type: 'quantitative' },
          text: { field: 'label' },
        },
      },
    ],
  },
  outDir,
  'frontier',
);
console.log(`\nchart: ${chartPath}`);
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
