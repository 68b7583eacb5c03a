/**
 * The derivative table: one entry per differentiable recorded op of the op table, keyed by its name
 * (what PyTorch's derivatives.yaml is to ATen). Every formula is written with ordinary tensor ops, so it
 * runs on every backend and is itself differentiable (higher-order gradients). Composite ops (mean, std,
 * softmax, ...) have no entry: they are recorded as their parts.
 *
 * Conventions at non-smooth points follow PyTorch: abs'(0) = 0, relu'(0) = 0, clamp passes the gradient
 * at its bounds, ties of maximum/minimum split it evenly, amax/amin share it among all maxima, and
 * max/min(dim) and sort send it to the selected index.
 */

import {
  cat,
  eye,
  inverse,
  type KernelAttrs,
  type OpRecord,
  onesLike,
  pad,
  sigmoidBackward,
  solve,
  sub,
  type Tensor,
  tanhBackward,
  tensor,
  where,
  zeros,
} from '@gradfolio/tensor';
import { isGradEnabled } from './mode.js';
import type { Derivative, DerivativeContext } from './node.js';
import { lstmLayerDerivative } from './rnn-derivatives.js';

const table = new Map<string, Derivative>();

type Grads = Array<Tensor | undefined>;

function capitalised(op: string): string {
  return `${op[0]!.toUpperCase()}${op.slice(1)}Backward0`;
}

function def(
  op: string,
  save: Derivative['save'],
  backward: (ctx: DerivativeContext) => Grads,
  name?: Derivative['name'],
): void {
  table.set(op, { name: name ?? capitalised(op), save, backward });
}

/** Shorthand for single-input ops: `fn(g, ctx)` gives the input's gradient. */
function unary(
  op: string,
  save: Derivative['save'],
  fn: (g: Tensor, ctx: DerivativeContext) => Tensor,
  name?: string,
): void {
  def(op, save, (ctx) => [ctx.needs[0] ? fn(ctx.grads[0]!, ctx) : undefined], name);
}

function num(attrs: KernelAttrs, key: string, fallback: number): number {
  const v = attrs[key];
  return typeof v === 'number' ? v : fallback;
}

function dimsOf(attrs: KernelAttrs): number[] {
  return (attrs.dims as readonly number[] | undefined)?.slice() ?? [];
}

/** A reduced gradient expanded back to the input shape (re-inserting dims when keepdim was false). */
function unreduce(g: Tensor, dims: readonly number[], keepdim: boolean, shape: readonly number[]): Tensor {
  let r = g;
  if (!keepdim) for (const d of [...dims].sort((a, b) => a - b)) r = r.unsqueeze(d);
  return r.expand(shape as number[]);
}

function zerosLikeShape(shape: readonly number[], g: Tensor): Tensor {
  return zeros(shape as number[], { dtype: g.dtype, device: g.device });
}

/** Crops or zero-pads each dim of `t` to `shape` (both differentiable ops). */
function fitShape(t: Tensor, shape: readonly number[]): Tensor {
  let r = t;
  for (let d = 0; d < shape.length; d++) {
    const want = shape[d]!;
    const have = r.shape[d]!;
    if (have > want) r = r.narrow(d, 0, want);
    else if (have < want) r = padDim(r, d, 0, want - have);
  }
  return r;
}

/** Zero-pads dim `d` of `t` with `before` and `after` entries. */
function padDim(t: Tensor, d: number, before: number, after: number): Tensor {
  if (before === 0 && after === 0) return t;
  const pads: number[] = [];
  for (let k = t.ndim - 1; k >= d; k--) pads.push(k === d ? before : 0, k === d ? after : 0);
  return pad(t, pads);
}

