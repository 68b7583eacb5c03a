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

function checkArgs(xp: Tensor, h0: Tensor, c0: Tensor, whh: Tensor, bhh: Tensor | undefined): void {
  const all = bhh === undefined ? [xp, h0, c0, whh] : [xp, h0, c0, whh, bhh];
  const shapes = all.map((t) => t.shape);
  if (xp.ndim !== 3 || h0.ndim !== 2 || c0.ndim !== 2 || whh.ndim !== 2) {
    throw shapeError(
      `expected xp [T, B, 4H], h0 and c0 [B, H], whh [4H, H], got ${shapes.map(fmtShape).join(', ')}`,
      shapes,
    );
  }
  const B = xp.shape[1] as number;
  const G = xp.shape[2] as number;
  const H = whh.shape[1] as number;
  const hs = [B, H];
  if (G !== 4 * H || whh.shape[0] !== G || h0.shape.join() !== hs.join() || c0.shape.join() !== hs.join()) {
    throw shapeError(
      `inconsistent sizes: xp ${fmtShape(xp.shape)}, h0 ${fmtShape(h0.shape)}, c0 ${fmtShape(c0.shape)}, whh ${fmtShape(whh.shape)} (want xp [T, B, 4H], h0/c0 [B, H], whh [4H, H])`,
      shapes,
    );
  }
  if (bhh !== undefined && (bhh.ndim !== 1 || bhh.shape[0] !== G)) {
    throw shapeError(`bhh must be [${G}], got ${fmtShape(bhh.shape)}`, shapes);
  }
  for (const t of all) {
    if (t.dtype !== xp.dtype || !isFloating(t.dtype)) {
      throw new GradfolioError(
        'DTYPE_MISMATCH',
        `lstmLayer: every argument must have the same floating dtype, got ${all.map((a) => a.dtype).join(', ')}`,
        { op: 'lstmLayer', dtypes: all.map((a) => a.dtype) },
      );
    }
  }
}

/**
 * The composite definition of {@link lstmLayer}: ordinary ops step by step. It is the fallback on
 * backends without a fused `lstmLayer` kernel and the reference the fused kernels are tested against.
 *
 * @example
 * ```ts
 * const [out, hN, cN] = lstmLayerComposite(xp, h0, c0, whh, bhh);
 * ```
 */
export function lstmLayerComposite(
  xp: Tensor,
  h0: Tensor,
  c0: Tensor,
  whh: Tensor,
  bhh: Tensor | undefined,
  options: LSTMLayerOptions = {},
): [Tensor, Tensor, Tensor] {
  checkArgs(xp, h0, c0, whh, bhh);
  const T = xp.shape[0] as number;
  const whhT = whh.T;
  let h = h0;
  let c = c0;
  const outs = new Array<Tensor>(T);
  for (let k = 0; k < T; k++) {
    const t = options.reverse === true ? T - 1 - k : k;
    const gh = h.matmul(whhT);
    const z = add(xp.select(0, t), bhh === undefined ? gh : gh.add(bhh));
    const [i, f, g, o] = chunk(z, 4, -1) as [Tensor, Tensor, Tensor, Tensor];
    c = add(mul(f.sigmoid(), c), mul(i.sigmoid(), g.tanh()));
    h = mul(o.sigmoid(), c.tanh());
    outs[t] = h;
  }
  const out = T === 0 ? h0.unsqueeze(0).narrow(0, 0, 0) : stack(outs, 0);
  return [out, h, c];
}

/**
 * One direction of one LSTM layer over a whole sequence, given the input projection
 * `xp = x @ W_ih^T + b_ih` (`[T, B, 4H]`, gates i, f, g, o as in PyTorch): returns
 * `[output [T, B, H], hN [B, H], cN [B, H]]`. Runs the backend's fused `lstmLayer` kernel when it has
 * one (recorded as one autograd node, PyTorch's CPU LSTM is ~15 nodes per step) and
 * {@link lstmLayerComposite} otherwise; both give the same values and gradients.
 *
 * @example
 * ```ts
 * const xp = x.reshape(-1, I).matmul(wih.T).add(bih).reshape(T, B, 4 * H);
 * const [out, hN, cN] = lstmLayer(xp, h0, c0, whh, bhh);
 * ```
 */
export function lstmLayer(
  xp: Tensor,
  h0: Tensor,
  c0: Tensor,
  whh: Tensor,
  bhh: Tensor | undefined,
  options: LSTMLayerOptions = {},
): [Tensor, Tensor, Tensor] {
  checkArgs(xp, h0, c0, whh, bhh);
  const backend = commonBackend('lstmLayer', bhh === undefined ? [xp, h0, c0, whh] : [xp, h0, c0, whh, bhh]);
  const T = xp.shape[0] as number;
  if (T === 0 || !backend.kernels.has('lstmLayer')) return lstmLayerComposite(xp, h0, c0, whh, bhh, options);
  const reverse = options.reverse === true;
  const B = h0.shape[0] as number;
  const H = h0.shape[1] as number;
  const dtype = xp.dtype;
  const inputs = [xp, h0, c0, whh, ...(bhh === undefined ? [] : [bhh])];
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
      { reverse, hasBias: bhh !== undefined },
      backend,
    ),
  ) as [Tensor, Tensor, Tensor, Tensor];
  // The activated gates and cell states are the backward's workspace; they live in the node's attrs.
  record('lstmLayer', inputs, [out, cN], { reverse, hasBias: bhh !== undefined, gates, cells });
  return [out, out.select(0, reverse ? 0 : T - 1), cN];
}

/**
 * The fused backward of {@link lstmLayer} (autograd calls it; PyTorch has no public equivalent):
 * given the gradients of `output` and `cN` and the forward's inputs, outputs and workspace, returns
 * `[dXp, dH0, dC0, dWhh, dBhh]` (`dBhh` undefined without a bias). Not recorded: a backward pass that
 * is itself differentiated (`createGraph`) uses the composite formulas instead.
 *
 * @example
 * ```ts
 * const [dXp, dH0, dC0, dWhh, dBhh] = lstmLayerBackward(gOut, gcN, h0, c0, whh, gates, cells, out, { hasBias: true });
 * ```
 */
export function lstmLayerBackward(
  gOut: Tensor,
  gcN: Tensor,
  h0: Tensor,
  c0: Tensor,
  whh: Tensor,
  gates: Tensor,
  cells: Tensor,
  out: Tensor,
  options: { reverse?: boolean; hasBias: boolean },
): [Tensor, Tensor, Tensor, Tensor, Tensor | undefined] {
  const inputs = [gOut, gcN, h0, c0, whh, gates, cells, out];
  const backend = commonBackend('lstmLayerBackward', inputs);
  const [T, B, G] = gates.shape as [number, number, number];
  const H = G / 4;
  const dtype = gates.dtype;
  const outs = runKernel(
    'lstmLayerBackward',
    inputs.map((t) => (t.dtype === dtype ? t : t.to(dtype)).contiguous()),
    [
      { shape: [T, B, G], dtype },
      { shape: [B, H], dtype },
      { shape: [B, H], dtype },
      { shape: [G, H], dtype },
      ...(options.hasBias ? [{ shape: [G], dtype }] : []),
    ],
    { reverse: options.reverse === true, hasBias: options.hasBias },
    backend,
  );
  return [outs[0]!, outs[1]!, outs[2]!, outs[3]!, outs[4]];
}
