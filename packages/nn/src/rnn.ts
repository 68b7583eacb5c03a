/**
 * Recurrent layers (PyTorch's `torch.nn.RNN`, `LSTM`, `GRU` and their cells `RNNCell`, `LSTMCell`,
 * `GRUCell`). Parameter names, shapes, gate order (LSTM i, f, g, o; GRU r, z, n), default
 * initialisation and input / output shapes are PyTorch's, so a PyTorch `state_dict` loads unchanged.
 *
 * Tuples become arrays: `const [output, [hN, cN]] = lstm.call(x, [h0, c0])`.
 *
 * A {@link PackedSequence} input (from `packPaddedSequence`) gives a packed output with the same batch
 * sizes and indices, as in PyTorch: at step `t` only the first `batchSizes[t]` sequences advance, so
 * `hN` / `cN` hold each sequence's state after its own last step (in the caller's batch order); initial
 * states are given in the caller's order too.
 *
 * ```ts
 * const packed = packPaddedSequence(x, [3, 7, 5, 2], { batchFirst: true, enforceSorted: false });
 * const [packedOut, [hN]] = lstm.call(packed);
 * const [out, lengths] = padPackedSequence(packedOut, { batchFirst: true });
 * ```
 *
 * @example
 * ```ts
 * const lstm = new LSTM(8, 64, { numLayers: 2, batchFirst: true });
 * const [output, [hN, cN]] = lstm.call(randn([32, 50, 8]));
 * output.shape; // [32, 50, 64]
 * hN.shape; // [2, 32, 64]
 * ```
 *
 * @module
 */

import { noGrad } from '@gradfolio/autograd';
import {
  cat,
  empty,
  type Generator,
  GradfolioError,
  lstmLayer,
  rand,
  stack,
  type Tensor,
  zeros,
} from '@gradfolio/tensor';
import { pyBool, pyFloat } from './activation.js';
import { uniform_ } from './init.js';
import { factoryOptions, type LayerFactoryOptions } from './linear.js';
import { Module, type Parameter } from './module.js';
import { applyPermutation, PackedSequence } from './packing.js';

/** The recurrence of a {@link RNN} layer (PyTorch's `nonlinearity`). */
export type RNNNonlinearity = 'tanh' | 'relu';

/** The recurrence kinds of {@link RNNBase} (PyTorch's `mode`). */
export type RNNMode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';

/** Options shared by {@link RNN}, {@link LSTM} and {@link GRU}. */
export interface RNNBaseOptions extends LayerFactoryOptions {
  /** Number of stacked recurrent layers (default 1). */
  numLayers?: number;
  /** Whether the layers use `bias_ih` / `bias_hh` (default true). */
  bias?: boolean;
  /** Input and output are `[batch, seq, feature]` instead of `[seq, batch, feature]` (default false). */
  batchFirst?: boolean;
  /** Dropout probability on the outputs of every layer but the last, in training mode (default 0). */
  dropout?: number;
  /** Bidirectional layers (default false). */
  bidirectional?: boolean;
  /** Generator of the dropout masks (default: the global one). */
  dropoutGenerator?: Generator;
}

/** Options of {@link RNN}. */
export interface RNNOptions extends RNNBaseOptions {
  /** `'tanh'` (default) or `'relu'`. */
  nonlinearity?: RNNNonlinearity;
}

/** Options of {@link LSTM}. */
export interface LSTMOptions extends RNNBaseOptions {
  /** Size of the projected hidden state (`weight_hr`); 0 (default) disables projections. */
  projSize?: number;
}

/** Options of the cells. */
export interface RNNCellOptions extends LayerFactoryOptions {
  /** Whether the cell uses `bias_ih` / `bias_hh` (default true). */
  bias?: boolean;
}

function gateCount(mode: RNNMode): number {
  return mode === 'LSTM' ? 4 : mode === 'GRU' ? 3 : 1;
}

function fmtTuple(s: readonly number[]): string {
  return s.length === 1 ? `(${s[0]},)` : `(${s.join(', ')})`;
}