/** Embeds `g` (shape [..., L]) as the `offset` diagonal of dims (dim1, dim2) of a tensor of `shape`. */
function embedDiagonal(
  g: Tensor,
  shape: readonly number[],
  offset: number,
  dim1: number,
  dim2: number,
): Tensor {
  const L = g.shape[g.ndim - 1]!;
  let m = g.unsqueeze(-1).mul(eye(L, { dtype: g.dtype, device: g.device }));
  if (offset > 0) m = padDim(m, m.ndim - 1, offset, 0);
  else if (offset < 0) m = padDim(m, m.ndim - 2, -offset, 0);
  // m has the other dims first, then (dim1, dim2) last: fit those two, then move them back in place.
  const rest = shape.filter((_, i) => i !== dim1 && i !== dim2);
  m = fitShape(m, [...rest, shape[dim1]!, shape[dim2]!]);
  const order: number[] = [];
  let k = 0;
  for (let i = 0; i < shape.length; i++) {
    if (i === dim1) order.push(shape.length - 2);
    else if (i === dim2) order.push(shape.length - 1);
    else order.push(k++);
  }
  return m.permute(order);
}

/** A zero tensor of `shape` with `g` added at `index` along `dim` (index broadcast like gather's). */
function scatterAddInto(shape: readonly number[], dim: number, index: Tensor, g: Tensor): Tensor {
  return zerosLikeShape(shape, g).scatterAdd(dim, index, g);
}

/** A 1-D index along `dim` reshaped/expanded to `g`'s shape (for indexSelect-like scatters). */
function alongDim(idx: Tensor, dim: number, shape: readonly number[]): Tensor {
  const view = shape.map((s, i) => (i === dim ? s : 1));
  return idx.reshape(view).expand(shape as number[]);
}

function arangeIndex(start: number, step: number, n: number, device: string): Tensor {
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return tensor(data, { dtype: 'int32', device });
}

/** Moves dim `from` of `t` to position `to` (both may be negative). */
function movedim(t: Tensor, from: number, to: number): Tensor {
  const n = t.ndim;
  const f = from < 0 ? from + n : from;
  const d = to < 0 ? to + n : to;
  const order = [...Array(n).keys()].filter((i) => i !== f);
  order.splice(d, 0, f);
  return t.permute(order);
}

// ------------------------------------------------------------------------------------- memory/dtype

unary('cast', 'none', (g) => g, 'ToCopyBackward0');
unary('to', 'none', (g) => g, 'ToCopyBackward0');
unary('clone', 'none', (g) => g, 'CloneBackward0');
unary('copy', 'none', (g) => g, 'CopyBackwards');

// ------------------------------------------------------------------------------------------ unary

unary('exp', 'outputs', (g, c) => g.mul(c.output(0)));
unary('log', 'inputs', (g, c) => g.div(c.input(0)));
unary('log1p', 'inputs', (g, c) => g.div(c.input(0).add(1)));
unary('expm1', 'outputs', (g, c) => g.mul(c.output(0).add(1)));
unary('sqrt', 'outputs', (g, c) => g.div(c.output(0).mul(2)));
unary('rsqrt', 'outputs', (g, c) => g.mul(c.output(0).pow(3)).mul(-0.5));
unary('sin', 'inputs', (g, c) => g.mul(c.input(0).cos()));
unary('cos', 'inputs', (g, c) => g.mul(c.input(0).sin()).neg());
/** Whether the fused derivative kernel `op` can be used: the pass is not recorded and the backend has it. */
function fused(op: string, t: Tensor): boolean {
  return !isGradEnabled() && t.backend.kernels.has(op);
}
unary('tanh', 'outputs', (g, c) => {
  const y = c.output(0);
  return fused('tanhBackward', y) ? tanhBackward(g, y) : g.mul(sub(1, y.mul(y)));
});
unary('sigmoid', 'outputs', (g, c) => {
  const y = c.output(0);
  return fused('sigmoidBackward', y) ? sigmoidBackward(g, y) : g.mul(y.mul(sub(1, y)));
});
// The fused helpers themselves (for gradients of gradients taken by hand).
def('tanhBackward', 'inputs', (c) => {
  const g = c.grads[0]!;
  const dy = c.input(0);
  const y = c.input(1);
  return [
    c.needs[0] ? g.mul(sub(1, y.mul(y))) : undefined,
    c.needs[1] ? g.mul(dy).mul(y).mul(-2) : undefined,
  ];
});
def('sigmoidBackward', 'inputs', (c) => {
  const g = c.grads[0]!;
  const dy = c.input(0);
  const y = c.input(1);
  return [
    c.needs[0] ? g.mul(y.mul(sub(1, y))) : undefined,
    c.needs[1] ? g.mul(dy).mul(sub(1, y.mul(2))) : undefined,
  ];
});
unary('reciprocal', 'outputs', (g, c) => {
  const y = c.output(0);
  return g.mul(y.mul(y)).neg();
});
unary('neg', 'none', (g) => g.neg());
unary('abs', 'inputs', (g, c) => g.mul(c.input(0).sign()));
unary('relu', 'outputs', (g, c) => g.mul(c.output(0).gt(0)));
for (const op of ['sign', 'floor', 'ceil', 'round', 'trunc'])
  unary(op, 'none', (g) => zerosLikeShape(g.shape, g));
