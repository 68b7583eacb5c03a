import { getDefaultDevice } from '../backend.js';
import {
  arange,
  empty,
  eye,
  full,
  linspace,
  ones,
  type TensorData,
  type TensorOptions,
  tensor,
  zeros,
} from '../creation.js';
import type { DType } from '../dtype.js';
import { addmm, cholesky, inverse, linalg, solve } from '../ops/linalg.js';
import { adamUpdate_, sgdUpdate_ } from '../ops/optim.js';
import {
  add,
  atan2,
  cast,
  div,
  elu,
  eq,
  ge,
  gt,
  le,
  leakyRelu,
  logicalAnd,
  logicalOr,
  logicalXor,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  pow,
  remainder,
  sigmoidBackward,
  sub,
  tanhBackward,
  where,
} from '../ops/pointwise.js';
import { lstmLayer, lstmLayerBackward } from '../ops/rnn.js';
import { cat, diag, type PadMode, pad, stack } from '../ops/shape.js';
import type { IndexSpec } from '../ops/views.js';
import type { Tensor, TensorLike } from '../tensor.js';
import { decodeNumber } from './fixtures.js';

/**
 * What a runner returns: one tensor, or one per output (`[values, indices]`, split pieces).
 *
 * @example
 * ```ts
 * const r: RunnerResult = x.max(1); // [values, indices]
 * ```
 */
export type RunnerResult = Tensor | Tensor[];

/**
 * Runs one fixture call: `inputs` are the rebuilt fixture inputs (already on the device), `attrs` the
 * case's arguments; creation runners make their tensors on `device` (default: the default device).
 * Runners return synchronously except `to.device`, which round-trips through the host and is async so
 * that devices without synchronous reads work.
 *
 * @example
 * ```ts
 * const add: Runner = (inputs, attrs) => inputs[0]!.add(inputs[1]!, { alpha: attrs.alpha as number });
 * ```
 */
export type Runner = (
  inputs: Tensor[],
  attrs: Record<string, unknown>,
  device?: string,
) => RunnerResult | Promise<RunnerResult>;

type Attrs = Record<string, unknown>;

/** Drops undefined entries, so options satisfy `exactOptionalPropertyTypes`. */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

function num(a: Attrs, key: string): number | undefined {
  const v = a[key];
  return v === undefined || v === null ? undefined : decodeNumber(v);
}
function req(a: Attrs, key: string): number {
  const v = num(a, key);
  if (v === undefined) throw new Error(`runner: missing numeric attribute '${key}'`);
  return v;
}
function bool(a: Attrs, key: string): boolean | undefined {
  const v = a[key];
  return v === undefined ? undefined : Boolean(v);
}
function ints(a: Attrs, key: string): number[] {
  const v = a[key];
  if (!Array.isArray(v)) throw new Error(`runner: attribute '${key}' must be a list`);
  return v.map((x) => decodeNumber(x));
}
function dims(a: Attrs, key = 'dim'): number | number[] | undefined {
  const v = a[key];
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? v.map((x) => decodeNumber(x)) : decodeNumber(v);
}
function scalar(v: unknown): number | boolean {
  return typeof v === 'boolean' ? v : decodeNumber(v);
}
function dtypeOf(a: Attrs): DType | undefined {
  return a.dtype as DType | undefined;
}
function at(inputs: readonly Tensor[], i: number): Tensor {
  const t = inputs[i];
  if (t === undefined) throw new Error(`runner: missing input ${i}`);
  return t;
}
function deviceOf(device: string | undefined): string {
  return device ?? getDefaultDevice();
}
function creationOptions(a: Attrs, device: string | undefined): TensorOptions {
  return defined({ dtype: dtypeOf(a), device: deviceOf(device) });
}

/** Operands of a binary op: `attrs.lhs` / `attrs.rhs` are JS scalars, the rest come from `inputs`. */
function operands(inputs: readonly Tensor[], a: Attrs): [TensorLike, TensorLike] {
  let k = 0;
  const lhs = 'lhs' in a ? scalar(a.lhs) : at(inputs, k++);
  const rhs = 'rhs' in a ? scalar(a.rhs) : at(inputs, k++);
  return [lhs, rhs];
}