function fmtList(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function checkPositiveInt(op: string, name: string, v: number, allowZero = false): void {
  if (!Number.isInteger(v)) {
    throw new GradfolioError('INVALID_ARGUMENT', `${name} should be of type int, got: ${String(v)}`, { op });
  }
  if (allowZero ? v < 0 : v <= 0) {
    throw new GradfolioError('INVALID_ARGUMENT', `${name} must be greater than zero`, { op, [name]: v });
  }
}

function modeOp(mode: RNNMode): string {
  return mode === 'LSTM' ? 'LSTM' : mode === 'GRU' ? 'GRU' : 'RNN';
}

// ---------------------------------------------------------------------------------------------- steps

/** One time step of the recurrence given the precomputed input projection `gi` (with `b_ih`). */
function step(
  mode: RNNMode,
  gi: Tensor,
  h: Tensor,
  c: Tensor | undefined,
  whhT: Tensor,
  bhh: Tensor | undefined,
  whrT: Tensor | undefined,
): [Tensor, Tensor | undefined] {
  const gh = bhh === undefined ? h.matmul(whhT) : h.matmul(whhT).add(bhh);
  switch (mode) {
    case 'RNN_TANH':
      return [gi.add(gh).tanh(), undefined];
    case 'RNN_RELU':
      return [gi.add(gh).relu(), undefined];
    case 'LSTM': {
      const [i, f, g, o] = gi.add(gh).chunk(4, -1) as [Tensor, Tensor, Tensor, Tensor];
      const c1 = f
        .sigmoid()
        .mul(c as Tensor)
        .add(i.sigmoid().mul(g.tanh()));
      const h1 = o.sigmoid().mul(c1.tanh());
      return [whrT === undefined ? h1 : h1.matmul(whrT), c1];
    }
    case 'GRU': {
      const [ir, iz, inn] = gi.chunk(3, -1) as [Tensor, Tensor, Tensor];
      const [hr, hz, hn] = gh.chunk(3, -1) as [Tensor, Tensor, Tensor];
      const r = ir.add(hr).sigmoid();
      const z = iz.add(hz).sigmoid();
      const n = inn.add(r.mul(hn)).tanh();
      // (1 - z) * n + z * h
      return [n.add(z.mul(h.sub(n))), undefined];
    }
  }
}

/** Input projection of a whole sequence `[T, B, I]` with one matmul: `[T, B, G*H]`. */
function project(x: Tensor, wih: Tensor, bih: Tensor | undefined): Tensor {
  const lead = x.shape.slice(0, -1) as number[];
  const flat = x.reshape(-1, x.shape[x.ndim - 1] as number).matmul(wih.T);
  return (bih === undefined ? flat : flat.add(bih)).reshape(...lead, wih.shape[0] as number);
}

// ---------------------------------------------------------------------------------------------- RNNBase

/**
 * Base of {@link RNN}, {@link LSTM} and {@link GRU} (PyTorch's `nn.RNNBase`): owns the parameters
 * `weight_ih_l{k}[_reverse]`, `weight_hh_l{k}[_reverse]`, `bias_ih_l{k}[_reverse]`,
 * `bias_hh_l{k}[_reverse]` (and `weight_hr_l{k}[_reverse]` for a projected LSTM), in PyTorch's order.
 *
 * @example
 * ```ts
 * const gru: RNNBase<Tensor> = new GRU(3, 4);
 * gru.flatWeightsNames; // ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
 * ```
 */
export abstract class RNNBase<H> extends Module<
  [input: Tensor | PackedSequence, hx?: H | undefined],
  [Tensor | PackedSequence, H]
> {
  /** The recurrence kind. */
  readonly mode: RNNMode;
  /** Number of expected features of the input. */
  readonly inputSize: number;
  /** Number of features of the hidden state. */
  readonly hiddenSize: number;
  /** Number of stacked layers. */
  readonly numLayers: number;
  /** Whether the layers have biases. */
  readonly bias: boolean;
  /** Whether input and output are batch-major. */
  readonly batchFirst: boolean;
  /** Dropout probability between layers (training mode only). */
  readonly dropout: number;
  /** Whether the layers are bidirectional. */
  readonly bidirectional: boolean;
  /** Projection size of an LSTM (0: none). */
  readonly projSize: number;
  /** Generator of the dropout masks (undefined: the global generator). */
  dropoutGenerator: Generator | undefined;
  /** Parameter names in PyTorch's order (`_flat_weights_names`). */
  readonly flatWeightsNames: readonly string[];
  readonly #names: string[][];

  constructor(
    mode: RNNMode,
    inputSize: number,
    hiddenSize: number,
    options: RNNBaseOptions & { projSize?: number } = {},
  ) {
    super();
    const op = modeOp(mode);
    const numLayers = options.numLayers ?? 1;
    const dropout = options.dropout ?? 0;
    const projSize = options.projSize ?? 0;
    checkPositiveInt(op, 'input_size', inputSize, true);
    checkPositiveInt(op, 'hidden_size', hiddenSize);
    checkPositiveInt(op, 'num_layers', numLayers);
    if (typeof dropout !== 'number' || !(dropout >= 0 && dropout <= 1)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        'dropout should be a number in range [0, 1] representing the probability of an element being zeroed',
        { op, dropout },
      );
    }
    if (!Number.isInteger(projSize) || projSize < 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        'proj_size should be a positive integer or zero to disable projections',
        { op, projSize },
      );
    }
    if (projSize >= hiddenSize) {
      throw new GradfolioError('INVALID_ARGUMENT', 'proj_size has to be smaller than hidden_size', {
        op,
        projSize,
      });
    }
    if (projSize > 0 && mode !== 'LSTM') {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        'proj_size argument is only supported for LSTM, not RNN or GRU',
        { op },
      );
    }
    this.mode = mode;
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.numLayers = numLayers;
    this.bias = options.bias ?? true;
    this.batchFirst = options.batchFirst ?? false;
    this.dropout = dropout;
    this.bidirectional = options.bidirectional ?? false;
    this.projSize = projSize;
    this.dropoutGenerator = options.dropoutGenerator;

    const f = factoryOptions(options);
    const G = gateCount(mode) * hiddenSize;
    const realH = projSize > 0 ? projSize : hiddenSize;
    const D = this.bidirectional ? 2 : 1;
    const names: string[][] = [];
    for (let layer = 0; layer < numLayers; layer++) {
      for (let dir = 0; dir < D; dir++) {
        const sfx = `_l${layer}${dir === 1 ? '_reverse' : ''}`;
        const layerIn = layer === 0 ? inputSize : realH * D;
        const group: string[] = [];
        const reg = (name: string, shape: number[]): void => {
          this.registerParameter(name + sfx, empty(shape, f));
          group.push(name + sfx);
        };
        reg('weight_ih', [G, layerIn]);
        reg('weight_hh', [G, realH]);
        if (this.bias) {
          reg('bias_ih', [G]);
          reg('bias_hh', [G]);
        }
        if (projSize > 0) reg('weight_hr', [projSize, hiddenSize]);
        names.push(group);
      }
    }
    this.#names = names;
    this.flatWeightsNames = names.flat();
    this.resetParameters(options.generator);
  }

  /**
   * Re-draws every weight and bias from U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)), like PyTorch.
   *
   * @example
   * ```ts
   * lstm.resetParameters(new Generator().manualSeed(0));
   * ```
   */
  resetParameters(generator?: Generator): void {
    const stdv = this.hiddenSize > 0 ? 1 / Math.sqrt(this.hiddenSize) : 0;
    const g = generator === undefined ? {} : { generator };
    for (const p of this.parameters()) uniform_(p, -stdv, stdv, g);
  }

  /**
   * The parameters of every layer and direction (PyTorch's `all_weights`): `[w_ih, w_hh, b_ih, b_hh,
   * (w_hr)]` per entry, layer-major then direction.
   *
   * @example
   * ```ts
   * new LSTM(3, 4, { numLayers: 2 }).allWeights.length; // 2
   * ```
   */
  get allWeights(): Parameter[][] {
    return this.#names.map((g) => g.map((n) => this.getParameter(n)));
  }

  /** Number of directions (2 when bidirectional). */
  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** The shape of `h_0` / `h_n` for a batch of `batch` (undefined: unbatched). @internal */
  _hiddenShape(batch: number | undefined, cell = false): number[] {
    const h = cell || this.projSize === 0 ? this.hiddenSize : this.projSize;
    const first = this.numDirections * this.numLayers;
    return batch === undefined ? [first, h] : [first, batch, h];
  }

  /** Validates `input` and returns whether it is batched. @internal */
  _checkInput(input: Tensor): boolean {
    const op = modeOp(this.mode);
    if (input.ndim !== 2 && input.ndim !== 3) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: Expected input to be 2-D or 3-D but received ${input.ndim}-D tensor`,
        { op, shapes: [input.shape] },
      );
    }
    const last = input.shape[input.ndim - 1] as number;
    if (last !== this.inputSize) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `input.size(-1) must be equal to input_size. Expected ${this.inputSize}, got ${last}`,
        { op, shapes: [input.shape] },
      );
    }
    const w = this.getParameter(this.flatWeightsNames[0] as string);
    if (input.dtype !== w.dtype) {
      throw new GradfolioError(
        'DTYPE_MISMATCH',
        `input must have the type ${w.dtype}, got type ${input.dtype}`,
        {
          op,
          dtype: input.dtype,
        },
      );
    }
    return input.ndim === 3;
  }

  /** Validates one initial state against its expected shape. @internal */
  _checkHidden(hx: Tensor, expected: readonly number[], batched: boolean, which: string): void {
    const op = modeOp(this.mode);
    if (hx.ndim !== expected.length) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        batched
          ? `For batched 3-D input, ${which} should also be 3-D but got ${hx.ndim}-D tensor`
          : `For unbatched 2-D input, ${which} should also be 2-D but got ${hx.ndim}-D tensor`,
        { op, shapes: [hx.shape] },
      );
    }
    if (!sameShape(hx.shape, expected)) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `Expected ${which === 'hx' ? 'hidden' : which} size ${fmtTuple(expected)}, got ${fmtList(hx.shape)}`,
        { op, shapes: [hx.shape, expected] },
      );
    }
  }

  /** The parameters of layer/direction `idx`, looked up by name (so they stay right after `to()`). */
  #weights(idx: number): {
    wih: Tensor;
    whh: Tensor;
    whhT: Tensor;
    bih: Tensor | undefined;
    bhh: Tensor | undefined;
    whrT: Tensor | undefined;
  } {
    const names = this.#names[idx] as string[];
    const p = (name: string): Tensor | undefined => {
      const n = names.find((s) => s.startsWith(`${name}_l`));
      return n === undefined ? undefined : this.getParameter(n);
    };
    const whr = p('weight_hr');
    const whh = p('weight_hh') as Tensor;
    return {
      wih: p('weight_ih') as Tensor,
      whh,
      whhT: whh.T,
      bih: p('bias_ih'),
      bhh: p('bias_hh'),
      whrT: whr === undefined ? undefined : whr.T,
    };
  }

  /**
   * Runs every layer over a time-major `[T, B, I]` input with time-major initial states
   * `[D*L, B, H]`. Returns the last layer's output `[T, B, D*H]` and the final states. @internal
   */
  _run(x: Tensor, h0: Tensor, c0: Tensor | undefined): [Tensor, Tensor, Tensor | undefined] {
    const D = this.numDirections;
    const T = x.shape[0] as number;
    const isLSTM = this.mode === 'LSTM';
    const hs: Tensor[] = [];
    const cs: Tensor[] = [];
    let layerInput = x;
    for (let layer = 0; layer < this.numLayers; layer++) {
      const dirOutputs: Tensor[] = [];
      for (let dir = 0; dir < D; dir++) {
        const idx = layer * D + dir;
        const { wih, whh, whhT, bih, bhh, whrT } = this.#weights(idx);
        let h = h0.select(0, idx);
        let c = c0?.select(0, idx);
        if (isLSTM && whrT === undefined) {
          // One fused op per layer and direction (the backend's kernel, or the same ops as below).
          const [out, hN, cN] = lstmLayer(
            layerInput,
            h,
            c as Tensor,
            { wih, whh, bih, bhh },
            { reverse: dir === 1 },
          );
          hs.push(hN);
          cs.push(cN);
          dirOutputs.push(out);
          continue;
        }
        const xp = project(layerInput, wih, bih);
        const outs: Tensor[] = new Array<Tensor>(T);
        for (let k = 0; k < T; k++) {
          const t = dir === 0 ? k : T - 1 - k;
          const [h1, c1] = step(this.mode, xp.select(0, t), h, c, whhT, bhh, whrT);
          h = h1;
          c = c1;
          outs[t] = h1;
        }
        hs.push(h);
        if (isLSTM) cs.push(c as Tensor);
        dirOutputs.push(T === 0 ? h.unsqueeze(0).narrow(0, 0, 0) : stack(outs, 0));
      }
      layerInput = D === 1 ? (dirOutputs[0] as Tensor) : cat(dirOutputs, -1);
      if (this.dropout > 0 && this.training && layer < this.numLayers - 1) {
        layerInput = this._dropout(layerInput);
      }
    }
    // One layer and direction (the common case): a view instead of a copy.
    const join = (l: Tensor[]): Tensor => (l.length === 1 ? (l[0] as Tensor).unsqueeze(0) : stack(l, 0));
    return [layerInput, join(hs), isLSTM ? join(cs) : undefined];
  }

  /**
   * Runs every layer over a packed batch: `data` `[N, I]` with the time-step sizes `sizes`
   * (non-increasing, `sizes[0] = B`) and initial states `[D*L, B, H]` in packed (sorted) order. At step
   * `t` only the first `sizes[t]` rows advance; a finished row keeps its last state. The reverse
   * direction walks the steps from the end, the batch growing with rows taken from the initial state.
   * Returns the last layer's packed output `[N, D*H]` and the final states (sorted order). @internal
   */
  _runPacked(
    data: Tensor,
    sizes: readonly number[],
    h0: Tensor,
    c0: Tensor | undefined,
  ): [Tensor, Tensor, Tensor | undefined] {
    const D = this.numDirections;
    const T = sizes.length;
    const isLSTM = this.mode === 'LSTM';
    const offsets: number[] = [];
    let total = 0;
    for (const bs of sizes) {
      offsets.push(total);
      total += bs;
    }
    const hs: Tensor[] = [];
    const cs: Tensor[] = [];
    let layerInput = data;
    for (let layer = 0; layer < this.numLayers; layer++) {
      const dirOutputs: Tensor[] = [];
      for (let dir = 0; dir < D; dir++) {
        const idx = layer * D + dir;
        const { wih, whhT, bih, bhh, whrT } = this.#weights(idx);
        const xp = project(layerInput, wih, bih);
        const hInit = h0.select(0, idx);
        const cInit = c0?.select(0, idx);
        const outs: Tensor[] = new Array<Tensor>(T);
        if (dir === 0) {
          let h = hInit;
          let c = cInit;
          // Rows that finished early, in time order (later chunks hold lower rows).
          const doneH: Tensor[] = [];
          const doneC: Tensor[] = [];
          let cur = h.shape[0] as number;
          for (let t = 0; t < T; t++) {
            const bs = sizes[t] as number;
            if (bs < cur) {
              doneH.push(h.narrow(0, bs, cur - bs));
              h = h.narrow(0, 0, bs);
              if (c !== undefined) {
                doneC.push(c.narrow(0, bs, cur - bs));
                c = c.narrow(0, 0, bs);
              }
              cur = bs;
            }
            const [h1, c1] = step(this.mode, xp.narrow(0, offsets[t] as number, bs), h, c, whhT, bhh, whrT);
            h = h1;
            c = c1;
            outs[t] = h1;
          }
          doneH.reverse();
          doneC.reverse();
          hs.push(doneH.length === 0 ? h : cat([h, ...doneH], 0));
          if (isLSTM) cs.push(doneC.length === 0 ? (c as Tensor) : cat([c as Tensor, ...doneC], 0));
        } else {
          let cur = T === 0 ? 0 : (sizes[T - 1] as number);
          let h = hInit.narrow(0, 0, cur);
          let c = cInit?.narrow(0, 0, cur);
          for (let t = T - 1; t >= 0; t--) {
            const bs = sizes[t] as number;
            if (bs > cur) {
              h = cat([h, hInit.narrow(0, cur, bs - cur)], 0);
              if (c !== undefined && cInit !== undefined) c = cat([c, cInit.narrow(0, cur, bs - cur)], 0);
              cur = bs;
            }
            const [h1, c1] = step(this.mode, xp.narrow(0, offsets[t] as number, bs), h, c, whhT, bhh, whrT);
            h = h1;
            c = c1;
            outs[t] = h1;
          }
          hs.push(h);
          if (isLSTM) cs.push(c as Tensor);
        }
        dirOutputs.push(cat(outs, 0));
      }
      layerInput = D === 1 ? (dirOutputs[0] as Tensor) : cat(dirOutputs, -1);
      if (this.dropout > 0 && this.training && layer < this.numLayers - 1) {
        layerInput = this._dropout(layerInput);
      }
    }
    return [layerInput, stack(hs, 0), isLSTM ? stack(cs, 0) : undefined];
  }

  /**
   * Forward over a {@link PackedSequence} (PyTorch's packed path): the initial states are put in the
   * packed order with `sortedIndices`, the final states back with `unsortedIndices`, and the output is
   * a packed sequence with the same batch sizes and indices. @internal
   */
  _forwardPacked(
    input: PackedSequence,
    h0: Tensor | undefined,
    c0: Tensor | undefined,
  ): [PackedSequence, Tensor, Tensor | undefined] {
    const op = modeOp(this.mode);
    const data = input.data;
    if (data.ndim !== 2) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: input.data must be 2-D for a PackedSequence, got ${data.ndim}-D tensor`,
        { op, shapes: [data.shape] },
      );
    }
    this._checkInput(data);
    const isLSTM = this.mode === 'LSTM';
    const B = input.batchSize;
    const hShape = this._hiddenShape(B);
    const cShape = this._hiddenShape(B, true);
    const f = { dtype: data.dtype, device: data.device };
    if (isLSTM && h0 !== undefined && c0 !== undefined && (h0.ndim !== 3 || c0.ndim !== 3)) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `For batched 3-D input, hx and cx should also be 3-D but got (${h0.ndim}-D, ${c0.ndim}-D) tensors`,
        { op: 'LSTM', shapes: [h0.shape, c0.shape] },
      );
    }
    if (h0 !== undefined) this._checkHidden(h0, hShape, true, isLSTM ? 'hidden[0]' : 'hx');
    if (c0 !== undefined) this._checkHidden(c0, cShape, true, 'hidden[1]');
    const h = h0 === undefined ? zeros(hShape, f) : applyPermutation(h0, input.sortedIndices);
    const c = isLSTM
      ? c0 === undefined
        ? zeros(cShape, f)
        : applyPermutation(c0, input.sortedIndices)
      : undefined;
    const [out, hN, cN] = this._runPacked(data, input.batchSizesList, h, c);
    return [
      input.withData(out),
      applyPermutation(hN, input.unsortedIndices),
      cN === undefined ? undefined : applyPermutation(cN, input.unsortedIndices),
    ];
  }

  /** Dispatches a tensor or packed input. @internal */
  _forwardAny(
    input: Tensor | PackedSequence,
    h0: Tensor | undefined,
    c0: Tensor | undefined,
  ): [Tensor | PackedSequence, Tensor, Tensor | undefined] {
    return input instanceof PackedSequence
      ? this._forwardPacked(input, h0, c0)
      : this._forwardImpl(input, h0, c0);
  }

  /** Inter-layer dropout (training mode). @internal */
  _dropout(x: Tensor): Tensor {
    const keep = 1 - this.dropout;
    const opts = {
      dtype: x.dtype,
      device: x.device,
      ...(this.dropoutGenerator === undefined ? {} : { generator: this.dropoutGenerator }),
    };
    const mask = noGrad(() => {
      const m = rand(x.shape, opts).lt(keep).to({ dtype: x.dtype });
      return keep === 0 ? m : m.div(keep);
    });
    return x.mul(mask);
  }

  /**
   * Shared forward: normalises layout (unbatched, batchFirst), fills zero initial states, runs the
   * layers and restores the layout. @internal
   */
  _forwardImpl(
    input: Tensor,
    h0: Tensor | undefined,
    c0: Tensor | undefined,
  ): [Tensor, Tensor, Tensor | undefined] {
    const batched = this._checkInput(input);
    const isLSTM = this.mode === 'LSTM';
    let x = batched ? (this.batchFirst ? input.transpose(0, 1) : input) : input.unsqueeze(1);
    const B = x.shape[1] as number;
    const hShape = this._hiddenShape(batched ? B : undefined);
    const cShape = this._hiddenShape(batched ? B : undefined, true);
    const f = { dtype: input.dtype, device: input.device };
    const want = batched ? 3 : 2;
    if (isLSTM && h0 !== undefined && c0 !== undefined && (h0.ndim !== want || c0.ndim !== want)) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        batched
          ? `For batched 3-D input, hx and cx should also be 3-D but got (${h0.ndim}-D, ${c0.ndim}-D) tensors`
          : `For unbatched 2-D input, hx and cx should also be 2-D but got (${h0.ndim}-D, ${c0.ndim}-D) tensors`,
        { op: 'LSTM', shapes: [h0.shape, c0.shape] },
      );
    }
    if (h0 !== undefined) this._checkHidden(h0, hShape, batched, isLSTM ? 'hidden[0]' : 'hx');
    if (c0 !== undefined) this._checkHidden(c0, cShape, batched, 'hidden[1]');
    let h = h0 ?? zeros(hShape, f);
    let c = isLSTM ? (c0 ?? zeros(cShape, f)) : undefined;
    if (!batched) {
      h = h.unsqueeze(1);
      c = c?.unsqueeze(1);
    }
    x = x.contiguous();
    let [out, hN, cN] = this._run(x, h, c);
    if (!batched) {
      out = out.squeeze(1);
      hN = hN.squeeze(1);
      cN = cN?.squeeze(1);
    } else if (this.batchFirst) {
      out = out.transpose(0, 1);
    }
    return [out, hN, cN];
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.projSize !== 0) s += `, proj_size=${this.projSize}`;
    if (this.numLayers !== 1) s += `, num_layers=${this.numLayers}`;
    if (!this.bias) s += `, bias=${pyBool(this.bias)}`;
    if (this.batchFirst) s += `, batch_first=${pyBool(this.batchFirst)}`;
    if (this.dropout !== 0) s += `, dropout=${pyFloat(this.dropout)}`;
    if (this.bidirectional) s += `, bidirectional=${pyBool(this.bidirectional)}`;
    return s;
  }
}

