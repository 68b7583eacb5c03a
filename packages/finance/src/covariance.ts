/**
 * Covariance estimators (sample, exponentially weighted, Ledoit-Wolf shrinkage) and positive
 * semi-definiteness checks / repair.
 *
 * Estimators take returns `[T, N]` (observations in rows) and return `[N, N]`; they are differentiable.
 * The PSD check (`psd: 'error' | 'repair'`) needs the eigenvalues, which are computed **on the host in
 * float64** (cyclic Jacobi) — one read of the `N x N` matrix; pass `psd: 'ignore'` to skip it (no host read).
 *
 * @module
 */

import { eye, GradfolioError, type Tensor, tensor } from '@gradfolio/tensor';
import { type EwmOptions, ewmAlpha, ewmWeights } from './returns.js';

/** What an estimator does with a matrix that is not positive semi-definite. */
export type PSDMode = 'error' | 'repair' | 'ignore';

/** Options every covariance estimator takes. */
export interface CovarianceOptions {
  /**
   * Scale the result to annual units: `true` multiplies by 252, a number by that many periods per year.
   * Default `false`.
   */
  annualize?: boolean | number;
  /**
   * `'error'` (default): throw `NOT_PSD` naming the most negative eigenvalue; `'repair'`: replace the matrix
   * by {@link nearestPSD}; `'ignore'`: no check (and no host read). `'error'` and `'repair'` read the `N x N`
   * result synchronously (CPU-like backends); elsewhere pass `'ignore'` and use {@link ensurePSDAsync}.
   */
  psd?: PSDMode;
  /** Relative tolerance of the PSD check, see {@link isPSD}. */
  tol?: number;
}

function check2d(op: string, x: Tensor, minRows: number): [number, number] {
  if (x.ndim !== 2) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: expected returns of shape [T, N], got [${x.shape.join(', ')}]`,
      { op, shapes: [x.shape] },
    );
  }
  if (x.dtype !== 'float32' && x.dtype !== 'float64') {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      `${op}: expected a float32 or float64 tensor, got ${x.dtype}`,
      {
        op,
        shapes: [x.shape],
      },
    );
  }
  const t = x.shape[0] as number;
  const n = x.shape[1] as number;
  if (t < minRows) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: need at least ${minRows} observations, got returns of shape [${t}, ${n}]`,
      { op, shapes: [x.shape] },
    );
  }
  return [t, n];
}

function annualFactor(op: string, a: boolean | number | undefined): number {
  if (a === undefined || a === false) return 1;
  if (a === true) return 252;
  if (!(Number.isFinite(a) && a > 0)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: annualize must be a boolean or a positive number, got ${a}`,
      {
        op,
      },
    );
  }
  return a;
}

function finish(op: string, cov: Tensor, o: CovarianceOptions): Tensor {
  const f = annualFactor(op, o.annualize);
  const scaled = f === 1 ? cov : cov.mul(f);
  return ensurePSD(scaled, { psd: o.psd ?? 'error', ...(o.tol === undefined ? {} : { tol: o.tol }), op });
}

// ------------------------------------------------------------------ host eigen-decomposition

/** Symmetric eigen-decomposition by cyclic Jacobi rotations, float64, row-major `n x n`. */
function jacobiEigen(src: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(src);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const at = (i: number, j: number): number => a[i * n + j] as number;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const x = at(i, j) * at(i, j);
        total += x;
        if (i !== j) off += x;
      }
    }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = at(p, q);
        if (apq === 0) continue;
        const theta = (at(q, q) - at(p, p)) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = at(k, p);
          const akq = at(k, q);
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = at(p, k);
          const aqk = at(q, k);
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p] as number;
          const vkq = v[k * n + q] as number;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = at(i, i);
  return { values, vectors: v };
}

function checkSquare(op: string, m: Tensor): number {
  const n = m.shape[0] as number;
  if (m.ndim !== 2 || m.shape[1] !== n) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: expected a square matrix, got [${m.shape.join(', ')}]`,
      {
        op,
        shapes: [m.shape],
      },
    );
  }
  return n;
}