function binary(fn: (x: TensorLike, y: TensorLike) => Tensor): Runner {
  return (inputs, a) => {
    const [x, y] = operands(inputs, a);
    return fn(x, y);
  };
}

function alphaBinary(fn: (x: TensorLike, y: TensorLike, o: { alpha?: number }) => Tensor): Runner {
  return (inputs, a) => {
    const [x, y] = operands(inputs, a);
    return fn(x, y, defined({ alpha: num(a, 'alpha') }));
  };
}

function unary(fn: (x: Tensor) => Tensor): Runner {
  return (inputs) => fn(at(inputs, 0));
}

/** Decodes `index` specs: `{ input: k }` is the k-th input tensor; the rest is passed as is. */
function indexSpecs(inputs: readonly Tensor[], specs: unknown): IndexSpec[] {
  if (!Array.isArray(specs)) throw new Error("runner: 'specs' must be a list");
  return specs.map((s): IndexSpec => {
    if (s !== null && typeof s === 'object' && !Array.isArray(s)) {
      return at(inputs, (s as { input: number }).input);
    }
    return s as IndexSpec;
  });
}

function decodeNested(v: unknown): TensorData {
  if (Array.isArray(v)) return v.map((x) => decodeNested(x)) as TensorData;
  if (typeof v === 'boolean') return v;
  return decodeNumber(v);
}

/**
 * How each fixture `call` runs with gradfolio's public API, keyed by the case's `call`. A backend's
 * conformance run goes through these; they are also handy to replay one case by hand.
 *
 * @example
 * ```ts
 * const c = fixtureCases.find((k) => k.id === 'sum/dims-list')!;
 * const out = runners[c.call]!(c.inputs.map((s) => buildInput(s, 'cpu')), { ...c.attrs });
 * ```
 */