unary(
  'clamp',
  'inputs',
  (g, c) => {
    const x = c.input(0);
    const lo = c.attrs.min;
    const hi = c.attrs.max;
    let mask: Tensor | undefined;
    if (typeof lo === 'number') mask = x.ge(lo);
    if (typeof hi === 'number') mask = mask === undefined ? x.le(hi) : mask.logicalAnd(x.le(hi));
    return mask === undefined ? g : g.mul(mask);
  },
  'ClampBackward1',
);
unary('leakyRelu', 'inputs', (g, c) => where(c.input(0).gt(0), g, g.mul(num(c.attrs, 'slope', 0.01))));
unary('elu', 'inputs', (g, c) => {
  const x = c.input(0);
  const alpha = num(c.attrs, 'alpha', 1);
  // At exactly 0 the slope is alpha, a constant: PyTorch's second derivative is 0 there.
  return where(x.gt(0), g, where(x.lt(0), g.mul(x.exp().mul(alpha)), g.mul(alpha)));
});
unary('softplus', 'inputs', (g, c) => {
  const x = c.input(0);
  const beta = num(c.attrs, 'beta', 1);
  const threshold = num(c.attrs, 'threshold', 20);
  const bx = x.mul(beta);
  return g.mul(where(bx.gt(threshold), 1, bx.sigmoid()));
});
unary('gelu', 'both', (g, c) => {
  const x = c.input(0);
  if (c.attrs.approximate === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const inner = x.add(x.pow(3).mul(0.044715)).mul(k);
    const t = inner.tanh();
    const dInner = x
      .mul(x)
      .mul(3 * 0.044715)
      .add(1)
      .mul(k);
    const d = t
      .add(1)
      .mul(0.5)
      .add(x.mul(0.5).mul(t.mul(t).neg().add(1)).mul(dInner));
    return g.mul(d);
  }
  // gelu(x) = x * Phi(x), so Phi(x) = gelu(x) / x (0.5 at 0); gelu'(x) = Phi(x) + x * phi(x).
  const y = c.output(0);
  const pdf = x
    .mul(x)
    .mul(-0.5)
    .exp()
    .mul(1 / Math.sqrt(2 * Math.PI));
  const zero = x.eq(0);
  // At 0, Phi is written 0.5 + x phi(x) (same value and slope); the division gets a safe denominator
  // so that its masked second derivative is not NaN there.
  const cdf = where(zero, x.mul(pdf).add(0.5), y.div(where(zero, 1, x)));
  return g.mul(cdf.add(x.mul(pdf)));
});

// ----------------------------------------------------------------------------------------- binary