/** Float64 copy of the symmetric part of the row-major `n x n` host data `d`. */
function symOf(d: ArrayLike<number | bigint>, n: number): Float64Array {
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) s[i * n + j] = 0.5 * (Number(d[i * n + j]) + Number(d[j * n + i]));
  }
  return s;
}

/** Synchronous host read, with a message pointing at the async variants where the backend cannot. */
function readSync(op: string, m: Tensor): ArrayLike<number | bigint> {
  const b = m.backend;
  if (b.readSync === undefined) {
    throw new GradfolioError(
      'SYNC_READ_UNAVAILABLE',
      `${op}: the PSD check reads the [${m.shape.join(', ')}] matrix on the host, and the '${b.name}' backend cannot read synchronously; pass psd: 'ignore' (and call 'await ensurePSDAsync(cov)' / 'await isPSDAsync(cov)') instead`,
      { op, device: b.name, shapes: [m.shape] },
    );
  }
  return m.detach().dataSync() as ArrayLike<number | bigint>;
}

function minEig(values: Float64Array): { min: number; scale: number } {
  let min = Number.POSITIVE_INFINITY;
  let scale = 0;
  for (const x of values) {
    min = Math.min(min, x);
    scale = Math.max(scale, Math.abs(x));
  }
  return { min, scale };
}

function psdFromValues(values: Float64Array, tol: number | undefined): { ok: boolean; min: number } {
  if (values.length === 0) return { ok: true, min: 0 };
  const { min, scale } = minEig(values);
  return { ok: min >= -(tol ?? 1e-12) * scale, min };
}

function repairFrom(matrix: Tensor, host: Float64Array, n: number, floor: number): Tensor {
  const sym = matrix.add(matrix.transpose(0, 1)).mul(0.5);
  if (n === 0) return sym;
  const { values, vectors } = jacobiEigen(host, n);
  const corr = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const lam = values[k] as number;
    if (lam >= floor) continue;
    const dl = floor - lam;
    for (let i = 0; i < n; i++) {
      const vi = (vectors[i * n + k] as number) * dl;
      for (let j = 0; j < n; j++)
        corr[i * n + j] = (corr[i * n + j] as number) + vi * (vectors[j * n + k] as number);
    }
  }
  return sym.add(tensor(corr, { dtype: matrix.dtype, device: matrix.device }).reshape(n, n));
}

/**
 * Eigenvalues of the symmetric part of `matrix`, ascending, computed on the host in float64 (cyclic Jacobi).
 * Synchronous: CPU-like backends only.
 *
 * @example
 * ```ts
 * eigvalsSym(sampleCov(r)); // Float64Array, smallest first
 * ```
 */
export function eigvalsSym(matrix: Tensor): Float64Array {
  const n = checkSquare('eigvalsSym', matrix);
  if (n === 0) return new Float64Array(0);
  return jacobiEigen(symOf(readSync('eigvalsSym', matrix), n), n).values.sort();
}

/**
 * True when the symmetric part of `matrix` has no eigenvalue below `-tol * max|eigenvalue|`
 * (`tol` defaults to `1e-12`, which absorbs rounding in estimators of rank-deficient data). Reads the matrix
 * to the host (float64 eigenvalues); on backends without synchronous reads use {@link isPSDAsync}.
 *
 * @example
 * ```ts
 * isPSD(tensor([[1, 2], [2, 1]], { dtype: 'float64' })); // false (eigenvalues -1, 3)
 * ```
 */
export function isPSD(matrix: Tensor, options: { tol?: number } = {}): boolean {
  const n = checkSquare('isPSD', matrix);
  if (n === 0) return true;
  return psdFromValues(jacobiEigen(symOf(readSync('isPSD', matrix), n), n).values, options.tol).ok;
}

/**
 * {@link isPSD} for every backend (reads the matrix back asynchronously).
 *
 * @example
 * ```ts
 * if (!(await isPSDAsync(cov))) cov = await ensurePSDAsync(cov, { psd: 'repair' });
 * ```
 */