/**
 * Elman RNN, `h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)` (or relu), PyTorch's `nn.RNN`.
 * Returns `[output, hN]`: output `[T, B, D*H]` (`[B, T, D*H]` with `batchFirst`, `[T, D*H]`
 * unbatched), hN `[D*numLayers, B, H]`.
 *
 * @example
 * ```ts
 * const rnn = new RNN(10, 20, { numLayers: 2 });
 * const [output, hN] = rnn.call(randn([5, 3, 10]), randn([2, 3, 20]));
 * output.shape; // [5, 3, 20]
 * ```
 */
export class RNN extends RNNBase<Tensor> {
  /** `'tanh'` or `'relu'`. */
  readonly nonlinearity: RNNNonlinearity;

  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    const nl = options.nonlinearity ?? 'tanh';
    if (nl !== 'tanh' && nl !== 'relu') {
      throw new GradfolioError('INVALID_ARGUMENT', `Unknown nonlinearity '${String(nl)}'`, { op: 'RNN' });
    }
    super(nl === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', inputSize, hiddenSize, options);
    this.nonlinearity = nl;
  }

  /**
   * Runs the network over a padded batch (`[T, B, I]`, `[B, T, I]` with `batchFirst`, or unbatched
   * `[T, I]`) from the initial state `hx` (zeros when omitted).
   */
  forward(input: Tensor, hx?: Tensor): [Tensor, Tensor];
  /** Runs the network over a `PackedSequence` from the initial state `hx` (zeros when omitted); the output is packed too. */
  forward(input: PackedSequence, hx?: Tensor): [PackedSequence, Tensor];
  /** Either input form (a padded batch or a `PackedSequence`). */
  forward(input: Tensor | PackedSequence, hx?: Tensor): [Tensor | PackedSequence, Tensor];
  forward(input: Tensor | PackedSequence, hx?: Tensor): [Tensor | PackedSequence, Tensor] {
    const [out, hN] = this._forwardAny(input, hx, undefined);
    return [out, hN];
  }

