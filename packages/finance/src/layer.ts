/**
 * A differentiable mean-variance layer: the exact long-only, fully invested solution, with a backward
 * pass from implicit differentiation of the KKT conditions on the active set.
 *
 * @module
 */

import { type Derivative, registerDerivative } from '@gradfolio/autograd';
import {
  cat,
  diag,
  GradfolioError,
  getAutogradHook,
  solve,
  type Tensor,
  tensor,
  zeros,
} from '@gradfolio/tensor';
import { solveQP } from './qp.js';

const OP = 'finance.meanVarianceLayer';

/**
 * Backward of the layer. With `F` the assets held (`w_i > 0`) the KKT conditions on `F` are
 * `γ Σ_FF w_F - μ_F + ν 1 = 0`, `1'w_F = 1`, and `w_i = 0` off `F`. For an incoming gradient `g`, solve
 * `[γ Σ_FF  1; 1'  0] [u; η] = [g_F; 0]` (one linear solve, embedded in `n + 1` dims with the identity on
 * the assets not held); then `∂L/∂μ = u` and `∂L/∂Σ = -γ (u w' + w u') / 2` (symmetrised, since the
 * forward reads `(Σ + Σ') / 2`).
 */
const derivative: Derivative = {
  name: 'MeanVarianceLayerBackward0',
  save: 'both',
  backward: (ctx) => {
    const g = ctx.grads[0]!;
    const cov = ctx.input(0);
    const w = ctx.output(0);
    const gamma = ctx.attrs.riskAversion as number;
    const n = w.shape[0]!;
    const m = w.gt(0).to({ dtype: cov.dtype });
    const free = m.unsqueeze(1).mul(m.unsqueeze(0));
    const notHeld = m.neg().add(1);
    const top = cov.mul(free).mul(gamma).add(diag(notHeld));
    const K = cat(
      [cat([top, m.unsqueeze(1)], 1), cat([m.unsqueeze(0), zeros([1, 1], { dtype: cov.dtype })], 1)],
      0,
    );
    const rhs = cat([g.mul(m), zeros([1], { dtype: cov.dtype })], 0).unsqueeze(1);
    const u = solve(K, rhs).squeeze(1).narrow(0, 0, n);
    const uw = u.unsqueeze(1).mul(w.unsqueeze(0));
    const dCov = uw.add(uw.transpose(0, 1)).mul(-gamma / 2);
    return [ctx.needs[0] ? dCov : undefined, ctx.needs[1] ? u : undefined];
  },
};
let registered = false;

/** Options of {@link meanVarianceLayer}. */
export interface MeanVarianceLayerOptions {
  /** Risk aversion `γ > 0` in `½ γ w'Σw - μ'w`. Default `1`. */
  riskAversion?: number;
}

/**
 * A differentiable mean-variance layer: `w* = argmin ½ γ w'Σw - μ'w` s.t. `Σw = 1`, `w ≥ 0` (long-only,
 * fully invested); without `expectedReturns` it is the long-only minimum variance portfolio. The forward
 * pass is the exact QP of `qp.ts` on the host in float64 (it reads the inputs with `dataSync()`, so they
 * must live on a synchronously readable device such as the CPU). The backward pass differentiates the
 * solution through the KKT conditions on the active set (the assets held), with tensor ops only, so
 * gradients flow to `covariance` and `expectedReturns`. At points where an asset is exactly on the edge of
 * the active set (held at zero weight with a zero multiplier) the solution is not differentiable; the
 * one-sided derivative of the current active set is returned.
 *
 * @example
 * ```ts
 * const mu = tensor([0.1, 0.2, 0.15], { dtype: 'float64', requiresGrad: true });
 * const w = meanVarianceLayer(cov, mu, { riskAversion: 4 });
 * w.mul(realised).sum().backward(); // mu.grad: how the realised return moves with the forecasts
 * ```
 */
export function meanVarianceLayer(
  covariance: Tensor,
  expectedReturns?: Tensor,
  options: MeanVarianceLayerOptions = {},
): Tensor {
  const op = 'meanVarianceLayer';
  const gamma = options.riskAversion ?? 1;
  if (!(gamma > 0) || !Number.isFinite(gamma)) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: riskAversion must be positive, got ${gamma}`, {
      op,
    });
  }
  if (covariance.ndim !== 2 || covariance.shape[0] !== covariance.shape[1] || covariance.shape[0] === 0) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: the covariance must be a non-empty square matrix, got shape [${covariance.shape.join(', ')}]`,
      { op, shapes: [covariance.shape] },
    );
  }
  const n = covariance.shape[0]!;
  const mu = expectedReturns ?? zeros([n], { dtype: covariance.dtype, device: covariance.device });
  if (mu.ndim !== 1 || mu.shape[0] !== n) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: expected returns of shape [${n}] to match the covariance, got [${mu.shape.join(', ')}]`,
      { op, shapes: [mu.shape, covariance.shape] },
    );
  }
  const raw = covariance.contiguous().dataSync();
  const S = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      S[i * n + j] = 0.5 * gamma * (Number(raw[i * n + j]) + Number(raw[j * n + i]));
  const c = Float64Array.from(mu.contiguous().dataSync(), (v) => -Number(v));
  const G = new Float64Array(n * n);
  for (let i = 0; i < n; i++) G[i * n + i] = -1;
  const sol = solveQP({
    Q: S,
    c,
    A: new Float64Array(n).fill(1),
    b: Float64Array.from([1]),
    G,
    h: new Float64Array(n),
  });
  const w = sol.x.slice();
  for (const r of sol.active) w[r] = 0;
  for (let i = 0; i < n; i++) if (w[i]! < 0) w[i] = 0;
  const out = tensor(w, { dtype: covariance.dtype, device: covariance.device });
  const hook = getAutogradHook();
  if (!registered) {
    // Registered on first use (the package is marked side-effect free).
    registerDerivative(OP, derivative);
    registered = true;
  }
  if (hook?.isGradEnabled() && (covariance.requiresGrad || mu.requiresGrad)) {
    hook.record({ op: OP, inputs: [covariance, mu], outputs: [out], attrs: { riskAversion: gamma } });
  }
  return out;
}
