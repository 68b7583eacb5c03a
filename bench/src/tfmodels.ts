/**
 * The TensorFlow.js side of the LSTM benches (CPU `lstm.ts` and GPU `gpu.ts`): the same models as
 * gradfolio's and torch's, written the way a TensorFlow.js user would (`tf.layers`), with the same loss
 * and the same training loops.
 */
import * as gf from '@gradfolio/tensor';
import * as tf from '@tensorflow/tfjs';

/** Seed 003's portfolio model: LSTM(features -> hidden) -> Dense(assets, softmax). */
export function tfPortfolioModel(T: number, F: number, H: number, assets = 4): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.lstm({ units: H, inputShape: [T, F] }),
      tf.layers.dense({ units: assets, activation: 'softmax' }),
    ],
  });
}

/** Seed 000's model: LSTM(1 -> 4) -> Dense(1). */
export function tfCloseModel(lookback = 7): tf.Sequential {
  return tf.sequential({
    layers: [tf.layers.lstm({ units: 4, inputShape: [lookback, 1] }), tf.layers.dense({ units: 1 })],
  });
}

/** Negative Sharpe ratio (mean / sample std) of the portfolio returns `sum(weights * nextReturns, 1)`. */
export function tfNegSharpe(weights: tf.Tensor, nextReturns: tf.Tensor): tf.Scalar {
  const port = tf.sum(tf.mul(weights, nextReturns), 1);
  const n = port.shape[0] as number;
  const mean = tf.mean(port);
  const std = tf.sqrt(tf.div(tf.sum(tf.square(tf.sub(port, mean))), n - 1));
  return tf.neg(tf.div(mean, std)) as tf.Scalar;
}

/** Mean squared error. */
export function tfMse(p: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.mean(tf.square(tf.sub(p, y)));
}

/**
 * One epoch of seed 000's loop: shuffled batches (one gather per tensor and batch, as a DataLoader
 * does), Adam through `minimize`, the loss read every step. Returns the summed loss.
 */
export async function tfCloseEpoch(
  model: tf.Sequential,
  opt: tf.Optimizer,
  xs: tf.Tensor,
  ys: tf.Tensor,
  batch: number,
  g: gf.Generator,
): Promise<number> {
  const n = xs.shape[0] as number;
  const perm = Array.from(gf.randperm(n, { generator: g }).dataSync() as Int32Array);
  let total = 0;
  for (let s = 0; s < perm.length; s += batch) {
    const idx = tf.tensor1d(perm.slice(s, s + batch), 'int32');
    const xb = tf.gather(xs, idx);
    const yb = tf.gather(ys, idx);
    const loss = opt.minimize(() => tfMse(model.apply(xb) as tf.Tensor, yb), true) as tf.Scalar;
    total += (await loss.data())[0] as number;
    tf.dispose([idx, xb, yb, loss]);
  }
  return total;
}