  /** As `forward` for a padded batch, through `Module.call` (runs the hooks). */
  override call(input: Tensor, hx?: Tensor): [Tensor, Tensor];
  /** As `forward` for a `PackedSequence`, through `Module.call` (runs the hooks). */
  override call(input: PackedSequence, hx?: Tensor): [PackedSequence, Tensor];
  /** Either input form, through `Module.call` (runs the hooks). */
  override call(input: Tensor | PackedSequence, hx?: Tensor): [Tensor | PackedSequence, Tensor];
  override call(input: Tensor | PackedSequence, hx?: Tensor): [Tensor | PackedSequence, Tensor] {
    return hx === undefined ? super.call(input) : super.call(input, hx);
  }
}

/**
 * Long short-term memory, PyTorch's `nn.LSTM` (gates i, f, g, o; optional projection `projSize`).
 * Returns `[output, [hN, cN]]`: output `[T, B, D*Hout]` (`[B, T, D*Hout]` with `batchFirst`),
 * hN `[D*numLayers, B, Hout]`, cN `[D*numLayers, B, hiddenSize]` where `Hout` is `projSize || hiddenSize`.
 *
 * @example
 * ```ts
 * const lstm = new LSTM(8, 64, { numLayers: 2, batchFirst: true });
 * const [output, [hN, cN]] = lstm.call(randn([32, 50, 8]));
 * output.shape; // [32, 50, 64]; output[:, -1, :] equals hN[-1]
 * ```
 */
