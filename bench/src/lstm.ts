/**
 * LSTM cases of `pnpm bench` (the nn and optim issues' performance goals), on gradfolio's CPU backend
 * next to PyTorch 1.13 (subprocess, `torch_lstm.py`) and TensorFlow.js 4.22 (`tf.layers.lstm`, cpu
 * and wasm backends), all in one run:
 *
 * - `lstm-fwd-bwd` seed000: LSTM(1, 4) -> Linear(4, 1) on hN, batch 16, lookback 7, MSE; forward, loss
 *   and backward.
 * - `lstm-fwd-bwd` seed003: the portfolio model LSTM(8, 64) -> Linear(64, 4) -> softmax weights, batch
 *   64, 50 steps, negative Sharpe ratio of the next-day portfolio returns; forward, loss and backward.
 * - `lstm-train-step` seed003: the same plus zeroGrad and an Adam step.
 * - `lstm-epoch` seed000: 6183 windows, shuffled DataLoader of batch 16 (387 steps): zeroGrad,
 *   forward, MSE, backward, Adam step and reading the loss every step.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import '@gradfolio/autograd';
import { DataLoader, TensorDataset } from '@gradfolio/data';
import { mseLoss } from '@gradfolio/nn';
import { Adam } from '@gradfolio/optim';
import * as gf from '@gradfolio/tensor';
import * as tf from '@tensorflow/tfjs';
import { measure, randData, record, useTf } from './harness.js';
import { CloseModel, negSharpe, PortfolioModel } from './models.js';
import { tfCloseEpoch, tfCloseModel, tfMse, tfNegSharpe, tfPortfolioModel } from './tfmodels.js';

const PYTHON = '/usr/bin/python3';

function torchTimes(runs: number, warmup: number, epochRuns: number): Record<string, number> | string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const script = fileURLToPath(new URL('./torch_lstm.py', import.meta.url));
  const r = spawnSync(PYTHON, [script], {
    input: JSON.stringify({ runs, warmup, epochRuns }),
    encoding: 'utf8',
  });
  if (r.error !== undefined || r.status !== 0)
    return `torch side failed: ${r.error?.message ?? r.stderr.trim()}`;
  return JSON.parse(r.stdout) as Record<string, number>;
}

const S000 = { model: 'seed000', batch: 16, seq: 7, features: 1, hidden: 4 };
const S003 = { model: 'seed003', batch: 64, seq: 50, features: 8, hidden: 64, assets: 4 };
const EPOCH = { model: 'seed000', windows: 6183, batch: 16, steps: Math.ceil(6183 / 16) };

/** Runs the LSTM benches. */
export async function benchLSTM(quick: boolean): Promise<void> {
  const runs = quick ? 7 : 21;
  const warmup = 3;
  const epochRuns = quick ? 3 : 5;
  const x0d = randData(16 * 7, 21);
  const y0d = randData(16, 22);
  const x3d = randData(64 * 50 * 8, 23);
  const r3d = randData(64 * 4, 24).map((v) => v * 0.01);
  const xsd = randData(6183 * 7, 25);
  const ysd = randData(6183, 26);

  // ---- gradfolio
  const close = new CloseModel();
  const x0 = gf.tensor(x0d).reshape(16, 7, 1);
  const y0 = gf.tensor(y0d).reshape(16, 1);
  // The tiny model is JIT-bound (V8 tiers JS and wasm up over the first thousands of calls): both sides
  // warm up for 3000 calls, as a training loop would, then time 200.
  await measure('lstm-fwd-bwd', 'gradfolio-cpu', S000, () => mseLoss(close.forward(x0), y0).backward(), {
    runs: 200,
    warmup: 3000,
  });
  const port = new PortfolioModel();
  const x3 = gf.tensor(x3d).reshape(64, 50, 8);
  const r3 = gf.tensor(r3d).reshape(64, 4);
  await measure('lstm-fwd-bwd', 'gradfolio-cpu', S003, () => negSharpe(port.forward(x3), r3).backward(), {
    runs,
    warmup,
  });
  const opt3 = new Adam(port.parameters(), { lr: 1e-3 });
  await measure(
    'lstm-train-step',
    'gradfolio-cpu',
    S003,
    () => {
      opt3.zeroGrad();
      negSharpe(port.forward(x3), r3).backward();
      opt3.step();
    },
    { runs, warmup },
  );
  const loader = new DataLoader(
    new TensorDataset(gf.tensor(xsd).reshape(6183, 7, 1), gf.tensor(ysd).reshape(6183, 1)),
    { batchSize: 16, shuffle: true, generator: new gf.Generator().manualSeed(0) },
  );
  const opt0 = new Adam(close.parameters(), { lr: 1e-3 });
  await measure(
    'lstm-epoch',
    'gradfolio-cpu',
    EPOCH,
    () => {
      let total = 0;
      for (const [xb, yb] of loader) {
        opt0.zeroGrad();
        const loss = mseLoss(close.forward(xb), yb);
        loss.backward();
        opt0.step();
        total += loss.itemSync() as number;
      }
      return total;
    },
    { runs: epochRuns, warmup: 2 },
  );

  // ---- torch
  const torch = torchTimes(runs, warmup, epochRuns);
  if (typeof torch === 'string') console.error(`  lstm: torch skipped (${torch})`);
  else {
    record('lstm-fwd-bwd', 'torch-1t', S000, torch.fwdbwd_s000!, 200);
    record('lstm-fwd-bwd', 'torch-1t', S003, torch.fwdbwd_s003!, runs);
    record('lstm-train-step', 'torch-1t', S003, torch.step_s003!, runs);
    record('lstm-epoch', 'torch-1t', EPOCH, torch.epoch_s000!, epochRuns);
  }

  // ---- TensorFlow.js: tf.layers models, gradients by tf.variableGrads, Adam by optimizer.minimize.
  for (const backend of ['wasm', 'cpu'] as const) {
    await useTf(backend);
    const slow = backend === 'cpu';
    const closeTf = tfCloseModel();
    const portTf = tfPortfolioModel(50, 8, 64);
    const tx0 = tf.tensor3d(x0d, [16, 7, 1]);
    const ty0 = tf.tensor2d(y0d, [16, 1]);
    const tx3 = tf.tensor3d(x3d, [64, 50, 8]);
    const tr3 = tf.tensor2d(r3d, [64, 4]);
    await measure(
      'lstm-fwd-bwd',
      `tfjs-${backend}`,
      S000,
      async () => {
        const { value, grads } = tf.variableGrads(() => tfMse(closeTf.apply(tx0) as tf.Tensor, ty0));
        await value.data();
        value.dispose();
        tf.dispose(grads);
      },
      { runs: runs * 5, warmup: warmup * 5 },
    );
    await measure(
      'lstm-fwd-bwd',
      `tfjs-${backend}`,
      S003,
      async () => {
        const { value, grads } = tf.variableGrads(() => tfNegSharpe(portTf.apply(tx3) as tf.Tensor, tr3));
        await value.data();
        value.dispose();
        tf.dispose(grads);
      },
      { runs: slow ? 3 : runs, warmup: slow ? 1 : warmup },
    );
    const adam3 = tf.train.adam(1e-3);
    await measure(
      'lstm-train-step',
      `tfjs-${backend}`,
      S003,
      async () => {
        const loss = adam3.minimize(() => tfNegSharpe(portTf.apply(tx3) as tf.Tensor, tr3), true);
        await loss?.data();
        loss?.dispose();
      },
      { runs: slow ? 3 : runs, warmup: slow ? 1 : warmup },
    );
    if (!slow || !quick) {
      const xs = tf.tensor3d(xsd, [6183, 7, 1]);
      const ys = tf.tensor2d(ysd, [6183, 1]);
      const adam0 = tf.train.adam(1e-3);
      const g = new gf.Generator().manualSeed(1);
      await measure(
        'lstm-epoch',
        `tfjs-${backend}`,
        EPOCH,
        () => tfCloseEpoch(closeTf, adam0, xs, ys, 16, g),
        { runs: slow ? 1 : epochRuns, warmup: slow ? 0 : 1 },
      );
      tf.dispose([xs, ys]);
      adam0.dispose();
    }
    adam3.dispose();
    tf.dispose([tx0, ty0, tx3, tr3]);
    closeTf.dispose();
    portTf.dispose();
  }
}