export async function isPSDAsync(matrix: Tensor, options: { tol?: number } = {}): Promise<boolean> {
  const n = checkSquare('isPSDAsync', matrix);
  if (n === 0) return true;
  const d = (await matrix.detach().data()) as ArrayLike<number | bigint>;
  return psdFromValues(jacobiEigen(symOf(d, n), n).values, options.tol).ok;
}

/**
 * The nearest (Frobenius norm) positive semi-definite matrix: symmetrise, then clip negative eigenvalues to
 * `minEigenvalue` (default `0`): `V diag(max(lambda, minEigenvalue)) V^T` (Higham 1988). With no unit-diagonal
 * constraint this projection is exact, so Higham's 2002 alternating projections (needed for the nearest
 * *correlation* matrix) are unnecessary. The eigen-decomposition runs on the host in float64; the result is
 * `sym(matrix) + C` with the constant correction `C` uploaded back, so gradients pass straight through.
 * Synchronous: on backends without synchronous reads use `ensurePSDAsync(m, { psd: 'repair' })`.
 *
 * @example
 * ```ts
 * nearestPSD(tensor([[1, 2], [2, 1]], { dtype: 'float64' })); // [[1.5, 1.5], [1.5, 1.5]]
 * ```
 */
export function nearestPSD(matrix: Tensor, options: { minEigenvalue?: number } = {}): Tensor {
  const n = checkSquare('nearestPSD', matrix);
  const host = n === 0 ? new Float64Array(0) : symOf(readSync('nearestPSD', matrix), n);
  return repairFrom(matrix, host, n, options.minEigenvalue ?? 0);
}

/** Options of {@link ensurePSD}. */
export interface EnsurePSDOptions {
  /** What to do with a matrix that is not PSD. Default `'error'`. */
  psd?: PSDMode;
  /** Relative tolerance, see {@link isPSD}. */
  tol?: number;
  /** The op named in the error. Default `'ensurePSD'`. */
  op?: string;
}

function applyMode(matrix: Tensor, host: Float64Array, n: number, o: EnsurePSDOptions, op: string): Tensor {
  const { ok, min } = psdFromValues(jacobiEigen(host, n).values, o.tol);
  if (ok) return matrix;
  if (o.psd === 'repair') return repairFrom(matrix, host, n, 0);
  throw new GradfolioError(
    'NOT_PSD',
    `${op}: the [${matrix.shape.join(', ')}] matrix is not positive semi-definite (most negative eigenvalue ${min}); pass psd: 'repair' to project it onto the PSD cone`,
    { op, shapes: [matrix.shape], minEigenvalue: min },
  );
}