def('add', 'none', (c) => {
  const g = c.grads[0]!;
  const alpha = num(c.attrs, 'alpha', 1);
  return [c.needs[0] ? g : undefined, c.needs[1] ? (alpha === 1 ? g : g.mul(alpha)) : undefined];
});
def('sub', 'none', (c) => {
  const g = c.grads[0]!;
  const alpha = num(c.attrs, 'alpha', 1);
  return [c.needs[0] ? g : undefined, c.needs[1] ? g.mul(-alpha) : undefined];
});
def('mul', 'inputs', (c) => {
  const g = c.grads[0]!;
  return [c.needs[0] ? g.mul(c.input(1)) : undefined, c.needs[1] ? g.mul(c.input(0)) : undefined];
});
def('div', 'inputs', (c) => {
  const g = c.grads[0]!;
  const b = c.input(1);
  return [c.needs[0] ? g.div(b) : undefined, c.needs[1] ? g.mul(c.input(0)).div(b.mul(b)).neg() : undefined];
});
def(
  'pow',
  'both',
  (c) => {
    const g = c.grads[0]!;
    const a = c.input(0);
    const b = c.input(1);
    // d/da a^b = b a^(b-1) (0 where b == 0); d/db a^b = a^b log(a) (0 where a == 0 and b >= 0).
    const ga = c.needs[0] ? g.mul(where(b.eq(0), 0, b.mul(a.pow(b.sub(1))))) : undefined;
    const gb = c.needs[1]
      ? g.mul(where(a.eq(0).logicalAnd(b.ge(0)), 0, c.output(0).mul(a.log())))
      : undefined;
    return [ga, gb];
  },
  (rec: OpRecord) =>
    rec.inputs[1]!.requiresGrad || rec.inputs[1]!.ndim > 0 ? 'PowBackward1' : 'PowBackward0',
);
def('remainder', 'inputs', (c) => {
  const g = c.grads[0]!;
  return [
    c.needs[0] ? g : undefined,
    c.needs[1] ? g.mul(c.input(0).div(c.input(1)).floor()).neg() : undefined,
  ];
});
def('atan2', 'inputs', (c) => {
  const g = c.grads[0]!;
  const a = c.input(0);
  const b = c.input(1);
  const denom = a.mul(a).add(b.mul(b));
  return [c.needs[0] ? g.mul(b).div(denom) : undefined, c.needs[1] ? g.mul(a).neg().div(denom) : undefined];
});
function minMaxBinary(op: 'maximum' | 'minimum'): void {
  def(op, 'inputs', (c) => {
    const g = c.grads[0]!;
    const a = c.input(0);
    const b = c.input(1);
    const tie = a.eq(b).mul(0.5);
    const aWins = (op === 'maximum' ? a.gt(b) : a.lt(b)).add(tie);
    const bWins = (op === 'maximum' ? a.lt(b) : a.gt(b)).add(tie);
    return [c.needs[0] ? g.mul(aWins) : undefined, c.needs[1] ? g.mul(bWins) : undefined];
  });
}
minMaxBinary('maximum');
minMaxBinary('minimum');
def('where', 'inputs', (c) => {
  const g = c.grads[0]!;
  const cond = c.input(0);
  return [undefined, c.needs[1] ? where(cond, g, 0) : undefined, c.needs[2] ? where(cond, 0, g) : undefined];
});

// ------------------------------------------------------------------------------- reductions, scans

def(
  'sum',
  'none',
  (c) => [
    c.needs[0]
      ? unreduce(c.grads[0]!, dimsOf(c.attrs), c.attrs.keepdim === true, c.inputShapes[0]!)
      : undefined,
  ],
  (rec: OpRecord) =>
    (rec.attrs.dims as readonly number[]).length === rec.inputs[0]!.ndim && rec.attrs.keepdim !== true
      ? 'SumBackward0'
      : 'SumBackward1',
);

