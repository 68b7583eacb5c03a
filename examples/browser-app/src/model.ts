/**
 * The portfolio model (seed 003's softmax weight head; Zhang, Zohren & Roberts 2020): an LSTM reads a
 * window of past returns, a linear layer maps its last hidden state to one score per asset, and softmax
 * turns the scores into long-only weights that sum to 1. Training maximises the Sharpe ratio of the
 * next-day portfolio returns (seed 000's `sharpe_loss`), one full-batch Adam step at a time.
 */
import * as gf from 'gradfolio';
import type { Windows } from './data.js';

/**
 * `LSTM(assets, hidden) -> Linear(hidden, assets) -> softmax`: `[batch, lookback, assets]` returns in,
 * `[batch, assets]` weights out.
 *
 * @example
 * ```ts
 * const model = new PortfolioLSTM(4, 32);
 * model.forward(gf.randn([8, 20, 4])).shape; // [8, 4], rows sum to 1
 * ```
 */
export class PortfolioLSTM extends gf.nn.Module<[gf.Tensor], gf.Tensor> {
  readonly lstm: gf.nn.LSTM;
  readonly head: gf.nn.Linear;

  constructor(assets: number, hidden: number) {
    super();
    this.lstm = this.registerModule('lstm', new gf.nn.LSTM(assets, hidden, { batchFirst: true }));
    this.head = this.registerModule('head', new gf.nn.Linear(hidden, assets));
  }

  forward(x: gf.Tensor): gf.Tensor {
    const [, [hN]] = this.lstm.forward(x);
    return this.head.forward(hN.select(0, -1)).softmax(-1);
  }
}

/** Daily returns, so the Sharpe ratio is annualised with sqrt(252). */
const SHARPE_OPTIONS = { periodsPerYear: 252 } as const;

/** One point of the loss chart. */
export interface LossPoint {
  readonly step: number;
  /** Negative annualised Sharpe ratio on the training windows (the loss that was minimised). */
  readonly train: number;
  /** The same on the held-out windows (computed every few steps). */
  readonly validation?: number;
}

/** Weights on each held-out day, for the weights chart. */
export interface WeightsSnapshot {
  readonly step: number;
  readonly assets: readonly string[];
  readonly labels: readonly string[];
  /** Row-major `[days, assets]`. */
  readonly weights: Float32Array;
}

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  hidden?: number;
  lr?: number;
  /** Evaluate on the held-out windows every this many steps (default 5). */
  evalEvery?: number;
  seed?: number;
  onLoss?: (p: LossPoint) => void;
  onWeights?: (w: WeightsSnapshot) => void | Promise<void>;
}

/**
 * Trains {@link PortfolioLSTM} step by step without blocking the page: each step runs in `gf.tidy`
 * (temporaries freed at once, also GPU buffers) and awaits its loss (`await loss.item()`), which hands
 * control back to the event loop so clicks and chart redraws go through between steps.
 *
 * @example
 * ```ts
 * const trainer = new Trainer(windows, assets, { onLoss: (p) => console.log(p.step, p.train) });
 * void trainer.run(); // ... later: trainer.stop(); ... trainer.run() resumes where it stopped
 * ```
 */
export class Trainer {
  readonly model: PortfolioLSTM;
  readonly optimizer: gf.optim.Adam;
  readonly history: LossPoint[] = [];
  private stopRequested = false;
  private running: Promise<void> | undefined;
  private readonly evalEvery: number;

  constructor(
    readonly windows: Windows,
    readonly assets: readonly string[],
    private readonly options: TrainerOptions = {},
  ) {
    gf.manualSeed(options.seed ?? 0);
    this.model = new PortfolioLSTM(assets.length, options.hidden ?? 32);
    this.optimizer = new gf.optim.Adam(this.model.parameters(), { lr: options.lr ?? 5e-3 });
    this.evalEvery = options.evalEvery ?? 5;
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.history.length;
  }

  /** Whether {@link run} is in progress. */
  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** One Adam step on the full training set; resolves to the loss before the step. */
  async step(): Promise<number> {
    const { xTrain, yTrain } = this.windows;
    const loss = gf.tidy(() => {
      this.optimizer.zeroGrad();
      const l = gf.finance.sharpeLoss(yTrain, this.model.forward(xTrain), SHARPE_OPTIONS);
      l.backward();
      this.optimizer.step();
      return l.detach();
    });
    const value = Number(await loss.item());
    loss.dispose();
    return value;
  }

  /** Loss and weights on the held-out windows, without building a graph. */
  async evaluate(): Promise<{ loss: number; weights: Float32Array }> {
    const { xVal, yVal } = this.windows;
    const [loss, w] = gf.tidy(() =>
      gf.noGrad(() => {
        const weights = this.model.forward(xVal);
        return [gf.finance.sharpeLoss(yVal, weights, SHARPE_OPTIONS), weights] as const;
      }),
    );
    const [l, data] = await Promise.all([loss.item(), w.data()]);
    loss.dispose();
    w.dispose();
    return { loss: Number(l), weights: Float32Array.from(data as ArrayLike<number>) };
  }

  /**
   * Trains until {@link stop} (or `maxSteps` more steps); calling it again resumes from the same
   * model and optimizer state.
   */
  run(maxSteps = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.stopRequested = false;
    const loop = async (): Promise<void> => {
      for (let i = 0; i < maxSteps && !this.stopRequested; i++) {
        const train = await this.step();
        const step = this.history.length + 1;
        let point: LossPoint = { step, train };
        if (step === 1 || step % this.evalEvery === 0) {
          const ev = await this.evaluate();
          point = { step, train, validation: ev.loss };
          await this.options.onWeights?.({
            step,
            assets: this.assets,
            labels: this.windows.valLabels,
            weights: ev.weights,
          });
        }
        this.history.push(point);
        this.options.onLoss?.(point);
        // On the CPU `item()` resolves at once (a microtask), which would not let the page paint or
        // handle a click; a macrotask turn does, on either device.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    };
    this.running = loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Asks {@link run} to stop after the current step; resolves when it has. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.running;
  }
}