export class LSTM extends RNNBase<[Tensor, Tensor]> {
  constructor(inputSize: number, hiddenSize: number, options: LSTMOptions = {}) {
    super('LSTM', inputSize, hiddenSize, options);
  }

  /**
   * Runs the network over a padded batch (`[T, B, I]`, `[B, T, I]` with `batchFirst`, or unbatched
   * `[T, I]`) from the initial state `hx` (zeros when omitted).
   */
  forward(input: Tensor, hx?: [Tensor, Tensor]): [Tensor, [Tensor, Tensor]];
  /** Runs the network over a `PackedSequence` from the initial state `hx` (zeros when omitted); the output is packed too. */
  forward(input: PackedSequence, hx?: [Tensor, Tensor]): [PackedSequence, [Tensor, Tensor]];
  /** Either input form (a padded batch or a `PackedSequence`). */
  forward(input: Tensor | PackedSequence, hx?: [Tensor, Tensor]): [Tensor | PackedSequence, [Tensor, Tensor]];
  forward(
    input: Tensor | PackedSequence,
    hx?: [Tensor, Tensor],
  ): [Tensor | PackedSequence, [Tensor, Tensor]] {
    const [out, hN, cN] = this._forwardAny(input, hx?.[0], hx?.[1]);
    return [out, [hN, cN as Tensor]];
  }