export const runners: Readonly<Record<string, Runner>> = {
  // ---- memory and dtype
  fill_: (i, a) => at(i, 0).fill_(scalar(a.value)),
  copy_: (i) => at(i, 0).copy_(at(i, 1)),
  'copy_.scalar': (i, a) => at(i, 0).copy_(scalar(a.value)),
  'to.dtype': (i, a) => at(i, 0).to(a.dtype as DType),
  cast: (i, a) => cast(at(i, 0), a.dtype as DType),
  'to.device': async (i, a, device) => {
    const host = await at(i, 0).toAsync(defined({ device: 'cpu', dtype: dtypeOf(a) }));
    return host.toAsync(deviceOf(device));
  },
  clone: unary((x) => x.clone()),
  contiguous: unary((x) => x.contiguous()),

  // ---- unary pointwise
  exp: unary((x) => x.exp()),
  log: unary((x) => x.log()),
  log1p: unary((x) => x.log1p()),
  expm1: unary((x) => x.expm1()),
  sqrt: unary((x) => x.sqrt()),
  rsqrt: unary((x) => x.rsqrt()),
  sin: unary((x) => x.sin()),
  cos: unary((x) => x.cos()),
  tanh: unary((x) => x.tanh()),
  sigmoid: unary((x) => x.sigmoid()),
  gelu: (i, a) => at(i, 0).gelu(defined({ approximate: a.approximate as 'none' | 'tanh' | undefined })),
  softplus: (i, a) => at(i, 0).softplus(defined({ beta: num(a, 'beta'), threshold: num(a, 'threshold') })),
  reciprocal: unary((x) => x.reciprocal()),
  neg: unary((x) => x.neg()),
  abs: unary((x) => x.abs()),
  sign: unary((x) => x.sign()),
  relu: unary((x) => x.relu()),
  floor: unary((x) => x.floor()),
  ceil: unary((x) => x.ceil()),
  round: unary((x) => x.round()),
  trunc: unary((x) => x.trunc()),
  clamp: (i, a) => at(i, 0).clamp(num(a, 'min') ?? null, num(a, 'max') ?? null),
  'clamp.options': (i, a) => at(i, 0).clamp(defined({ min: num(a, 'min'), max: num(a, 'max') })),
  clip: (i, a) => at(i, 0).clip(num(a, 'min') ?? null, num(a, 'max') ?? null),
  leakyRelu: (i, a) => leakyRelu(at(i, 0), num(a, 'slope')),
  elu: (i, a) => elu(at(i, 0), num(a, 'alpha')),
  isnan: unary((x) => x.isnan()),
  isfinite: unary((x) => x.isfinite()),
  isinf: unary((x) => x.isinf()),
  logicalNot: unary((x) => x.logicalNot()),

  // ---- binary pointwise (attrs.lhs / attrs.rhs are JS scalars)
  add: alphaBinary(add),
  sub: alphaBinary(sub),
  mul: binary(mul),
  div: binary(div),
  pow: binary(pow),
  remainder: binary(remainder),
  atan2: binary(atan2),
  tanhBackward: binary(tanhBackward),
  // In-place fused updates: the runner returns the updated tensors (param, then the state).
  adamUpdate: (i, a) => {
    const [p, g, m, v, x] = i.map((t) => t.clone());
    const opts = {
      lr: req(a, 'lr'),
      beta1: req(a, 'beta1'),
      beta2: req(a, 'beta2'),
      eps: req(a, 'eps'),
      step: req(a, 'step'),
    };
    if (!adamUpdate_(p!, g!, m!, v!, x, opts)) throw new Error('adamUpdate: no fused kernel on this backend');
    return x === undefined ? [p!, m!, v!] : [p!, m!, v!, x];
  },
  sgdUpdate: (i, a) => {
    const [p, g, b] = i.map((t) => t.clone());
    const opts = {
      lr: req(a, 'lr'),
      momentum: req(a, 'momentum'),
      dampening: req(a, 'dampening'),
      nesterov: bool(a, 'nesterov') === true,
      init: bool(a, 'init') === true,
    };
    if (!sgdUpdate_(p!, g!, b, opts)) throw new Error('sgdUpdate: no fused kernel on this backend');
    return b === undefined ? [p!] : [p!, b];
  },
  lstmLayer: (i, a) =>
    lstmLayer(
      at(i, 0),
      at(i, 1),
      at(i, 2),
      { wih: at(i, 3), whh: at(i, 4), bih: i[5], bhh: i[6] },
      defined({ reverse: bool(a, 'reverse') }),
    ),
  lstmLayerBackward: (i, a) =>
    lstmLayerBackward(
      at(i, 0),
      at(i, 1),
      at(i, 2),
      at(i, 3),
      at(i, 4),
      at(i, 5),
      at(i, 6),
      at(i, 7),
      at(i, 8),
      at(i, 9),
      {
        reverse: bool(a, 'reverse') === true,
        hasBias: bool(a, 'hasBias') === true,
      },
    ).filter((t): t is Tensor => t !== undefined),
  sigmoidBackward: binary(sigmoidBackward),
  minimum: binary(minimum),
  maximum: binary(maximum),
  'max.other': (i) => at(i, 0).max(at(i, 1)),
  'min.other': (i) => at(i, 0).min(at(i, 1)),
  eq: binary(eq),
  ne: binary(ne),
  lt: binary(lt),
  le: binary(le),
  gt: binary(gt),
  ge: binary(ge),
  logicalAnd: binary(logicalAnd),
  logicalOr: binary(logicalOr),
  logicalXor: binary(logicalXor),
  where: (i, a) => {
    let k = 1;
    const x = 'a' in a ? scalar(a.a) : at(i, k++);
    const y = 'b' in a ? scalar(a.b) : at(i, k++);
    return where(at(i, 0), x, y);
  },

  // ---- reductions and scans
  sum: (i, a) => at(i, 0).sum(dims(a), defined({ keepdim: bool(a, 'keepdim'), dtype: dtypeOf(a) })),
  prod: (i, a) => at(i, 0).prod(num(a, 'dim'), defined({ keepdim: bool(a, 'keepdim'), dtype: dtypeOf(a) })),
  amax: (i, a) => at(i, 0).amax(dims(a), defined({ keepdim: bool(a, 'keepdim') })),
  amin: (i, a) => at(i, 0).amin(dims(a), defined({ keepdim: bool(a, 'keepdim') })),
  all: (i, a) => at(i, 0).all(dims(a), defined({ keepdim: bool(a, 'keepdim') })),
  any: (i, a) => at(i, 0).any(dims(a), defined({ keepdim: bool(a, 'keepdim') })),
  'max.dim': (i, a) => at(i, 0).max(req(a, 'dim'), defined({ keepdim: bool(a, 'keepdim') })),
  'min.dim': (i, a) => at(i, 0).min(req(a, 'dim'), defined({ keepdim: bool(a, 'keepdim') })),
  'max.all': unary((x) => x.max()),
  'min.all': unary((x) => x.min()),
  argmax: (i, a) => at(i, 0).argmax(num(a, 'dim'), defined({ keepdim: bool(a, 'keepdim') })),
  argmin: (i, a) => at(i, 0).argmin(num(a, 'dim'), defined({ keepdim: bool(a, 'keepdim') })),
  cumsum: (i, a) => at(i, 0).cumsum(req(a, 'dim')),
  cumprod: (i, a) => at(i, 0).cumprod(req(a, 'dim')),
  mean: (i, a) => at(i, 0).mean(dims(a), defined({ keepdim: bool(a, 'keepdim'), dtype: dtypeOf(a) })),
  var: (i, a) =>
    at(i, 0).var(
      dims(a),
      defined({
        keepdim: bool(a, 'keepdim'),
        correction: num(a, 'correction'),
        unbiased: bool(a, 'unbiased'),
      }),
    ),
  std: (i, a) =>
    at(i, 0).std(
      dims(a),
      defined({
        keepdim: bool(a, 'keepdim'),
        correction: num(a, 'correction'),
        unbiased: bool(a, 'unbiased'),
      }),
    ),
  logsumexp: (i, a) => at(i, 0).logsumexp(dims(a) ?? [], defined({ keepdim: bool(a, 'keepdim') })),
  norm: (i, a) =>
    at(i, 0).norm(
      a.p === 'fro' ? 'fro' : (num(a, 'p') ?? 2),
      dims(a),
      defined({ keepdim: bool(a, 'keepdim') }),
    ),
  softmax: (i, a) => at(i, 0).softmax(req(a, 'dim')),
  logSoftmax: (i, a) => at(i, 0).logSoftmax(req(a, 'dim')),

  // ---- linear algebra
  matmul: (i) => at(i, 0).matmul(at(i, 1)),
  mm: (i) => at(i, 0).mm(at(i, 1)),
  bmm: (i) => at(i, 0).bmm(at(i, 1)),
  dot: (i) => at(i, 0).dot(at(i, 1)),
  outer: (i) => at(i, 0).outer(at(i, 1)),
  addmm: (i, a) =>
    addmm(at(i, 0), at(i, 1), at(i, 2), defined({ beta: num(a, 'beta'), alpha: num(a, 'alpha') })),
  cholesky: (i, a) => cholesky(at(i, 0), defined({ upper: bool(a, 'upper') })),
  'linalg.cholesky': (i, a) => linalg.cholesky(at(i, 0), defined({ upper: bool(a, 'upper') })),
  solve: (i) => solve(at(i, 0), at(i, 1)),
  'linalg.solve': (i) => linalg.solve(at(i, 0), at(i, 1)),
  inverse: (i) => inverse(at(i, 0)),
  'linalg.inv': (i) => linalg.inv(at(i, 0)),

  // ---- indexing and shape
  gather: (i, a) => at(i, 0).gather(req(a, 'dim'), at(i, 1)),
  scatter: (i, a) => at(i, 0).scatter(req(a, 'dim'), at(i, 1), i[2] ?? scalar(a.value)),
  scatterAdd: (i, a) => at(i, 0).scatterAdd(req(a, 'dim'), at(i, 1), at(i, 2)),
  indexSelect: (i, a) => at(i, 0).indexSelect(req(a, 'dim'), at(i, 1)),
  sort: (i, a) => at(i, 0).sort(num(a, 'dim') ?? -1, defined({ descending: bool(a, 'descending') })),
  topk: (i, a) => at(i, 0).topk(req(a, 'k'), num(a, 'dim') ?? -1, defined({ largest: bool(a, 'largest') })),
  maskedFill: (i, a) => at(i, 0).maskedFill(at(i, 1), i[2] ?? scalar(a.value)),
  nonzero: unary((x) => x.nonzero()),
  index: (i, a) => at(i, 0).index(...indexSpecs(i, a.specs)),
  cat: (i, a) => cat(i, num(a, 'dim')),
  stack: (i, a) => stack(i, num(a, 'dim')),
  split: (i, a) => at(i, 0).split(Array.isArray(a.size) ? ints(a, 'size') : req(a, 'size'), num(a, 'dim')),
  chunk: (i, a) => at(i, 0).chunk(req(a, 'chunks'), num(a, 'dim')),
  flip: (i, a) => at(i, 0).flip(ints(a, 'dims')),
  repeat: (i, a) => at(i, 0).repeat(ints(a, 'sizes')),
  pad: (i, a) =>
    pad(at(i, 0), ints(a, 'pads'), defined({ mode: a.mode as PadMode | undefined, value: num(a, 'value') })),
  tril: (i, a) => at(i, 0).tril(num(a, 'diagonal')),
  triu: (i, a) => at(i, 0).triu(num(a, 'diagonal')),
  diag: (i, a) => diag(at(i, 0), num(a, 'diagonal')),

  // ---- views
  reshape: (i, a) => at(i, 0).reshape(ints(a, 'shape')),
  view: (i, a) => at(i, 0).view(ints(a, 'shape')),
  flatten: (i, a) => at(i, 0).flatten(num(a, 'startDim'), num(a, 'endDim')),
  unflatten: (i, a) => at(i, 0).unflatten(req(a, 'dim'), ints(a, 'sizes')),
  squeeze: (i, a) => at(i, 0).squeeze(dims(a)),
  unsqueeze: (i, a) => at(i, 0).unsqueeze(req(a, 'dim')),
  permute: (i, a) => at(i, 0).permute(ints(a, 'dims')),
  transpose: (i, a) => at(i, 0).transpose(req(a, 'dim0'), req(a, 'dim1')),
  T: unary((x) => x.T),
  mT: unary((x) => x.mT),
  expand: (i, a) => at(i, 0).expand(ints(a, 'sizes')),
  broadcastTo: (i, a) => at(i, 0).broadcastTo(ints(a, 'shape')),
  expandAs: (i) => at(i, 0).expandAs(at(i, 1)),
  narrow: (i, a) => at(i, 0).narrow(req(a, 'dim'), req(a, 'start'), req(a, 'length')),
  select: (i, a) => at(i, 0).select(req(a, 'dim'), req(a, 'index')),
  diagonal: (i, a) => at(i, 0).diagonal(num(a, 'offset'), num(a, 'dim1'), num(a, 'dim2')),

  // ---- creation (inputs are empty; made on `device`)
  tensor: (_i, a, device) => tensor(decodeNested(a.data), creationOptions(a, device)),
  zeros: (_i, a, device) => zeros(ints(a, 'shape'), creationOptions(a, device)),
  ones: (_i, a, device) => ones(ints(a, 'shape'), creationOptions(a, device)),
  full: (_i, a, device) => full(ints(a, 'shape'), scalar(a.value), creationOptions(a, device)),
  empty: (_i, a, device) => empty(ints(a, 'shape'), creationOptions(a, device)),
  arange: (_i, a, device) =>
    a.start === undefined
      ? arange(req(a, 'end'), creationOptions(a, device))
      : arange(req(a, 'start'), req(a, 'end'), num(a, 'step') ?? 1, creationOptions(a, device)),
  linspace: (_i, a, device) =>
    linspace(req(a, 'start'), req(a, 'end'), req(a, 'steps'), creationOptions(a, device)),
  eye: (_i, a, device) => eye(req(a, 'n'), num(a, 'm') ?? req(a, 'n'), creationOptions(a, device)),
};