def(
  'mean',
  'none',
  (c) => {
    if (!c.needs[0]) return [undefined];
    const dims = dimsOf(c.attrs);
    const shape = c.inputShapes[0]!;
    let n = 1;
    for (const d of dims) n *= shape[d]!;
    return [unreduce(c.grads[0]!, dims, c.attrs.keepdim === true, shape).div(n)];
  },
  allDimsName('Mean'),
);

/** Gradient of a product over `dims`, exact with zeros: exclusive products from both sides. */
function prodGrad(x: Tensor, g: Tensor, dims: readonly number[], keepdim: boolean): Tensor {
  const shape = x.shape as number[];
  // Move the reduced dims last and flatten them into one.
  const rest = shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const perm = [...rest, ...dims];
  const restShape = rest.map((i) => shape[i]!);
  let n = 1;
  for (const d of dims) n *= shape[d]!;
  const xf = x.permute(perm).reshape([...restShape, n]);
  const ones = xf.narrow(-1, 0, Math.min(1, n)).mul(0).add(1);
  const left = n <= 1 ? xf.mul(0).add(1) : cat([ones, xf.narrow(-1, 0, n - 1).cumprod(-1)], -1);
  const xr = xf.flip(-1);
  const right = n <= 1 ? xf.mul(0).add(1) : cat([ones, xr.narrow(-1, 0, n - 1).cumprod(-1)], -1).flip(-1);
  const others = left.mul(right);
  const back = others.reshape([...restShape, ...dims.map((d) => shape[d]!)]);
  const inv = perm.map((_, i) => perm.indexOf(i));
  return unreduce(g, dims, keepdim, shape).mul(back.permute(inv));
}
def(
  'prod',
  'inputs',
  (c) => [
    c.needs[0] ? prodGrad(c.input(0), c.grads[0]!, dimsOf(c.attrs), c.attrs.keepdim === true) : undefined,
  ],
  (rec: OpRecord) =>
    (rec.attrs.dims as readonly number[]).length === rec.inputs[0]!.ndim && rec.attrs.keepdim !== true
      ? 'ProdBackward0'
      : 'ProdBackward1',
);

/** `t` with zeros where `denominator` is 0 divided safely: masked entries get 0 (and finite slopes). */
function safeDiv(t: Tensor, denominator: Tensor): Tensor {
  const zero = denominator.eq(0);
  return where(zero, 0, t.div(where(zero, 1, denominator)));
}

function allDimsName(base: string) {
  return (rec: OpRecord) =>
    (rec.attrs.dims as readonly number[]).length === rec.inputs[0]!.ndim && rec.attrs.keepdim !== true
      ? `${base}Backward0`
      : `${base}Backward1`;
}

def(
  'std',
  'both',
  (c) => {
    if (!c.needs[0]) return [undefined];
    const dims = dimsOf(c.attrs);
    const keepdim = c.attrs.keepdim === true;
    const shape = c.inputShapes[0]!;
    const x = c.input(0);
    let n = 1;
    for (const d of dims) n *= shape[d]!;
    const centered = dims.length === 0 ? x.mul(0) : x.sub(x.mean(dims, { keepdim: true }));
    const out = unreduce(c.output(0), dims, keepdim, shape);
    const g = unreduce(c.grads[0]!, dims, keepdim, shape);
    return [safeDiv(g.mul(centered), out.mul(n - num(c.attrs, 'correction', 1)))];
  },
  'StdBackward0',
);
def(
  'norm',
  'both',
  (c) => {
    if (!c.needs[0]) return [undefined];
    const g = c.grads[0]!;
    if (c.attrs.p === 0) return [zerosLikeShape(c.inputShapes[0]!, g)];
    const dims = dimsOf(c.attrs);
    const keepdim = c.attrs.keepdim === true;
    const shape = c.inputShapes[0]!;
    const out = unreduce(c.output(0), dims, keepdim, shape);
    return [safeDiv(unreduce(g, dims, keepdim, shape).mul(c.input(0)), out)];
  },
  allDimsName('Norm'),
);

