import { commonBackend, record, runKernel, unrecorded } from '../dispatch.js';
import { isFloating } from '../dtype.js';
import { fmtShape, GradfolioError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { add, mul } from './pointwise.js';
import { chunk, stack } from './shape.js';

/** Options of {@link lstmLayer}. */
export interface LSTMLayerOptions {
  /** Walk the sequence from the last step to the first (the reverse direction of a bidirectional LSTM). */
  reverse?: boolean;
}

function shapeError(msg: string, shapes: readonly (readonly number[])[]): GradfolioError {
  return new GradfolioError('SHAPE_MISMATCH', `lstmLayer: ${msg}`, { op: 'lstmLayer', shapes });
}

/** The tensors of one layer and direction, PyTorch's names: `weight_ih_l0` is `wih`, and so on. */
export interface LSTMLayerWeights {
  /** `[4H, I]`, gates i, f, g, o. */
  wih: Tensor;
  /** `[4H, H]`. */
  whh: Tensor;
  /** `[4H]`, or undefined for `bias: false` (then `bhh` is too). */
  bih?: Tensor | undefined;
  /** `[4H]`. */
  bhh?: Tensor | undefined;
}

function listOf(x: Tensor, h0: Tensor, c0: Tensor, w: LSTMLayerWeights): Tensor[] {
  const l = [x, h0, c0, w.wih, w.whh];
  if (w.bih !== undefined) l.push(w.bih);
  if (w.bhh !== undefined) l.push(w.bhh);
  return l;
}

function checkArgs(x: Tensor, h0: Tensor, c0: Tensor, w: LSTMLayerWeights): void {
  const all = listOf(x, h0, c0, w);
  const shapes = all.map((t) => t.shape);
  const { wih, whh, bih, bhh } = w;
  if (x.ndim !== 3 || h0.ndim !== 2 || c0.ndim !== 2 || wih.ndim !== 2 || whh.ndim !== 2) {
    throw shapeError(
      `expected x [T, B, I], h0 and c0 [B, H], wih [4H, I], whh [4H, H], got ${shapes.map(fmtShape).join(', ')}`,
      shapes,
    );
  }
  const B = x.shape[1] as number;
  const I = x.shape[2] as number;
  const H = whh.shape[1] as number;
  const G = 4 * H;
  const hs = [B, H].join();
  if (
    whh.shape[0] !== G ||
    wih.shape[0] !== G ||
    wih.shape[1] !== I ||
    h0.shape.join() !== hs ||
    c0.shape.join() !== hs
  ) {
    throw shapeError(
      `inconsistent sizes: x ${fmtShape(x.shape)}, h0 ${fmtShape(h0.shape)}, c0 ${fmtShape(c0.shape)}, wih ${fmtShape(wih.shape)}, whh ${fmtShape(whh.shape)} (want x [T, B, I], h0/c0 [B, H], wih [4H, I], whh [4H, H])`,
      shapes,
    );
  }
  if ((bih === undefined) !== (bhh === undefined)) {
    throw shapeError('give both biases (bih and bhh) or neither', shapes);
  }
  for (const [name, b] of [
    ['bih', bih],
    ['bhh', bhh],
  ] as const) {
    if (b !== undefined && (b.ndim !== 1 || b.shape[0] !== G)) {
      throw shapeError(`${name} must be [${G}], got ${fmtShape(b.shape)}`, shapes);
    }
  }
  for (const t of all) {
    if (t.dtype !== x.dtype || !isFloating(t.dtype)) {
      throw new GradfolioError(
        'DTYPE_MISMATCH',
        `lstmLayer: every argument must have the same floating dtype, got ${all.map((a) => a.dtype).join(', ')}`,
        { op: 'lstmLayer', dtypes: all.map((a) => a.dtype) },
      );
    }
  }
}

/** One time step of {@link lstmLayerSteps}: the activated gates, the states before and after. */
export interface LSTMStep {
  /** The time index of the step (steps are listed in processing order). */
  readonly t: number;
  readonly i: Tensor;
  readonly f: Tensor;
  readonly g: Tensor;
  readonly o: Tensor;
  readonly hPrev: Tensor;
  readonly cPrev: Tensor;
  readonly h: Tensor;
  readonly c: Tensor;
}

/**
 * The recurrence of {@link lstmLayerComposite} with every step's gates and states, in processing order
 * (ordinary ops, so differentiable): the composite forward, and the derivative's formulas for gradients
 * of gradients, both build on it.
 *
 * @example
 * ```ts
 * const steps = lstmLayerSteps(x, h0, c0, { wih, whh, bih, bhh });
 * steps.at(-1)?.c; // cN
 * ```
 */
export function lstmLayerSteps(
  x: Tensor,
  h0: Tensor,
  c0: Tensor,
  weights: LSTMLayerWeights,
  options: LSTMLayerOptions = {},
): LSTMStep[] {
  checkArgs(x, h0, c0, weights);
  const { wih, whh, bih, bhh } = weights;
  const T = x.shape[0] as number;
  const B = x.shape[1] as number;
  const flat = x.reshape(T * B, x.shape[2] as number).matmul(wih.T);
  const xp = (bih === undefined ? flat : flat.add(bih)).reshape(T, B, wih.shape[0] as number);
  const whhT = whh.T;
  let h = h0;
  let c = c0;
  const steps: LSTMStep[] = [];
  for (let k = 0; k < T; k++) {
    const t = options.reverse === true ? T - 1 - k : k;
    const gh = h.matmul(whhT);
    const z = add(xp.select(0, t), bhh === undefined ? gh : gh.add(bhh));
    const [zi, zf, zg, zo] = chunk(z, 4, -1) as [Tensor, Tensor, Tensor, Tensor];
    const i = zi.sigmoid();
    const f = zf.sigmoid();
    const g = zg.tanh();
    const o = zo.sigmoid();
    const c1 = add(mul(f, c), mul(i, g));
    const h1 = mul(o, c1.tanh());
    steps.push({ t, i, f, g, o, hPrev: h, cPrev: c, h: h1, c: c1 });
    h = h1;
    c = c1;
  }
  return steps;
}

/**
 * The composite definition of {@link lstmLayer}: ordinary ops step by step. It is the fallback on
 * backends without a fused `lstmLayer` kernel and the reference the fused kernels are tested against.
 *
 * @example
 * ```ts
 * const [out, hN, cN] = lstmLayerComposite(x, h0, c0, { wih, whh, bih, bhh });
 * ```
 */
export function lstmLayerComposite(
  x: Tensor,
  h0: Tensor,
  c0: Tensor,
  weights: LSTMLayerWeights,
  options: LSTMLayerOptions = {},
): [Tensor, Tensor, Tensor] {
  const steps = lstmLayerSteps(x, h0, c0, weights, options);
  const last = steps.at(-1);
  if (last === undefined) return [h0.unsqueeze(0).narrow(0, 0, 0), h0, c0];
  const outs = new Array<Tensor>(steps.length);
  for (const s of steps) outs[s.t] = s.h;
  return [stack(outs, 0), last.h, last.c];
}

/**
 * One direction of one LSTM layer over a whole time-major sequence `x` `[T, B, I]` (gates i, f, g, o as
 * PyTorch's `nn.LSTM`): returns `[output [T, B, H], hN [B, H], cN [B, H]]`. Runs the backend's fused
 * `lstmLayer` kernel when it has one (the input projection, the recurrence and, in the backward, every
 * gradient, recorded as one autograd node where PyTorch's CPU LSTM records ~15 per step) and
 * {@link lstmLayerComposite} otherwise; both give the same values and gradients.
 *
 * @example
 * ```ts
 * const [out, hN, cN] = lstmLayer(x, h0, c0, { wih, whh, bih, bhh });
 * const [back] = lstmLayer(x, h0, c0, { wih: wihR, whh: whhR }, { reverse: true });
 * ```
 */
export function lstmLayer(
  x: Tensor,
  h0: Tensor,
  c0: Tensor,
  weights: LSTMLayerWeights,
  options: LSTMLayerOptions = {},
): [Tensor, Tensor, Tensor] {
  checkArgs(x, h0, c0, weights);
  const inputs = listOf(x, h0, c0, weights);
  const backend = commonBackend('lstmLayer', inputs);
  const T = x.shape[0] as number;
  if (T === 0 || !backend.kernels.has('lstmLayer')) return lstmLayerComposite(x, h0, c0, weights, options);
  const reverse = options.reverse === true;
  const hasBias = weights.bih !== undefined;
  const B = h0.shape[0] as number;
  const H = h0.shape[1] as number;
  const dtype = x.dtype;
  const [out, cN, gates, cells] = unrecorded(() =>
    runKernel(
      'lstmLayer',
      inputs.map((t) => t.contiguous()),
      [
        { shape: [T, B, H], dtype },
        { shape: [B, H], dtype },
        { shape: [T, B, 4 * H], dtype },
        { shape: [T, B, H], dtype },
      ],
      { reverse, hasBias },
      backend,
    ),
  ) as [Tensor, Tensor, Tensor, Tensor];
  // The activated gates and cell states are the backward's workspace; they live in the node's attrs.
  record('lstmLayer', inputs, [out, cN], { reverse, hasBias, gates, cells });
  return [out, out.select(0, reverse ? 0 : T - 1), cN];
}

/**
 * The fused backward of {@link lstmLayer} (autograd calls it; PyTorch has no public equivalent): given
 * the gradients of `output` and `cN` and the forward's inputs, outputs and workspace, returns
 * `[dx, dh0, dc0, dWih, dWhh, dBias]` (`dBias`, the gradient of both biases, undefined without them).
 * Not recorded: a backward pass that is itself differentiated (`createGraph`) uses the composite
 * formulas instead.
 *
 * @example
 * ```ts
 * const [dx, dh0, dc0, dWih, dWhh, db] = lstmLayerBackward(gOut, gcN, x, h0, c0, wih, whh, gates, cells, out, { hasBias: true });
 * ```
 */
export function lstmLayerBackward(
  gOut: Tensor,
  gcN: Tensor,
  x: Tensor,
  h0: Tensor,
  c0: Tensor,
  wih: Tensor,
  whh: Tensor,
  gates: Tensor,
  cells: Tensor,
  out: Tensor,
  options: { reverse?: boolean; hasBias: boolean },
): [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | undefined] {
  const inputs = [gOut, gcN, x, h0, c0, wih, whh, gates, cells, out];
  const backend = commonBackend('lstmLayerBackward', inputs);
  const [T, B, G] = gates.shape as [number, number, number];
  const H = G / 4;
  const I = x.shape[2] as number;
  const dtype = gates.dtype;
  const outs = runKernel(
    'lstmLayerBackward',
    inputs.map((t) => (t.dtype === dtype ? t : t.to(dtype)).contiguous()),
    [
      { shape: [T, B, I], dtype },
      { shape: [B, H], dtype },
      { shape: [B, H], dtype },
      { shape: [G, I], dtype },
      { shape: [G, H], dtype },
      ...(options.hasBias ? [{ shape: [G], dtype }] : []),
    ],
    { reverse: options.reverse === true, hasBias: options.hasBias },
    backend,
  );
  return [outs[0]!, outs[1]!, outs[2]!, outs[3]!, outs[4]!, outs[5]];
}
