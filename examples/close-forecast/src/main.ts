/**
 * Seed 000 end to end: an LSTM(1, 4) -> Linear(4, 1) reads the last 7 daily closes of the S&P 500 and
 * forecasts the next one, trained with Adam on MSE over shuffled batches of 16, then scored in index
 * points on the last 5% of the days against the naive "tomorrow = today" forecast.
 *
 *   pnpm --filter @gradfolio/example-close-forecast start -- --epochs 10 --out report
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import * as gf from 'gradfolio';
import { writeSVG } from './chart.js';

// pnpm passes a literal `--` through (`pnpm start -- --epochs 5`); drop it.
const argv = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'));
const { values: args } = parseArgs({
  args: argv,
  options: {
    epochs: { type: 'string', default: '100' },
    lr: { type: 'string', default: '0.001' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(
    `usage: start [--epochs N=100] [--lr 0.001] [--seed 0] [--out DIR=examples/close-forecast/report]`,
  );
  process.exit(0);
}
const epochs = Number(args.epochs);
const lr = Number(args.lr);
const seed = Number(args.seed);
if (!Number.isInteger(epochs) || epochs < 1)
  throw new Error(`--epochs must be a positive integer, got ${args.epochs}`);
if (!(lr > 0)) throw new Error(`--lr must be positive, got ${args.lr}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${args.seed}`);
const outDir = args.out ? resolve(args.out) : fileURLToPath(new URL('../report/', import.meta.url));

const LOOKBACK = 7;
const BATCH = 16;
const started = performance.now();

// --- Data: the notebook's AMZN.csv is replaced by the S&P 500 daily closes (see data/README.md) ------
const table = await gf.data.readCSVFile(fileURLToPath(new URL('../data/sp500-2000.csv', import.meta.url)), {
  usecols: ['date', 'close'],
  dtypes: { date: 'string', close: 'number' },
  checkSorted: 'date',
});
const dates = Array.from(table.array('date') as ArrayLike<string>);
const closes = Float64Array.from(table.array('close') as ArrayLike<number>);
const close = gf.tensor(closes, { dtype: 'float32' });

// prepare_dataframe_for_lstm + np.flip: row r is [close[t], close[t-7] .. close[t-1]] with t = r + 7.
const frame = gf.data.lagFrame(close, LOOKBACK, { oldestFirst: true });
const rows = frame.y.shape[0]!;
const split = gf.data.chronologicalSplit(rows, { train: 0.95 });
const nTrain = split.train.size;

// The notebook fits MinMaxScaler(-1, 1) on every row, test days included; here it sees only the closes
// the training windows touch (series rows 0 .. nTrain + 6), so nothing of the test period leaks into
// training. Test closes above the training maximum then scale above 1 (no clipping).
const scaler = new gf.data.MinMaxScaler({ featureRange: [-1, 1] });
scaler.fit(close.narrow(0, 0, nTrain + LOOKBACK).reshape([-1, 1]));
const scaled = scaler.transform(close.reshape([-1, 1])).reshape([-1]);
const sf = gf.data.lagFrame(scaled, LOOKBACK, { oldestFirst: true });
const X = sf.X.contiguous().reshape([rows, LOOKBACK, 1]); // [N, 7, 1]
const y = sf.y.contiguous().reshape([rows, 1]); // [N, 1]
const {
  train: [Xtrain, ytrain],
  test: [Xtest, ytest],
} = gf.data.chronologicalSplit([X, y], { train: 0.95 });
if (!Xtrain || !ytrain || !Xtest || !ytest) throw new Error('chronologicalSplit returned no views');

const testDates = dates.slice(LOOKBACK + split.test.start, LOOKBACK + split.test.stop);
console.log(
  `S&P 500 daily closes ${dates[0]} .. ${dates.at(-1)}: ${closes.length} days -> ${rows} lag-${LOOKBACK} windows, ` +
    `train ${split.train.size} (to ${dates[LOOKBACK + nTrain - 1]}), test ${split.test.size} (${testDates[0]} .. ${testDates.at(-1)})`,
);
console.log(
  `MinMaxScaler(-1, 1) fitted on the training closes: min ${scaler.dataMin?.[0]?.toFixed(2)} max ${scaler.dataMax?.[0]?.toFixed(2)}`,
);

// --- Model: nn.LSTM(1, 4, batch_first=True) then nn.Linear(4, 1) on the last time step ---------------
class CloseLSTM extends gf.nn.Module {
  lstm = this.registerModule('lstm', new gf.nn.LSTM(1, 4, { batchFirst: true }));
  fc = this.registerModule('fc', new gf.nn.Linear(4, 1));
  forward(x: gf.Tensor): gf.Tensor {
    const [out] = this.lstm.forward(x);
    return this.fc.forward(out.select(1, -1)); // out[:, -1, :]
  }
}

gf.manualSeed(seed);
const model = new CloseLSTM();
const lossFn = new gf.nn.MSELoss();
const optimizer = new gf.optim.Adam(model.parameters(), { lr });
const loader = new gf.data.DataLoader(new gf.data.TensorDataset(Xtrain, ytrain), {
  batchSize: BATCH,
  shuffle: true,
  generator: new gf.Generator(seed),
});
const testLoss = (): number =>
  gf.noGrad(() => lossFn.forward(model.forward(Xtest), ytest).itemSync() as number);

console.log(`\n${model.toString()}`);
console.log(`Adam(lr=${lr}), MSELoss, batch ${BATCH} shuffled, ${epochs} epochs, seed ${seed}\n`);

const history: { epoch: number; split: string; mse: number }[] = [];
const tty = process.stderr.isTTY === true;
const batches = Math.ceil(nTrain / BATCH);
const trainStart = performance.now();
for (let epoch = 1; epoch <= epochs; epoch++) {
  const bar = new SingleBar({
    format: `epoch {epoch}/${epochs} |{bar}| {value}/{total} batches | train loss {loss} | test loss {test}`,
    hideCursor: true,
    noTTYOutput: false,
  });
  if (tty) bar.start(batches, 0, { epoch, loss: 'n/a', test: '...' });
  model.train();
  let sum = 0;
  let seen = 0;
  for (const [xb, yb] of loader) {
    optimizer.zeroGrad();
    const loss = lossFn.forward(model.forward(xb), yb);
    loss.backward();
    optimizer.step();
    // MSELoss averages over the batch; weight by its size so the epoch figure is the mean per window.
    const n = xb.shape[0]!;
    sum += (loss.itemSync() as number) * n;
    seen += n;
    if (tty) bar.increment(1, { loss: (sum / seen).toFixed(5) });
  }
  model.eval();
  const train = sum / seen;
  const test = testLoss();
  history.push({ epoch, split: 'train', mse: train }, { epoch, split: 'test', mse: test });
  // The test MSE is only watched, never used to pick epochs or weights.
  if (tty) {
    bar.update(batches, { loss: train.toFixed(5), test: test.toFixed(5) });
    bar.stop();
  } else {
    console.log(
      `epoch ${epoch}/${epochs} | ${seen} windows | train loss ${train.toFixed(5)} | test loss ${test.toFixed(5)}`,
    );
  }
}
const trainSeconds = (performance.now() - trainStart) / 1000;

// --- Evaluation in index points -------------------------------------------------------------------
const predScaled = gf.noGrad(() => model.forward(Xtest));
const pred = Array.from(scaler.inverseTransform(predScaled).dataSync(), Number);
const actual = Array.from(closes.subarray(LOOKBACK + split.test.start, LOOKBACK + split.test.stop));
// Naive forecast: tomorrow's close is today's (the last value in each window), in raw float64 prices.
const naive = Array.from(closes.subarray(LOOKBACK + split.test.start - 1, LOOKBACK + split.test.stop - 1));
const rmse = (p: readonly number[]): number =>
  Math.sqrt(p.reduce((s, v, i) => s + (v - actual[i]!) ** 2, 0) / actual.length);
const mae = (p: readonly number[]): number =>
  p.reduce((s, v, i) => s + Math.abs(v - actual[i]!), 0) / actual.length;
const lstmRmse = rmse(pred);
const naiveRmse = rmse(naive);

console.log(
  `\nTest period ${testDates[0]} .. ${testDates.at(-1)} (${actual.length} days), errors in index points:`,
);
console.log(
  `  LSTM(1, 4) -> Linear(4, 1)   RMSE ${lstmRmse.toFixed(2).padStart(8)}   MAE ${mae(pred).toFixed(2).padStart(8)}`,
);
console.log(
  `  naive (tomorrow = today)     RMSE ${naiveRmse.toFixed(2).padStart(8)}   MAE ${mae(naive).toFixed(2).padStart(8)}`,
);
console.log(
  lstmRmse < naiveRmse
    ? `  the LSTM beats the naive forecast by ${(100 * (1 - lstmRmse / naiveRmse)).toFixed(1)}% RMSE`
    : `  the LSTM does NOT beat the naive forecast (RMSE ${(100 * (lstmRmse / naiveRmse - 1)).toFixed(1)}% higher)`,
);

// --- Charts ---------------------------------------------------------------------------------------
const forecastRows = testDates.flatMap((date, i) => [
  { date, series: 'actual close', close: actual[i]! },
  { date, series: 'LSTM forecast', close: pred[i]! },
]);
const forecastPath = await writeSVG(
  {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `S&P 500: next-day close on the test period (LSTM RMSE ${lstmRmse.toFixed(1)}, naive ${naiveRmse.toFixed(1)})`,
    width: 720,
    height: 320,
    data: { values: forecastRows },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'date', type: 'temporal', title: null },
      y: { field: 'close', type: 'quantitative', scale: { zero: false }, title: 'close (index points)' },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: ['actual close', 'LSTM forecast'], range: ['#333333', '#e45756'] },
      },
    },
  },
  outDir,
  'forecast',
);
const lossPath = await writeSVG(
  {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: "MSE per epoch (scaled units, log scale; train = mean over the epoch's batches)",
    width: 480,
    height: 280,
    data: { values: history },
    mark: { type: 'line', point: epochs <= 30 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
      y: { field: 'mse', type: 'quantitative', scale: { type: 'log' }, title: 'MSE' },
      color: { field: 'split', type: 'nominal', title: null },
    },
  },
  outDir,
  'loss',
);
console.log(`\ncharts: ${forecastPath}\n        ${lossPath}`);
console.log(
  `training ${trainSeconds.toFixed(1)} s (${(trainSeconds / epochs).toFixed(2)} s/epoch), total ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
