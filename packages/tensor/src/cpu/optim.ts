import type { Kernel, KernelAttrs, TensorView } from '../backend.js';

/**
 * Fused optimizer updates of the CPU backend: one pass over each parameter instead of ~10 pointwise
 * ops. Every intermediate follows the unfused ops' order and rounding: in float32 each op's result is
 * rounded (fround), scalar operands are float32 tensors (rounded) and `alpha` multipliers are not, as
 * in the elementwise kernels, so results are bit-identical to the op-by-op update.
 * Inputs are dense views (any offset); tensors are updated in place.
 */

type F = Float32Array | Float64Array;

function arr(v: TensorView): F {
  return v.handle as F;
}

const num = (a: KernelAttrs, k: string): number => a[k] as number;

/** Inputs `[param, grad, expAvg, expAvgSq, maxExpAvgSq?]`; attrs lr, beta1, beta2, eps, step, amsgrad. */
export const adamUpdateKernel: Kernel = (inputs, _outputs, attrs) => {
  const [pV, gV, mV, vV, xV] = inputs as [TensorView, TensorView, TensorView, TensorView, TensorView?];
  const n = pV.shape.reduce((a, b) => a * b, 1);
  const beta1 = num(attrs, 'beta1');
  const beta2 = num(attrs, 'beta2');
  const eps = num(attrs, 'eps');
  const step = num(attrs, 'step');
  const stepSize = num(attrs, 'lr') / (1 - beta1 ** step);
  const p = arr(pV);
  const g = arr(gV);
  const m = arr(mV);
  const v = arr(vV);
  const x = xV === undefined ? undefined : arr(xV);
  const [po, go, mo, vo, xo] = [pV.offset, gV.offset, mV.offset, vV.offset, xV?.offset ?? 0];
  const r = pV.dtype === 'float32' ? Math.fround : (y: number) => y;
  // Scalar operands as the ops see them (0-d tensors of the parameter's dtype); alphas stay doubles.
  const b1 = r(beta1);
  const a1 = 1 - beta1;
  const b2 = r(beta2);
  const c2 = r(1 - beta2);
  const bc2 = r(Math.sqrt(1 - beta2 ** step));
  const ep = r(eps);
  const ns = r(-stepSize);
  // Two copies of the loop: float32 with a direct Math.fround per op (inlined), float64 without.
  if (pV.dtype === 'float32') {
    for (let i = 0; i < n; i++) {
      const gi = g[go + i] as number;
      // exp_avg.mul_(beta1).add_(grad, alpha = 1 - beta1)
      const mi = Math.fround(Math.fround((m[mo + i] as number) * b1) + a1 * gi);
      m[mo + i] = mi;
      // exp_avg_sq.mul_(beta2).add_(grad * (1 - beta2) * grad)
      const vi = Math.fround(
        Math.fround((v[vo + i] as number) * b2) + Math.fround(Math.fround(gi * c2) * gi),
      );
      v[vo + i] = vi;
      let vv = vi;
      if (x !== undefined) {
        const xi = x[xo + i] as number;
        vv = xi > vi || Number.isNaN(xi) ? xi : vi;
        x[xo + i] = vv;
      }
      // p += exp_avg * -step_size / (sqrt(v) / sqrt(bias_correction2) + eps)
      const denom = Math.fround(Math.fround(Math.fround(Math.sqrt(vv)) / bc2) + ep);
      p[po + i] = Math.fround((p[po + i] as number) + Math.fround(Math.fround(mi * ns) / denom));
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const gi = g[go + i] as number;
    // exp_avg.mul_(beta1).add_(grad, alpha = 1 - beta1)
    const mi = (m[mo + i] as number) * b1 + a1 * gi;
    m[mo + i] = mi;
    // exp_avg_sq.mul_(beta2).add_(grad * (1 - beta2) * grad)
    const vi = (v[vo + i] as number) * b2 + gi * c2 * gi;
    v[vo + i] = vi;
    let vv = vi;
    if (x !== undefined) {
      const xi = x[xo + i] as number;
      vv = xi > vi || Number.isNaN(xi) ? xi : vi;
      x[xo + i] = vv;
    }
    // p += exp_avg * -step_size / (sqrt(v) / sqrt(bias_correction2) + eps)
    const denom = Math.sqrt(vv) / bc2 + ep;
    p[po + i] = (p[po + i] as number) + (mi * ns) / denom;
  }
};

/** Inputs `[param, grad, buf?]`; attrs lr, momentum, dampening, nesterov, init, hasBuffer. */
export const sgdUpdateKernel: Kernel = (inputs, _outputs, attrs) => {
  const [pV, gV, bV] = inputs as [TensorView, TensorView, TensorView?];
  const n = pV.shape.reduce((a, b) => a * b, 1);
  const nlr = -num(attrs, 'lr');
  const mom = num(attrs, 'momentum');
  const damp = 1 - num(attrs, 'dampening');
  const nesterov = attrs.nesterov === true;
  const init = attrs.init === true;
  const p = arr(pV);
  const g = arr(gV);
  const b = bV === undefined ? undefined : arr(bV);
  const [po, go, bo] = [pV.offset, gV.offset, bV?.offset ?? 0];
  const r = pV.dtype === 'float32' ? Math.fround : (y: number) => y;
  const rm = r(mom);
  if (pV.dtype === 'float32') {
    for (let i = 0; i < n; i++) {
      let d = g[go + i] as number;
      if (b !== undefined) {
        // buf.mul_(momentum).add_(d, alpha = 1 - dampening); nesterov: d.add(buf, alpha = momentum)
        const bi = init ? d : Math.fround(Math.fround((b[bo + i] as number) * rm) + damp * d);
        b[bo + i] = bi;
        d = nesterov ? Math.fround(d + mom * bi) : bi;
      }
      // p.add_(d, alpha = -lr)
      p[po + i] = Math.fround((p[po + i] as number) + nlr * d);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    let d = g[go + i] as number;
    if (b !== undefined) {
      // buf.mul_(momentum).add_(d, alpha = 1 - dampening); nesterov: d.add(buf, alpha = momentum)
      const bi = init ? d : (b[bo + i] as number) * rm + damp * d;
      b[bo + i] = bi;
      d = nesterov ? d + mom * bi : bi;
    }
    // p.add_(d, alpha = -lr)
    p[po + i] = (p[po + i] as number) + nlr * d;
  }
};