function amaxLike(op: 'amax' | 'amin'): void {
  def(op, 'both', (c) => {
    if (!c.needs[0]) return [undefined];
    const dims = dimsOf(c.attrs);
    const keepdim = c.attrs.keepdim === true;
    const shape = c.inputShapes[0]!;
    const x = c.input(0);
    const y = unreduce(c.output(0), dims, keepdim, shape);
    const mask = x.eq(y).to({ dtype: x.dtype });
    const count = mask.sum(dims, { keepdim: true });
    return [unreduce(c.grads[0]!, dims, keepdim, shape).mul(mask).div(count)];
  });
}
amaxLike('amax');
amaxLike('amin');

function maxDimLike(op: 'max' | 'min'): void {
  def(
    op,
    'outputs',
    (c) => {
      if (!c.needs[0]) return [undefined];
      if (c.inputShapes[0]!.length === 0) return [c.grads[0]!.reshape([])];
      const dim = c.attrs.dim as number;
      const keepdim = c.attrs.keepdim === true;
      let g = c.grads[0]!;
      let idx = c.output(1);
      if (!keepdim) {
        g = g.unsqueeze(dim);
        idx = idx.unsqueeze(dim);
      }
      return [scatterAddInto(c.inputShapes[0]!, dim, idx, g)];
    },
    op === 'max' ? 'MaxBackward0' : 'MinBackward0',
  );
}
maxDimLike('max');
maxDimLike('min');

unary('cumsum', 'none', (g, c) => {
  const d = c.attrs.dim as number;
  return g.flip(d).cumsum(d).flip(d);
});

// d y_k / d x_i = prod_{j <= k, j != i} x_j for k >= i, so grad_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j.
// Two exact forms. O(n): with z the first zero of the row, grad_i = revcumsum(g * y)_i / x_i for
// x_i != 0 (every term with k >= z is 0, so this also holds past z); at z, y_{z-1} * sum_{k >= z} g_k
// prod_{z < j <= k} x_j; other zeros get 0. Its values are exact but its own derivative with respect to
// a zero is not when a row has several zeros, so when the backward pass is recorded (createGraph) the
// O(n^2) form is used instead: for every i, x with x_i replaced by 1 (an extra dim of size n), cumprod,
// mask k >= i, contract with g.
unary('cumprod', 'both', (g, c) => {
  const x = c.input(0);
  const d = c.attrs.dim as number;
  if (x.ndim === 0) return g;
  const n = x.shape[d]!;
  if (n === 0) return g;
  if (isGradEnabled()) return cumprodGradQuadratic(x, g, d, n);
  const y = c.output(0);
  const isZero = x.eq(0);
  const zerosSoFar = isZero.cumsum(d);
  const firstZero = isZero.logicalAnd(zerosSoFar.eq(1));
  const regular = safeDiv(g.mul(y).flip(d).cumsum(d).flip(d), x);
  // Products after the first zero: x with everything up to and including z replaced by 1.
  const afterZ = cumprodFrom(x, zerosSoFar.eq(0).logicalOr(firstZero), d);
  const tail = g.mul(afterZ).mul(zerosSoFar.ge(1)).sum(d, { keepdim: true });
  return regular.add(where(firstZero, exclusive(y, d, n).mul(tail), 0));
});

function cumprodGradQuadratic(x: Tensor, g: Tensor, d: number, n: number): Tensor {
  const xm = movedim(x, d, -1); // [..., n]
  const gm = movedim(g, d, -1);
  const I = eye(n, { dtype: x.dtype, device: x.device }); // [i, j]
  const rep = xm.unsqueeze(-2).mul(I.neg().add(1)).add(I); // x_j, or 1 where j == i
  const upper = onesLike(I).triu(); // k >= i
  const gi = rep.cumprod(-1).mul(upper).mul(gm.unsqueeze(-2)).sum(-1); // [..., i]
  return movedim(gi, -1, d);
}

