/**
 * A small dense convex quadratic programming solver on the host, in float64.
 *
 * Method: a primal-dual interior point (Mehrotra predictor-corrector) followed by an active-set polish.
 * The interior point needs no feasible starting point (a primal active-set method would need a phase-1
 * LP) and copes with a positive semidefinite `Q` (the Cornuejols–Tütüncü form of maximum Sharpe has a
 * homogeneous constraint set); portfolio problems are small (tens to a few hundred assets), so one dense
 * LU factorisation of the reduced KKT system per iteration is cheap. Once the interior point has
 * converged, the constraints whose slack is below their multiplier are taken as the active set and the
 * equality-constrained KKT system on that set is solved directly: when the polished point is primal
 * feasible with non-negative multipliers it is the exact optimum (to rounding), otherwise the interior
 * point answer (accurate to about 1e-10) is kept.
 *
 * @module
 */

import { GradfolioError } from '@gradfolio/tensor';

/** A convex QP: minimise `½ x'Qx + c'x` subject to `A x = b` and `G x ≤ h`. Matrices are row-major. */
export interface QuadraticProgram {
  /** Positive semidefinite `n × n` matrix, row-major. */
  Q: Float64Array;
  /** Linear term, length `n`. */
  c: Float64Array;
  /** Equality constraint rows (`p × n`, row-major); omit for none. */
  A?: Float64Array;
  /** Equality right-hand side, length `p`. */
  b?: Float64Array;
  /** Inequality constraint rows (`m × n`, row-major); omit for none. */
  G?: Float64Array;
  /** Inequality right-hand side, length `m`. */
  h?: Float64Array;
}

/** Options of {@link solveQP}. */
export interface SolveQPOptions {
  /** Stop when residuals and the duality measure fall below this (relative). Default `1e-12`. */
  tol?: number;
  /** Interior point iteration cap. Default `200`. */
  maxIter?: number;
}

/** Solution of {@link solveQP}. */
export interface QPSolution {
  /** Primal solution, length `n`. */
  x: Float64Array;
  /** Equality multipliers, length `p`. */
  y: Float64Array;
  /** Inequality multipliers (≥ 0), length `m`. */
  z: Float64Array;
  /** Indices of the inequality rows active at the solution. */
  active: number[];
  /** Interior point iterations. */
  iterations: number;
  /** Whether the active-set polish was accepted. */
  polished: boolean;
}

/**
 * Solves `x = L U \ rhs` in place by Gaussian elimination with partial pivoting (dense, `k × k`).
 * Returns `false` when the matrix is numerically singular.
 * @internal
 */
export function luSolve(M: Float64Array, rhs: Float64Array, k: number): boolean {
  const a = M;
  const r = rhs;
  for (let col = 0; col < k; col++) {
    let piv = col;
    let best = Math.abs(a[col * k + col]!);
    for (let i = col + 1; i < k; i++) {
      const v = Math.abs(a[i * k + col]!);
      if (v > best) {
        best = v;
        piv = i;
      }
    }
    if (best === 0 || !Number.isFinite(best)) return false;
    if (piv !== col) {
      for (let j = 0; j < k; j++) {
        const t = a[col * k + j]!;
        a[col * k + j] = a[piv * k + j]!;
        a[piv * k + j] = t;
      }
      const t = r[col]!;
      r[col] = r[piv]!;
      r[piv] = t;
    }
    const d = a[col * k + col]!;
    for (let i = col + 1; i < k; i++) {
      const f = a[i * k + col]! / d;
      if (f === 0) continue;
      for (let j = col; j < k; j++) a[i * k + j] = a[i * k + j]! - f * a[col * k + j]!;
      r[i] = r[i]! - f * r[col]!;
    }
  }
  for (let i = k - 1; i >= 0; i--) {
    let s = r[i]!;
    for (let j = i + 1; j < k; j++) s -= a[i * k + j]! * r[j]!;
    r[i] = s / a[i * k + i]!;
  }
  return true;
}

function norm(v: Float64Array): number {
  let m = 0;
  for (const x of v) m = Math.max(m, Math.abs(x));
  return m;
}

/**
 * Solves the convex QP `min ½ x'Qx + c'x  s.t.  A x = b,  G x ≤ h` on the host in float64 (interior point,
 * then an active-set polish; see the module notes).
 *
 * Throws `GradfolioError('INFEASIBLE')` when the interior point does not converge (the usual sign of
 * infeasible constraints) and `'INVALID_ARGUMENT'` for inconsistent sizes.
 *
 * @example
 * ```ts
 * // min x0² + x1²  s.t. x0 + x1 = 1, x ≥ 0  →  [0.5, 0.5]
 * const { x } = solveQP({ Q: new Float64Array([2, 0, 0, 2]), c: new Float64Array(2),
 *   A: new Float64Array([1, 1]), b: new Float64Array([1]),
 *   G: new Float64Array([-1, 0, 0, -1]), h: new Float64Array(2) });
 * ```
 */