  /** As `forward` for a padded batch, through `Module.call` (runs the hooks). */
  override call(input: Tensor, hx?: [Tensor, Tensor]): [Tensor, [Tensor, Tensor]];
  /** As `forward` for a `PackedSequence`, through `Module.call` (runs the hooks). */
  override call(input: PackedSequence, hx?: [Tensor, Tensor]): [PackedSequence, [Tensor, Tensor]];
  /** Either input form, through `Module.call` (runs the hooks). */
  override call(
    input: Tensor | PackedSequence,
    hx?: [Tensor, Tensor],
  ): [Tensor | PackedSequence, [Tensor, Tensor]];
  override call(
    input: Tensor | PackedSequence,
    hx?: [Tensor, Tensor],
  ): [Tensor | PackedSequence, [Tensor, Tensor]] {
    return hx === undefined ? super.call(input) : super.call(input, hx);
  }
}

/**
 * Gated recurrent unit, PyTorch's `nn.GRU` (gates r, z, n with
 * `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, `h' = (1 - z) * n + z * h`). Returns `[output, hN]`.
 *
 * @example
 * ```ts
 * const gru = new GRU(10, 20, { bidirectional: true });
 * const [output, hN] = gru.call(randn([5, 3, 10]));
 * output.shape; // [5, 3, 40]
 * hN.shape; // [2, 3, 20]
 * ```
 */
export class GRU extends RNNBase<Tensor> {
  constructor(inputSize: number, hiddenSize: number, options: RNNBaseOptions = {}) {
    super('GRU', inputSize, hiddenSize, options);
  }