/** cumprod along `d` of `x` with the entries where `mask` is true replaced by 1. */
function cumprodFrom(x: Tensor, mask: Tensor, d: number): Tensor {
  return where(mask, 1, x).cumprod(d);
}

/** Exclusive products: 1 at position 0, y_{k-1} at position k. */
function exclusive(y: Tensor, d: number, n: number): Tensor {
  const one = onesLike(y.narrow(d, 0, 1));
  return n === 1 ? one : cat([one, y.narrow(d, 0, n - 1)], d);
}

// ------------------------------------------------------------------------------------------ linalg

def(
  'matmul',
  'inputs',
  (c) => {
    const g = c.grads[0]!;
    return [
      c.needs[0] ? g.matmul(c.input(1).mT) : undefined,
      c.needs[1] ? c.input(0).mT.matmul(g) : undefined,
    ];
  },
  (rec: OpRecord) =>
    rec.inputs[0]!.ndim === 2 && rec.inputs[1]!.ndim === 2 ? 'MmBackward0' : 'BmmBackward0',
);
def(
  'inverse',
  'outputs',
  (c) => {
    const y = c.output(0);
    return [c.needs[0] ? y.mT.matmul(c.grads[0]!).matmul(y.mT).neg() : undefined];
  },
  'LinalgInvExBackward0',
);
def(
  'solve',
  'both',
  (c) => {
    const gb = solve(c.input(0).mT, c.grads[0]!);
    return [c.needs[0] ? gb.matmul(c.output(0).mT).neg() : undefined, c.needs[1] ? gb : undefined];
  },
  'LinalgSolveExBackward0',
);
def(
  'cholesky',
  'outputs',
  (c) => {
    if (!c.needs[0]) return [undefined];
    const upper = c.attrs.upper === true;
    const L = upper ? c.output(0).mT : c.output(0);
    const gL = upper ? c.grads[0]!.mT : c.grads[0]!;
    // Murray (2016): Phi(L^T gL) with Phi = lower triangle, diagonal halved; gA = L^-T Phi L^-1, symmetrised.
    const n = L.shape[L.ndim - 1]!;
    const halfDiag = eye(n, { dtype: L.dtype, device: L.device }).mul(-0.5).add(1);
    const phi = L.mT.matmul(gL).tril().mul(halfDiag);
    const Linv = inverse(L);
    const gA = Linv.mT.matmul(phi).matmul(Linv);
    return [gA.add(gA.mT).mul(0.5)];
  },
  'LinalgCholeskyExBackward0',
);

// ----------------------------------------------------------------------------------- index, shape