export function solveQP(qp: QuadraticProgram, options: SolveQPOptions = {}): QPSolution {
  const n = qp.c.length;
  const A = qp.A ?? new Float64Array(0);
  const b = qp.b ?? new Float64Array(0);
  const G = qp.G ?? new Float64Array(0);
  const h = qp.h ?? new Float64Array(0);
  const p = b.length;
  const m = h.length;
  if (qp.Q.length !== n * n || A.length !== p * n || G.length !== m * n) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `solveQP: inconsistent sizes (n=${n}, Q has ${qp.Q.length} entries, A ${A.length} for p=${p}, G ${G.length} for m=${m})`,
      { op: 'solveQP' },
    );
  }
  const tol = options.tol ?? 1e-12;
  const maxIter = options.maxIter ?? 200;
  const Q = qp.Q;
  const c = qp.c;
  const x = new Float64Array(n);
  const y = new Float64Array(p);
  const s = new Float64Array(m).fill(1);
  const z = new Float64Array(m).fill(1);
  const scale = 1 + Math.max(norm(Q), norm(c), norm(b), norm(h));
  const k = n + p;
  const rd = new Float64Array(n);
  const re = new Float64Array(p);
  const ri = new Float64Array(m);
  const Gx = new Float64Array(m);

  const residuals = (): void => {
    for (let i = 0; i < n; i++) {
      let v = c[i]!;
      for (let j = 0; j < n; j++) v += Q[i * n + j]! * x[j]!;
      rd[i] = v;
    }
    for (let e = 0; e < p; e++) {
      let v = -b[e]!;
      for (let j = 0; j < n; j++) {
        const a = A[e * n + j]!;
        v += a * x[j]!;
        rd[j] = rd[j]! + a * y[e]!;
      }
      re[e] = v;
    }
    for (let r = 0; r < m; r++) {
      let v = 0;
      for (let j = 0; j < n; j++) {
        const g = G[r * n + j]!;
        v += g * x[j]!;
        rd[j] = rd[j]! + g * z[r]!;
      }
      Gx[r] = v;
      ri[r] = v + s[r]! - h[r]!;
    }
  };

  // Factor-and-solve of the reduced KKT system for one right-hand side of the complementarity row.
  const K = new Float64Array(k * k);
  const newton = (
    rc: Float64Array,
  ): { dx: Float64Array; dy: Float64Array; dz: Float64Array; ds: Float64Array } | undefined => {
    K.fill(0);
    const rhs = new Float64Array(k);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) K[i * k + j] = Q[i * n + j]!;
    const w = new Float64Array(m);
    for (let r = 0; r < m; r++) {
      const d = z[r]! / s[r]!;
      w[r] = d * ri[r]! - rc[r]! / s[r]!;
      for (let i = 0; i < n; i++) {
        const gi = G[r * n + i]!;
        if (gi === 0) continue;
        const dgi = d * gi;
        for (let j = 0; j < n; j++) K[i * k + j] = K[i * k + j]! + dgi * G[r * n + j]!;
      }
    }
    for (let e = 0; e < p; e++) {
      for (let j = 0; j < n; j++) {
        K[(n + e) * k + j] = A[e * n + j]!;
        K[j * k + n + e] = A[e * n + j]!;
      }
      // A tiny negative regularisation keeps the system solvable with redundant equalities.
      K[(n + e) * k + n + e] = -1e-14 * scale;
      rhs[n + e] = -re[e]!;
    }
    for (let i = 0; i < n; i++) {
      let v = -rd[i]!;
      for (let r = 0; r < m; r++) v -= G[r * n + i]! * w[r]!;
      rhs[i] = v;
    }
    if (!luSolve(K, rhs, k)) return undefined;
    const dx = rhs.subarray(0, n).slice();
    const dy = rhs.subarray(n).slice();
    const dz = new Float64Array(m);
    const ds = new Float64Array(m);
    for (let r = 0; r < m; r++) {
      let gdx = 0;
      for (let j = 0; j < n; j++) gdx += G[r * n + j]! * dx[j]!;
      dz[r] = (z[r]! / s[r]!) * (gdx + ri[r]!) - rc[r]! / s[r]!;
      ds[r] = (-rc[r]! - s[r]! * dz[r]!) / z[r]!;
    }
    return { dx, dy, dz, ds };
  };

  const maxStep = (v: Float64Array, dv: Float64Array): number => {
    let a = 1;
    for (let r = 0; r < m; r++) if (dv[r]! < 0) a = Math.min(a, -v[r]! / dv[r]!);
    return a;
  };

  let iter = 0;
  let converged = false;
  for (; iter < maxIter; iter++) {
    residuals();
    let mu = 0;
    for (let r = 0; r < m; r++) mu += s[r]! * z[r]!;
    mu = m > 0 ? mu / m : 0;
    if (
      norm(rd) <= tol * scale &&
      norm(re) <= tol * scale &&
      norm(ri) <= tol * scale &&
      mu <= tol * tol * scale
    ) {
      converged = true;
      break;
    }
    if (m === 0) {
      const step = newton(new Float64Array(0));
      if (step === undefined) break;
      for (let i = 0; i < n; i++) x[i] = x[i]! + step.dx[i]!;
      for (let e = 0; e < p; e++) y[e] = y[e]! + step.dy[e]!;
      continue;
    }
    const rc = new Float64Array(m);
    for (let r = 0; r < m; r++) rc[r] = s[r]! * z[r]!;
    const aff = newton(rc);
    if (aff === undefined) break;
    const aAff = Math.min(maxStep(s, aff.ds), maxStep(z, aff.dz));
    let muAff = 0;
    for (let r = 0; r < m; r++) muAff += (s[r]! + aAff * aff.ds[r]!) * (z[r]! + aAff * aff.dz[r]!);
    muAff /= m;
    const sigma = Math.min(1, (muAff / mu) ** 3);
    for (let r = 0; r < m; r++) rc[r] = s[r]! * z[r]! + aff.ds[r]! * aff.dz[r]! - sigma * mu;
    const step = newton(rc);
    if (step === undefined) break;
    const alpha = Math.min(1, 0.99 * Math.min(maxStep(s, step.ds), maxStep(z, step.dz)));
    for (let i = 0; i < n; i++) x[i] = x[i]! + alpha * step.dx[i]!;
    for (let e = 0; e < p; e++) y[e] = y[e]! + alpha * step.dy[e]!;
    for (let r = 0; r < m; r++) {
      s[r] = Math.max(s[r]! + alpha * step.ds[r]!, 1e-300);
      z[r] = Math.max(z[r]! + alpha * step.dz[r]!, 1e-300);
    }
  }
  if (!converged) {
    residuals();
    const loose = 1e-7 * scale;
    if (!(norm(rd) <= loose && norm(re) <= loose && norm(ri) <= loose)) {
      throw new GradfolioError(
        'INFEASIBLE',
        `solveQP: the interior point did not converge in ${iter} iterations (primal residual ${Math.max(norm(re), norm(ri)).toExponential(2)}, dual residual ${norm(rd).toExponential(2)}); the constraints are probably infeasible`,
        { op: 'solveQP', iterations: iter },
      );
    }
  }
  const active: number[] = [];
  for (let r = 0; r < m; r++) if (s[r]! < z[r]!) active.push(r);
  const polished = polish(Q, c, A, b, G, h, active, n, p, m);
  if (polished !== undefined) {
    const zz = new Float64Array(m);
    active.forEach((r, i) => {
      zz[r] = polished.lambda[p + i]!;
    });
    return {
      x: polished.x,
      y: polished.lambda.slice(0, p),
      z: zz,
      active,
      iterations: iter,
      polished: true,
    };
  }
  return { x, y, z, active, iterations: iter, polished: false };
}