  /**
   * Runs the network over a padded batch (`[T, B, I]`, `[B, T, I]` with `batchFirst`, or unbatched
   * `[T, I]`) from the initial state `hx` (zeros when omitted).
   */
  forward(input: Tensor, hx?: Tensor): [Tensor, Tensor];
  /** Runs the network over a `PackedSequence` from the initial state `hx` (zeros when omitted); the output is packed too. */
  forward(input: PackedSequence, hx?: Tensor): [PackedSequence, Tensor];
  /** Either input form (a padded batch or a `PackedSequence`). */
  forward(input: Tensor | PackedSequence, hx?: Tensor): [Tensor | PackedSequence, Tensor];
  forward(input: Tensor | PackedSequence, hx?: Tensor): [Tensor | PackedSequence, Tensor] {
    const [out, hN] = this._forwardAny(input, hx, undefined);
    return [out, hN];
  }

  /** As `forward` for a padded batch, through `Module.call` (runs the hooks). */
  override call(input: Tensor, hx?: Tensor): [Tensor, Tensor];
  /** As `forward` for a `PackedSequence`, through `Module.call` (runs the hooks). */
  override call(input: PackedSequence, hx?: Tensor): [PackedSequence, Tensor];
  /** Either input form, through `Module.call` (runs the hooks). */
  override call(input: Tensor | PackedSequence, hx?: Tensor): [Tensor | PackedSequence, Tensor];
  override call(input: Tensor | PackedSequence, hx?: Tensor): [Tensor | PackedSequence, Tensor] {
    return hx === undefined ? super.call(input) : super.call(input, hx);
  }
}

// ---------------------------------------------------------------------------------------------- cells

/**
 * Base of the cells (PyTorch's `nn.RNNCellBase`): parameters `weight_ih` `[G*H, I]`, `weight_hh`
 * `[G*H, H]`, `bias_ih`, `bias_hh` `[G*H]`, all initialised from U(-1/sqrt(H), 1/sqrt(H)).
 *
 * @example
 * ```ts
 * const cell: RNNCellBase<Tensor, Tensor> = new GRUCell(3, 4);
 * cell.weightIh.shape; // [12, 3]
 * ```
 */
export abstract class RNNCellBase<H, O> extends Module<[input: Tensor, hx?: H | undefined], O> {
  /** Number of expected input features. */
  readonly inputSize: number;
  /** Number of hidden features. */
  readonly hiddenSize: number;
  /** Whether the cell has biases. */
  readonly bias: boolean;
  /** `[G*hiddenSize, inputSize]` input weight. */
  weightIh: Parameter;
  /** `[G*hiddenSize, hiddenSize]` hidden weight. */
  weightHh: Parameter;
  /** `[G*hiddenSize]` input bias (undefined with `bias: false`). */
  biasIh: Parameter | undefined;
  /** `[G*hiddenSize]` hidden bias (undefined with `bias: false`). */
  biasHh: Parameter | undefined;
  readonly #op: string;

  constructor(op: string, inputSize: number, hiddenSize: number, gates: number, options: RNNCellOptions) {
    super();
    checkPositiveInt(op, 'input_size', inputSize, true);
    checkPositiveInt(op, 'hidden_size', hiddenSize);
    this.#op = op;
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.bias = options.bias ?? true;
    const f = factoryOptions(options);
    const G = gates * hiddenSize;
    this.weightIh = this.registerParameter('weight_ih', empty([G, inputSize], f));
    this.weightHh = this.registerParameter('weight_hh', empty([G, hiddenSize], f));
    this.biasIh = this.registerParameter('bias_ih', this.bias ? empty([G], f) : undefined);
    this.biasHh = this.registerParameter('bias_hh', this.bias ? empty([G], f) : undefined);
    this.resetParameters(options.generator);
  }

  /**
   * Re-draws every weight and bias from U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)).
   *
   * @example
   * ```ts
   * cell.resetParameters(new Generator().manualSeed(0));
   * ```
   */
  resetParameters(generator?: Generator): void {
    const stdv = 1 / Math.sqrt(this.hiddenSize);
    const g = generator === undefined ? {} : { generator };
    for (const p of this.parameters()) uniform_(p, -stdv, stdv, g);
  }

  /** Validates input and state shapes; returns whether the input is batched. @internal */
  _checkCell(input: Tensor, states: ReadonlyArray<[Tensor, string]>): boolean {
    const op = this.#op;
    if (input.ndim !== 1 && input.ndim !== 2) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: Expected input to be 1-D or 2-D but received ${input.ndim}-D tensor`,
        { op, shapes: [input.shape] },
      );
    }
    const last = input.shape[input.ndim - 1] as number;
    if (last !== this.inputSize) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `input has inconsistent input_size: got ${last} expected ${this.inputSize}`,
        { op, shapes: [input.shape] },
      );
    }
    const batched = input.ndim === 2;
    for (const [h, name] of states) {
      if (h.ndim !== input.ndim) {
        throw new GradfolioError(
          'SHAPE_MISMATCH',
          `${op}: Expected hidden to be ${input.ndim}-D for ${input.ndim}-D input but received ${h.ndim}-D tensor`,
          { op, shapes: [input.shape, h.shape] },
        );
      }
      if (batched && h.shape[0] !== input.shape[0]) {
        throw new GradfolioError(
          'SHAPE_MISMATCH',
          `Input batch size ${input.shape[0]} doesn't match ${name} batch size ${h.shape[0]}`,
          { op, shapes: [input.shape, h.shape] },
        );
      }
      const hs = h.shape[h.ndim - 1] as number;
      if (hs !== this.hiddenSize) {
        throw new GradfolioError(
          'SHAPE_MISMATCH',
          `${name} has inconsistent hidden_size: got ${hs}, expected ${this.hiddenSize}`,
          { op, shapes: [h.shape] },
        );
      }
    }
    return batched;
  }

  /** `x W_ih^T + b_ih` and `h W_hh^T + b_hh`. @internal */
  _gates(x: Tensor, h: Tensor): [Tensor, Tensor] {
    let gi = x.matmul(this.weightIh.T);
    let gh = h.matmul(this.weightHh.T);
    if (this.biasIh !== undefined) gi = gi.add(this.biasIh);
    if (this.biasHh !== undefined) gh = gh.add(this.biasHh);
    return [gi, gh];
  }

  /** Zero state shaped like `x`'s batch. @internal */
  _zeros(x: Tensor): Tensor {
    return zeros([x.shape[0] as number, this.hiddenSize], { dtype: x.dtype, device: x.device });
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (!this.bias) s += `, bias=${pyBool(this.bias)}`;
    return s;
  }
}