def('gather', 'inputs', (c) => [
  c.needs[0] ? scatterAddInto(c.inputShapes[0]!, c.attrs.dim as number, c.input(1), c.grads[0]!) : undefined,
  undefined,
]);
def(
  'scatter',
  'inputs',
  (c) => {
    const g = c.grads[0]!;
    const dim = c.attrs.dim as number;
    const index = c.input(1);
    const add = c.attrs.reduce === 'add';
    return [
      c.needs[0] ? (add ? g : g.scatter(dim, index, 0)) : undefined,
      undefined,
      c.needs[2] ? g.gather(dim, index) : undefined,
    ];
  },
  (rec: OpRecord) => (rec.attrs.reduce === 'add' ? 'ScatterAddBackward0' : 'ScatterBackward0'),
);
def('indexSelect', 'inputs', (c) => {
  if (!c.needs[0]) return [undefined, undefined];
  const g = c.grads[0]!;
  const dim = c.attrs.dim as number;
  return [scatterAddInto(c.inputShapes[0]!, dim, alongDim(c.input(1), dim, g.shape), g), undefined];
});
def('sort', 'outputs', (c) => {
  if (!c.needs[0]) return [undefined];
  if (c.inputShapes[0]!.length === 0) return [c.grads[0]!];
  return [scatterAddInto(c.inputShapes[0]!, c.attrs.dim as number, c.output(1), c.grads[0]!)];
});
def('cat', 'none', (c) => {
  const g = c.grads[0]!;
  const dim = c.attrs.dim as number;
  const sizes = c.attrs.sizes as readonly number[];
  let start = 0;
  return sizes.map((s, i) => {
    const r = c.needs[i] && c.inputShapes[i]!.length > 0 ? g.narrow(dim, start, s) : undefined;
    start += s;
    return r;
  });
});
def(
  'split',
  'none',
  (c) => [c.needs[0] ? cat(c.grads as Tensor[], c.attrs.dim as number) : undefined],
  'SplitBackward0',
);
unary('flip', 'none', (g, c) => g.flip(c.attrs.dims as number[]));
unary(
  'pad',
  'none',
  (g, c) => {
    // Constant mode only (other modes are recorded as indexSelect): pad by the negated amounts crops
    // what was added and zero-fills what was cropped.
    const pads = (c.attrs.pads as readonly number[]).map((p) => -p);
    return pad(g, pads);
  },
  'ConstantPadNdBackward0',
);
unary('diag', 'none', (g, c) => {
  const k = num(c.attrs, 'diagonal', 0);
  const shape = c.inputShapes[0]!;
  return shape.length === 1 ? g.diagonal(k) : embedDiagonal(g, shape, k, 0, 1);
});

// ------------------------------------------------------------------------------------------- views

unary('reshape', 'none', (g, c) => g.reshape(c.inputShapes[0]! as number[]), 'ViewBackward0');
unary(
  'permute',
  'none',
  (g, c) => {
    const dims = c.attrs.dims as readonly number[];
    const inv = new Array<number>(dims.length);
    dims.forEach((d, i) => {
      inv[d] = i;
    });
    return g.permute(inv);
  },
  'PermuteBackward0',
);
def('expand', 'none', (c) => [c.needs[0] ? c.grads[0]! : undefined], 'ExpandBackward0');
unary('slice', 'none', (g, c) => {
  const dim = c.attrs.dim as number;
  const start = c.attrs.start as number;
  const step = c.attrs.step as number;
  const length = c.attrs.length as number;
  const shape = c.inputShapes[0]!;
  if (step === 1) return padDim(g, dim, start, shape[dim]! - start - length);
  const idx = arangeIndex(start, step, length, g.device);
  return scatterAddInto(shape, dim, alongDim(idx, dim, g.shape), g);
});
unary('select', 'none', (g, c) => {
  const dim = c.attrs.dim as number;
  const index = c.attrs.index as number;
  const n = c.inputShapes[0]![dim]!;
  return padDim(g.unsqueeze(dim), dim, index, n - index - 1);
});
unary('diagonal', 'none', (g, c) =>
  embedDiagonal(
    g,
    c.inputShapes[0]!,
    num(c.attrs, 'offset', 0),
    c.attrs.dim1 as number,
    c.attrs.dim2 as number,
  ),
);

// ------------------------------------------------------------------------------------------- fused

table.set('lstmLayer', lstmLayerDerivative);

/**
 * The derivative table by op name (read-only). Differentiable ops of the op table that are recorded as
 * one node have an entry; composites are differentiated through their parts.
 *
 * @example
 * ```ts
 * derivatives.get('mul')?.name; // 'MulBackward0'
 * ```
 */
export const derivatives: ReadonlyMap<string, Derivative> = table;

/**
 * Registers (or replaces) the derivative of an op, e.g. for a backend's fused op.
 *
 * @example
 * ```ts
 * registerDerivative('myScale', { name: 'MyScaleBackward0', save: 'none', backward: (c) => [c.grads[0]!.mul(2)] });
 * ```
 */
export function registerDerivative(op: string, derivative: Derivative): void {
  table.set(op, derivative);
}