function checkMode(op: string, mode: PSDMode): void {
  if (mode !== 'error' && mode !== 'repair' && mode !== 'ignore') {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: psd must be 'error', 'repair' or 'ignore', got '${String(mode)}'`,
      { op },
    );
  }
}

/**
 * Applies a {@link PSDMode} to `matrix`: returns it unchanged when PSD (or with `'ignore'`), repairs it with
 * {@link nearestPSD} under `'repair'`, or throws `NOT_PSD` naming the most negative eigenvalue.
 *
 * @example
 * ```ts
 * const cov = ensurePSD(myCov, { psd: 'repair' });
 * ```
 */
export function ensurePSD(matrix: Tensor, options: EnsurePSDOptions = {}): Tensor {
  const op = options.op ?? 'ensurePSD';
  const mode = options.psd ?? 'error';
  checkMode(op, mode);
  const n = checkSquare(op, matrix);
  if (mode === 'ignore' || n === 0) return matrix;
  return applyMode(matrix, symOf(readSync(op, matrix), n), n, { ...options, psd: mode }, op);
}

/**
 * {@link ensurePSD} for every backend (reads the matrix back asynchronously). Pair it with `psd: 'ignore'` on
 * the estimators when the tensors live on a device without synchronous reads.
 *
 * @example
 * ```ts
 * const cov = await ensurePSDAsync(sampleCov(r, { psd: 'ignore' }), { psd: 'repair' });
 * ```
 */
export async function ensurePSDAsync(matrix: Tensor, options: EnsurePSDOptions = {}): Promise<Tensor> {
  const op = options.op ?? 'ensurePSDAsync';
  const mode = options.psd ?? 'error';
  checkMode(op, mode);
  const n = checkSquare(op, matrix);
  if (mode === 'ignore' || n === 0) return matrix;
  const d = (await matrix.detach().data()) as ArrayLike<number | bigint>;
  return applyMode(matrix, symOf(d, n), n, { ...options, psd: mode }, op);
}

// ------------------------------------------------------------------ estimators

/** Options of {@link sampleCov}. */
export interface SampleCovOptions extends CovarianceOptions {
  /** Degrees-of-freedom correction: divide by `T - correction`. Default `1` (unbiased, `np.cov`). */
  correction?: number;
}

/**
 * Sample covariance of returns `[T, N]` (rows are observations): `Xc^T Xc / (T - correction)`.
 *
 * @example
 * ```ts
 * const cov = sampleCov(logReturns(prices), { annualize: true }); // [N, N], annual units
 * ```
 */
export function sampleCov(returns: Tensor, options: SampleCovOptions = {}): Tensor {
  const correction = options.correction ?? 1;
  const [t] = check2d('sampleCov', returns, 1);
  if (t - correction <= 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `sampleCov: need more than correction=${correction} observations, got returns of shape [${returns.shape.join(', ')}]`,
      { op: 'sampleCov', shapes: [returns.shape] },
    );
  }
  const xc = returns.sub(returns.mean(0, { keepdim: true }));
  const cov = xc
    .transpose(0, 1)
    .matmul(xc)
    .div(t - correction);
  return finish('sampleCov', cov, options);
}

/** Options of {@link ewmCov}: the decay of {@link EwmOptions} plus the estimator options. */
export interface EwmCovOptions extends CovarianceOptions, Omit<EwmOptions, 'dim'> {
  /** pandas' `bias`: `false` (default) applies the `S1^2 / (S1^2 - S2)` correction. */
  bias?: boolean;
}

/**
 * Exponentially weighted covariance at the last observation of returns `[T, N]`: the last `N x N` block of
 * pandas `df.ewm(...).cov()` (weights as in {@link ewmMean}, bias-corrected unless `bias: true`).
 *
 * @example
 * ```ts
 * const cov = ewmCov(logReturns(prices), { halflife: 60, annualize: true });
 * ```
 */
export function ewmCov(returns: Tensor, options: EwmCovOptions = {}): Tensor {
  const alpha = ewmAlpha('ewmCov', options);
  const [t] = check2d('ewmCov', returns, 2);
  const w = ewmWeights(t, alpha, options.adjust ?? true, returns, { lastRowOnly: true }).reshape(t, 1);
  const s1 = w.sum();
  const wn = w.div(s1);
  const mean = wn.mul(returns).sum(0, { keepdim: true });
  const xc = returns.sub(mean);
  let cov = xc.mul(wn).transpose(0, 1).matmul(xc);
  if (!(options.bias ?? false)) {
    const s2 = w.mul(w).sum();
    cov = cov.mul(s1.mul(s1).div(s1.mul(s1).sub(s2)));
  }
  return finish('ewmCov', cov, options);
}

/** Options of {@link ledoitWolf}. */
export interface LedoitWolfOptions extends CovarianceOptions {
  /**
   * Shrinkage target: `'identity'` (default; `mu I` with `mu` the average variance, Ledoit & Wolf 2004, as
   * sklearn's `ledoit_wolf`) or `'constant-correlation'` (Ledoit & Wolf 2003, "Honey, I shrunk the sample
   * covariance matrix").
   */
  target?: 'identity' | 'constant-correlation';
}

/**
 * Ledoit-Wolf shrinkage of the (biased, `1/T`) sample covariance of returns `[T, N]` towards a structured
 * target, with the optimal shrinkage intensity estimated from the data. Returns the shrunk covariance and the
 * intensity (a 0-d tensor in `[0, 1]`).
 *
 * @example
 * ```ts
 * const { cov, shrinkage } = ledoitWolf(logReturns(prices), { target: 'constant-correlation', annualize: true });
 * ```
 */
export function ledoitWolf(
  returns: Tensor,
  options: LedoitWolfOptions = {},
): {
  /** The shrunk covariance matrix `[N, N]`. */
  cov: Tensor;
  /** The shrinkage intensity in [0, 1] (0-d). */
  shrinkage: Tensor;
} {
  const [t, n] = check2d('ledoitWolf', returns, 2);
  const target = options.target ?? 'identity';
  if (target !== 'identity' && target !== 'constant-correlation') {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `ledoitWolf: target must be 'identity' or 'constant-correlation', got '${String(target)}'`,
      { op: 'ledoitWolf' },
    );
  }
  const x = returns.sub(returns.mean(0, { keepdim: true }));
  const xt = x.transpose(0, 1);
  const xtx = xt.matmul(x);
  const sample = xtx.div(t);
  const x2 = x.mul(x);
  const id = eye(n, { dtype: returns.dtype, device: returns.device });
  let cov: Tensor;
  let shrinkage: Tensor;
  if (target === 'identity') {
    // sklearn.covariance.ledoit_wolf_shrinkage (assume_centered=False, after centring).
    const trace = x2.sum(0).div(t); // per-feature variances
    const traceSum = trace.sum();
    const mu = traceSum.div(n);
    const betaRaw = x2.transpose(0, 1).matmul(x2).sum();
    const deltaRaw = xtx
      .mul(xtx)
      .sum()
      .div(t * t);
    const beta = betaRaw
      .div(t)
      .sub(deltaRaw)
      .div(n * t);
    const delta = deltaRaw.sub(mu.mul(traceSum).mul(2)).add(mu.mul(mu).mul(n)).div(n);
    shrinkage = beta.minimum(delta).div(delta);
    cov = sample.mul(shrinkage.neg().add(1)).add(id.mul(mu.mul(shrinkage)));
  } else {
    if (n < 2) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `ledoitWolf: the constant-correlation target needs at least 2 assets, got returns of shape [${t}, ${n}]`,
        { op: 'ledoitWolf', shapes: [returns.shape] },
      );
    }
    const v = sample.diagonal(); // [N]
    const sd = v.sqrt();
    const sdOuter = sd.unsqueeze(1).mul(sd.unsqueeze(0));
    const rBar = sample
      .div(sdOuter)
      .sum()
      .sub(n)
      .div(n * (n - 1));
    const offDiag = id.neg().add(1);
    const prior = sdOuter.mul(rBar).mul(offDiag).add(id.mul(sample));
    // pi-hat
    const phiMat = x2
      .transpose(0, 1)
      .matmul(x2)
      .div(t)
      .sub(xtx.mul(sample).mul(2 / t))
      .add(sample.mul(sample));
    const phi = phiMat.sum();
    // rho-hat
    const term1 = x2.mul(x).transpose(0, 1).matmul(x).div(t);
    const theta = term1.sub(v.unsqueeze(1).mul(sample)).mul(offDiag);
    const ratio = sd.unsqueeze(0).div(sd.unsqueeze(1)); // [i, j] = sd_j / sd_i
    const rho = phiMat
      .diagonal()
      .sum()
      .add(rBar.mul(ratio.mul(theta).sum()));
    // gamma-hat
    const diff = sample.sub(prior);
    const gamma = diff.mul(diff).sum();
    shrinkage = phi.sub(rho).div(gamma).div(t).clamp(0, 1);
    cov = prior.mul(shrinkage).add(sample.mul(shrinkage.neg().add(1)));
  }
  return { cov: finish('ledoitWolf', cov, options), shrinkage };
}