/**
 * One Elman RNN step, `h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)` (or relu), PyTorch's
 * `nn.RNNCell`. Input `[B, I]` or `[I]`; hx defaults to zeros.
 *
 * @example
 * ```ts
 * const cell = new RNNCell(10, 20);
 * const xs = randn([6, 3, 10]);
 * let h = zeros([3, 20]);
 * for (let t = 0; t < 6; t++) h = cell.call(xs.select(0, t), h);
 * ```
 */
export class RNNCell extends RNNCellBase<Tensor, Tensor> {
  /** `'tanh'` or `'relu'`. */
  readonly nonlinearity: RNNNonlinearity;

  constructor(
    inputSize: number,
    hiddenSize: number,
    options: RNNCellOptions & { nonlinearity?: RNNNonlinearity } = {},
  ) {
    const nl = options.nonlinearity ?? 'tanh';
    if (nl !== 'tanh' && nl !== 'relu') {
      throw new GradfolioError('INVALID_ARGUMENT', `Unknown nonlinearity: ${String(nl)}`, { op: 'RNNCell' });
    }
    super('RNNCell', inputSize, hiddenSize, 1, options);
    this.nonlinearity = nl;
  }

  forward(input: Tensor, hx?: Tensor): Tensor {
    const batched = this._checkCell(input, hx === undefined ? [] : [[hx, 'hidden0']]);
    const x = batched ? input : input.unsqueeze(0);
    const h = hx === undefined ? this._zeros(x) : batched ? hx : hx.unsqueeze(0);
    const [gi, gh] = this._gates(x, h);
    const pre = gi.add(gh);
    const out = this.nonlinearity === 'tanh' ? pre.tanh() : pre.relu();
    return batched ? out : out.squeeze(0);
  }

  override extraRepr(): string {
    const s = super.extraRepr();
    return this.nonlinearity === 'tanh' ? s : `${s}, nonlinearity=${this.nonlinearity}`;
  }
}

/**
 * One LSTM step, PyTorch's `nn.LSTMCell`: returns `[h', c']`; `hx` is `[h, c]` (default zeros).
 *
 * @example
 * ```ts
 * const cell = new LSTMCell(10, 20);
 * const [h1, c1] = cell.call(randn([3, 10]), [zeros([3, 20]), zeros([3, 20])]);
 * ```
 */
export class LSTMCell extends RNNCellBase<[Tensor, Tensor], [Tensor, Tensor]> {
  constructor(inputSize: number, hiddenSize: number, options: RNNCellOptions = {}) {
    super('LSTMCell', inputSize, hiddenSize, 4, options);
  }

  forward(input: Tensor, hx?: [Tensor, Tensor]): [Tensor, Tensor] {
    const batched = this._checkCell(
      input,
      hx === undefined
        ? []
        : [
            [hx[0], 'hx[0]'],
            [hx[1], 'hx[1]'],
          ],
    );
    const x = batched ? input : input.unsqueeze(0);
    const h = hx === undefined ? this._zeros(x) : batched ? hx[0] : hx[0].unsqueeze(0);
    const c = hx === undefined ? this._zeros(x) : batched ? hx[1] : hx[1].unsqueeze(0);
    // One step of the fused layer (one op, one autograd node).
    const [, h1, c1] = lstmLayer(x.unsqueeze(0), h, c, {
      wih: this.weightIh,
      whh: this.weightHh,
      bih: this.biasIh,
      bhh: this.biasHh,
    });
    return batched ? [h1, c1] : [h1.squeeze(0), c1.squeeze(0)];
  }
}

/**
 * One GRU step, PyTorch's `nn.GRUCell` (gates r, z, n; `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`).
 *
 * @example
 * ```ts
 * const cell = new GRUCell(10, 20);
 * const h1 = cell.call(randn([3, 10]), zeros([3, 20]));
 * ```
 */
export class GRUCell extends RNNCellBase<Tensor, Tensor> {
  constructor(inputSize: number, hiddenSize: number, options: RNNCellOptions = {}) {
    super('GRUCell', inputSize, hiddenSize, 3, options);
  }

  forward(input: Tensor, hx?: Tensor): Tensor {
    const batched = this._checkCell(input, hx === undefined ? [] : [[hx, 'hidden0']]);
    const x = batched ? input : input.unsqueeze(0);
    const h = hx === undefined ? this._zeros(x) : batched ? hx : hx.unsqueeze(0);
    const [gi, gh] = this._gates(x, h);
    const [ir, iz, inn] = gi.chunk(3, -1) as [Tensor, Tensor, Tensor];
    const [hr, hz, hn] = gh.chunk(3, -1) as [Tensor, Tensor, Tensor];
    const r = ir.add(hr).sigmoid();
    const z = iz.add(hz).sigmoid();
    const n = inn.add(r.mul(hn)).tanh();
    const out = n.add(z.mul(h.sub(n)));
    return batched ? out : out.squeeze(0);
  }
}
