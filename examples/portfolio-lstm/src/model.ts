/**
 * The portfolio network of Zhang, Zohren & Roberts (2020): an LSTM reads the last `lookback` days of
 * every asset's normalised price and return, a linear layer maps its last hidden state to one score per
 * asset, and a softmax turns the scores into long-only weights that sum to 1. It is trained end to end on
 * the negative Sharpe ratio of the next day's portfolio returns, with no return forecast in between.
 */
import * as gf from 'gradfolio';

/**
 * `LSTM(features, hidden, batchFirst) -> Linear(hidden, assets) -> softmax`.
 *
 * @example
 * ```ts
 * const net = new PortfolioLSTM(20, 10);
 * const w = net.forward(gf.randn([32, 50, 20])); // [32, 10], rows sum to 1
 * ```
 */
export class PortfolioLSTM extends gf.nn.Module {
  readonly lstm: gf.nn.LSTM;
  readonly head: gf.nn.Linear;

  constructor(features: number, assets: number, hidden = 64) {
    super();
    this.lstm = this.registerModule('lstm', new gf.nn.LSTM(features, hidden, { batchFirst: true }));
    this.head = this.registerModule('head', new gf.nn.Linear(hidden, assets));
  }

  /** `x`: `[batch, lookback, features]`; returns the weights `[batch, assets]`. */
  forward(x: gf.Tensor): gf.Tensor {
    const [, [hN]] = this.lstm.forward(x);
    return this.head.forward(hN.select(0, -1)).softmax(-1);
  }
}

/** Options of {@link trainWindow}. */
export interface TrainOptions {
  epochs: number;
  batchSize: number;
  /** Fraction of the newest training days held out to pick the best epoch (0 disables it). */
  validation: number;
  generator: gf.Generator;
  /** Called after every epoch (progress bars). */
  onEpoch?: (epoch: number, trainLoss: number, validSharpe: number) => void;
}

/** What {@link trainWindow} did. */
export interface TrainSummary {
  /** Epoch (1-based) whose parameters were kept. */
  bestEpoch: number;
  /** Annualised Sharpe ratio (before costs) on the validation days at that epoch. */
  validSharpe: number;
  /** Mean training loss (negative annualised Sharpe of the batches) of the last epoch. */
  trainLoss: number;
}

/** Weights for many windows at once, without building a graph, in chunks to bound memory. */
export function predictWeights(net: PortfolioLSTM, x: gf.Tensor, chunk = 256): gf.Tensor {
  net.eval();
  const parts: gf.Tensor[] = [];
  gf.noGrad(() => {
    for (let i = 0; i < x.size(0); i += chunk) {
      parts.push(gf.keep(gf.tidy(() => net.forward(x.narrow(0, i, Math.min(chunk, x.size(0) - i))))));
    }
  });
  const out = gf.cat(parts, 0);
  for (const p of parts) p.dispose();
  return out;
}

/** Annualised Sharpe ratio (no costs) of the weights the net picks for `x`, held for the returns `y`. */
async function sharpeOf(net: PortfolioLSTM, x: gf.Tensor, y: gf.Tensor): Promise<number> {
  const w = predictWeights(net, x);
  const loss = gf.noGrad(() => gf.finance.sharpeLoss(y, w, { periodsPerYear: 252 }));
  const value = -Number(await loss.item());
  w.dispose();
  loss.dispose();
  return value;
}

/**
 * Trains `net` with `opt` on windows `x` and next-day returns `y` (chronological rows): Adam on
 * `sharpeLoss(y, weights)` over shuffled mini-batches (incomplete last batch dropped) (each batch is a sample of days, so the pooled
 * Sharpe of a batch estimates the strategy's Sharpe). The newest `validation` fraction of the days is
 * held out and the parameters of the epoch with the best validation Sharpe are kept (early stopping
 * without stopping: the epoch budget is fixed so the run time is predictable).
 */
export async function trainWindow(
  net: PortfolioLSTM,
  opt: gf.optim.Adam,
  x: gf.Tensor,
  y: gf.Tensor,
  options: TrainOptions,
): Promise<TrainSummary> {
  const n = x.size(0);
  const nValid = Math.floor(n * options.validation);
  const nTrain = n - nValid;
  if (nTrain < options.batchSize)
    throw new Error(`only ${nTrain} training days for batches of ${options.batchSize}`);
  const xt = x.narrow(0, 0, nTrain);
  const yt = y.narrow(0, 0, nTrain);
  const batches = Math.floor(nTrain / options.batchSize); // drop the last incomplete batch
  const xv = nValid > 0 ? x.narrow(0, nTrain, nValid) : undefined;
  const yv = nValid > 0 ? y.narrow(0, nTrain, nValid) : undefined;
  let best: Record<string, gf.Tensor> | undefined;
  let summary: TrainSummary = { bestEpoch: 0, validSharpe: Number.NaN, trainLoss: Number.NaN };
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    net.train();
    const losses: gf.Tensor[] = [];
    // The shuffle is drawn on the CPU and the batches gathered on the model's device (what
    // DataLoader(shuffle) does, but its sampler cannot yet read a permutation back from WebGPU).
    const perm = gf.randperm(nTrain, { generator: options.generator, device: 'cpu' });
    for (let b = 0; b < batches; b++) {
      const idx = gf.tensor(perm.narrow(0, b * options.batchSize, options.batchSize).dataSync(), {
        dtype: 'int32',
      });
      losses.push(
        gf.tidy(() => {
          const xb = xt.indexSelect(0, idx);
          const yb = yt.indexSelect(0, idx);
          opt.zeroGrad();
          const loss = gf.finance.sharpeLoss(yb, net.forward(xb), { periodsPerYear: 252 });
          loss.backward();
          opt.step();
          return loss.detach();
        }),
      );
      idx.dispose();
    }
    const mean = gf.tidy(() => gf.stack(losses).mean());
    const trainLoss = Number(await mean.item());
    for (const t of [mean, perm, ...losses]) t.dispose();
    const validSharpe = xv && yv ? await sharpeOf(net, xv, yv) : -trainLoss;
    if (best === undefined || validSharpe > summary.validSharpe || Number.isNaN(summary.validSharpe)) {
      for (const t of Object.values(best ?? {})) t.dispose();
      best = Object.fromEntries(
        Object.entries(net.stateDict()).map(([k, v]) => [k, gf.keep(v.detach().clone())]),
      );
      summary = { bestEpoch: epoch, validSharpe, trainLoss };
    }
    summary.trainLoss = trainLoss;
    options.onEpoch?.(epoch, trainLoss, validSharpe);
  }
  if (best !== undefined) {
    net.loadStateDict(best);
    for (const t of Object.values(best)) t.dispose();
  }
  return summary;
}
