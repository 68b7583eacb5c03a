/**
 * Euclidean projection onto the simplex, for projected-gradient users.
 *
 * @module
 */

import { arange, cumsum, GradfolioError, gather, relu, sort, sum, type Tensor } from '@gradfolio/tensor';

/** Options of {@link projectSimplex}. */
export interface ProjectSimplexOptions {
  /** The simplex radius: the projection sums to `z` along the last dim. Default `1`. */
  z?: number;
}

/**
 * Euclidean projection of `v` onto the simplex `{w : w ≥ 0, Σ w = z}` along the last dim, batched over
 * the leading dims (Duchi, Shalev-Shwartz, Singer and Chandra 2008, the O(n log n) sort-based algorithm).
 *
 * With `u` the entries sorted in decreasing order, `ρ = max{j : u_j - (Σ_{i≤j} u_i - z) / j > 0}`,
 * `θ = (Σ_{i≤ρ} u_i - z) / ρ` and the projection is `max(v - θ, 0)`. It is built from tensor ops
 * (`sort`, `cumsum`, `gather`, `relu`), so it runs on the input's device and is differentiable almost
 * everywhere. This is the correct step for projected gradient descent on long-only, fully invested
 * weights; clamping at zero and renormalising (seed 004's way) is not a projection.
 *
 * @example
 * ```ts
 * projectSimplex(tensor([0.5, 0.8, -0.2])); // tensor([0.35, 0.65, 0])
 * projectSimplex(randn([8, 5]), { z: 2 }); // each row ≥ 0 and sums to 2
 * ```
 */
export function projectSimplex(v: Tensor, options: ProjectSimplexOptions = {}): Tensor {
  const z = options.z ?? 1;
  if (!(z > 0) || !Number.isFinite(z)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `projectSimplex: z must be a positive finite number, got ${z}`,
      {
        op: 'projectSimplex',
        z,
      },
    );
  }
  if (v.ndim === 0 || v.shape[v.ndim - 1] === 0) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `projectSimplex: expected at least one entry along the last dim, got shape [${v.shape.join(', ')}]`,
      { op: 'projectSimplex', shapes: [v.shape] },
    );
  }
  const n = v.shape[v.ndim - 1]!;
  const [u] = sort(v, -1, { descending: true });
  const css = cumsum(u, -1).sub(z);
  const j = arange(1, n + 1, 1, { dtype: v.dtype, device: v.device });
  // The condition holds on a prefix of the sorted entries (always for j = 1), so ρ is its count.
  const rho = sum(u.sub(css.div(j)).gt(0), -1, { keepdim: true, dtype: 'int32' });
  const theta = gather(css, -1, rho.sub(1)).div(rho.to({ dtype: v.dtype }));
  return relu(v.sub(theta));
}