/** Solves the KKT system on the active set; undefined when it is singular or not optimal. */
function polish(
  Q: Float64Array,
  c: Float64Array,
  A: Float64Array,
  b: Float64Array,
  G: Float64Array,
  h: Float64Array,
  active: number[],
  n: number,
  p: number,
  m: number,
): { x: Float64Array; lambda: Float64Array } | undefined {
  const q = p + active.length;
  const k = n + q;
  const K = new Float64Array(k * k);
  const rhs = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) K[i * k + j] = Q[i * n + j]!;
    rhs[i] = -c[i]!;
  }
  const row = (e: number): [Float64Array, number] =>
    e < p
      ? [A.subarray(e * n, (e + 1) * n), b[e]!]
      : [G.subarray(active[e - p]! * n, (active[e - p]! + 1) * n), h[active[e - p]!]!];
  for (let e = 0; e < q; e++) {
    const [a, v] = row(e);
    for (let j = 0; j < n; j++) {
      K[(n + e) * k + j] = a[j]!;
      K[j * k + n + e] = a[j]!;
    }
    rhs[n + e] = v;
  }
  if (!luSolve(K, rhs, k)) return undefined;
  const x = rhs.slice(0, n);
  const lambda = rhs.slice(n);
  if (!x.every(Number.isFinite)) return undefined;
  const feasTol = 1e-9 * (1 + norm(h) + norm(b));
  for (let r = 0; r < m; r++) {
    let v = -h[r]!;
    for (let j = 0; j < n; j++) v += G[r * n + j]! * x[j]!;
    if (v > feasTol) return undefined;
  }
  for (let e = 0; e < p; e++) {
    let v = -b[e]!;
    for (let j = 0; j < n; j++) v += A[e * n + j]! * x[j]!;
    if (Math.abs(v) > feasTol) return undefined;
  }
  const lamTol = 1e-9 * (1 + norm(lambda));
  for (let i = p; i < q; i++) if (lambda[i]! < -lamTol) return undefined;
  return { x, lambda };
}
