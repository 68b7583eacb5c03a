/**
 * gradfolio's side of the LSTM benches (CPU `lstm.ts` and GPU `gpu.ts`): the seed notebooks' models,
 * written the way a PyTorch user would, and the loss both trainings use.
 */
import { Linear, LSTM, Module } from '@gradfolio/nn';
import type * as gf from '@gradfolio/tensor';

/** Seed 000's model: LSTM(1 -> 4, batchFirst) -> Linear(4, 1) on the last hidden state. */
export class CloseModel extends Module<[gf.Tensor], gf.Tensor> {
  readonly lstm = this.registerModule('lstm', new LSTM(1, 4, { batchFirst: true }));
  readonly fc = this.registerModule('fc', new Linear(4, 1));
  forward(x: gf.Tensor): gf.Tensor {
    const [, [hN]] = this.lstm.forward(x);
    return this.fc.forward(hN.select(0, -1));
  }
}

/** Seed 003's portfolio model: LSTM(features -> hidden, batchFirst) -> Linear(hidden, assets) -> softmax. */
export class PortfolioModel extends Module<[gf.Tensor], gf.Tensor> {
  readonly lstm: LSTM;
  readonly fc: Linear;
  constructor(features = 8, hidden = 64, assets = 4) {
    super();
    this.lstm = this.registerModule('lstm', new LSTM(features, hidden, { batchFirst: true }));
    this.fc = this.registerModule('fc', new Linear(hidden, assets));
  }
  forward(x: gf.Tensor): gf.Tensor {
    const [, [hN]] = this.lstm.forward(x);
    return this.fc.forward(hN.select(0, -1)).softmax(1);
  }
}

/** Negative Sharpe ratio (mean / sample std) of the portfolio returns `sum(weights * nextReturns, 1)`. */
export function negSharpe(weights: gf.Tensor, nextReturns: gf.Tensor): gf.Tensor {
  const port = weights.mul(nextReturns).sum(1);
  return port.mean().div(port.std()).neg();
}
