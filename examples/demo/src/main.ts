/**
 * gradfolio demo (CPU backend): PyTorch-style tensor basics from seed 004, then the closed-form
 * minimum-variance portfolio of four European indices from their real daily closes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { manualSeed, ones, randn, solve, tensor } from '@gradfolio/tensor';

manualSeed(0);

// --- Seed 004: tensors, views that share memory, matmul -------------------------------------
const a = tensor([
  [1, 2],
  [3, 4],
]);
const b = tensor([
  [5, 6],
  [7, 8],
]);
console.log('a @ b =', a.matmul(b).toString());
const viewed = a.view(1, 4);
viewed.indexPut_([0, 0], 10); // viewed[0][0] = 10 changes a too
console.log('a after writing through a view =', a.toString());
console.log('randn([2, 3]) =', randn([2, 3]).toString());

// --- Minimum-variance portfolio: w = inv(S) 1 / (1' inv(S) 1) ---------------------------------
const csv = readFileSync(fileURLToPath(new URL('../data/EuStockMarkets.csv', import.meta.url)), 'utf8');
const lines = csv.trim().split('\n');
const names = lines[0]!.split(',').map((s) => s.replaceAll('"', ''));
const closes = tensor(
  lines.slice(1).map((l) => l.split(',').map(Number)),
  { dtype: 'float64' },
);
const assets = names.filter((n) => n !== 't');
const prices = closes.narrow(1, names.indexOf(assets[0]!), assets.length);
// Log returns between consecutive days, then the annualised sample covariance (252 days a year).
const logp = prices.log();
const rets = logp.narrow(0, 1, logp.size(0) - 1).sub(logp.narrow(0, 0, logp.size(0) - 1));
const centered = rets.sub(rets.mean(0, { keepdim: true }));
const cov = centered.T.matmul(centered)
  .div(rets.size(0) - 1)
  .mul(252);
const raw = solve(cov, ones([assets.length], { dtype: 'float64' }));
const weights = raw.div(raw.sum());
const vol = weights.matmul(cov).matmul(weights).sqrt();
const annualReturn = rets.mean(0).mul(252).dot(weights);

console.log(`\n${rets.size(0)} daily returns of ${assets.join(', ')}`);
console.log('annualised covariance =', cov.toString());
const w = weights.toArraySync() as number[];
console.log(
  'minimum-variance weights:',
  assets.map((n, i) => `${n} ${(100 * w[i]!).toFixed(1)}%`).join(', '),
);
console.log(
  `expected annual return ${(100 * (annualReturn.itemSync() as number)).toFixed(2)}%, volatility ${(100 * (vol.itemSync() as number)).toFixed(2)}%`,
);
