/**
 * `Conv1d` and its functional form `conv1d` (PyTorch's `nn.Conv1d` / `F.conv1d`), computed by
 * unfolding the input with strided views (one per kernel tap) and one batched matmul per group.
 *
 * @packageDocumentation
 */

import {
  empty,
  type Generator,
  GradfolioError,
  matmul,
  pad,
  slice,
  stack,
  type Tensor,
} from '@gradfolio/tensor';
import { kaimingUniform_, uniform_ } from './init.js';
import { factoryOptions, type LayerFactoryOptions } from './linear.js';
import { Module } from './module.js';

/** Padding of a convolution: zeros on each side, or `'same'` / `'valid'` as in PyTorch. */
export type ConvPadding = number | 'same' | 'valid';

/** Options of {@link conv1d}. */
export interface Conv1dFunctionalOptions {
  /** Stride of the sliding window (default 1). */
  stride?: number;
  /** Implicit zero padding on both sides, or `'same'` / `'valid'` (default 0). */
  padding?: ConvPadding;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
  /** Channel groups: `inChannels` and `outChannels` must both be divisible by it (default 1). */
  groups?: number;
}

function positiveInt(op: string, name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: ${name} must be an integer >= ${min}, got ${v}`, {
      op,
      [name]: v,
    });
  }
  return v;
}

/**
 * Left and right padding of a 1-D convolution; `'same'` puts the odd element on the right, as
 * PyTorch does.
 * @internal
 */
export function _convPads(
  op: string,
  padding: ConvPadding,
  kernelSize: number,
  dilation: number,
  stride: number,
): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (padding === 'same') {
    if (stride !== 1) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${op}: padding='same' is not supported for strided convolutions`,
        {
          op,
        },
      );
    }
    const total = dilation * (kernelSize - 1);
    const left = Math.floor(total / 2);
    return [left, total - left];
  }
  if (typeof padding !== 'number' || !Number.isInteger(padding) || padding < 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: padding must be a non-negative integer, 'same' or 'valid', got ${String(padding)}`,
      { op },
    );
  }
  return [padding, padding];
}

/**
 * 1-D convolution (cross-correlation, like PyTorch's `F.conv1d`) of `input` (`[N, Cin, L]`, or
 * unbatched `[Cin, L]`) with `weight` (`[Cout, Cin / groups, K]`) plus the optional `bias` (`[Cout]`).
 * Output length: `floor((L + padL + padR - dilation * (K - 1) - 1) / stride) + 1`.
 *
 * @example
 * ```ts
 * const y = conv1d(randn([2, 4, 10]), randn([6, 2, 3]), undefined, { padding: 'same', groups: 2 });
 * ```
 */
export function conv1d(
  input: Tensor,
  weight: Tensor,
  bias?: Tensor,
  options: Conv1dFunctionalOptions = {},
): Tensor {
  const op = 'conv1d';
  const stride = positiveInt(op, 'stride', options.stride ?? 1);
  const dilation = positiveInt(op, 'dilation', options.dilation ?? 1);
  const groups = positiveInt(op, 'groups', options.groups ?? 1);
  if (input.ndim !== 2 && input.ndim !== 3) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `conv1d: expected a 2-D (unbatched) or 3-D (batched) input, got [${input.shape.join(', ')}]`,
      { op, shapes: [input.shape] },
    );
  }
  if (input.ndim === 2) return conv1d(input.unsqueeze(0), weight, bias, options).squeeze(0);
  if (weight.ndim !== 3) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `conv1d: expected a 3-D weight [Cout, Cin / groups, K], got [${weight.shape.join(', ')}]`,
      { op, shapes: [input.shape, weight.shape] },
    );
  }
  const [n, cin, length] = input.shape as [number, number, number];
  const [cout, cinG, k] = weight.shape as [number, number, number];
  if (cout % groups !== 0 || cinG * groups !== cin) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `conv1d: weight [${weight.shape.join(', ')}] with groups=${groups} does not fit an input with ${cin} channels`,
      { op, shapes: [input.shape, weight.shape] },
    );
  }
  if (bias !== undefined && (bias.ndim !== 1 || bias.shape[0] !== cout)) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `conv1d: bias must have shape [${cout}], got [${bias.shape.join(', ')}]`,
      {
        op,
        shapes: [weight.shape, bias.shape],
      },
    );
  }
  const [left, right] = _convPads(op, options.padding ?? 0, k, dilation, stride);
  const x = left === 0 && right === 0 ? input : pad(input, [left, right]);
  const padded = length + left + right;
  const lout = Math.floor((padded - dilation * (k - 1) - 1) / stride) + 1;
  if (lout < 1) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `conv1d: the padded input length (${padded}) is smaller than the dilated kernel (${dilation * (k - 1) + 1})`,
      { op, shapes: [input.shape, weight.shape] },
    );
  }
  // cols[n, c, j, t] = x[n, c, j * dilation + t * stride]
  const taps: Tensor[] = [];
  for (let j = 0; j < k; j++) {
    const start = j * dilation;
    taps.push(x.index(':', ':', slice(start, start + stride * (lout - 1) + 1, stride)));
  }
  const cols = stack(taps, 2).reshape([n, groups, cinG * k, lout]);
  const w = weight.reshape([groups, cout / groups, cinG * k]);
  let out = matmul(w, cols).reshape([n, cout, lout]);
  if (bias !== undefined) out = out.add(bias.reshape([cout, 1]));
  return out;
}

/** How {@link Conv1d} pads: with zeros, or by reflecting, replicating or wrapping the input. */
export type ConvPaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';

/** Options of {@link Conv1d}. */
export interface Conv1dOptions extends LayerFactoryOptions {
  /** Stride of the sliding window (default 1). */
  stride?: number;
  /** Padding on both sides, or `'same'` / `'valid'` (default 0). */
  padding?: ConvPadding;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
  /** Channel groups (default 1). */
  groups?: number;
  /** Learnable `bias` (default true). */
  bias?: boolean;
  /** How the padding is filled (default `'zeros'`). */
  paddingMode?: ConvPaddingMode;
}

/**
 * 1-D convolution layer (PyTorch's `nn.Conv1d`), see {@link conv1d}. Parameters: `weight`
 * `[outChannels, inChannels / groups, kernelSize]` and `bias` `[outChannels]`, both initialised like
 * PyTorch (`kaiming_uniform_(a = sqrt(5))`, i.e. U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with
 * `fanIn = inChannels / groups * kernelSize`, for both).
 *
 * @example
 * ```ts
 * const conv = new Conv1d(4, 8, 3, { padding: 'same' });
 * const y = conv.call(randn([2, 4, 16])); // [2, 8, 16]
 * ```
 */
export class Conv1d extends Module {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Kernel size. */
  readonly kernelSize: number;
  /** Stride. */
  readonly stride: number;
  /** Padding. */
  readonly padding: ConvPadding;
  /** Dilation. */
  readonly dilation: number;
  /** Groups. */
  readonly groups: number;
  /** Padding mode. */
  readonly paddingMode: ConvPaddingMode;
  /** `[outChannels, inChannels / groups, kernelSize]`. */
  weight: Tensor;
  /** `[outChannels]`, or `undefined` with `bias: false`. */
  bias: Tensor | undefined;

  constructor(inChannels: number, outChannels: number, kernelSize: number, options: Conv1dOptions = {}) {
    super();
    const op = 'Conv1d';
    this.inChannels = positiveInt(op, 'inChannels', inChannels);
    this.outChannels = positiveInt(op, 'outChannels', outChannels);
    this.kernelSize = positiveInt(op, 'kernelSize', kernelSize);
    this.stride = positiveInt(op, 'stride', options.stride ?? 1);
    this.dilation = positiveInt(op, 'dilation', options.dilation ?? 1);
    this.groups = positiveInt(op, 'groups', options.groups ?? 1);
    this.padding = options.padding ?? 0;
    this.paddingMode = options.paddingMode ?? 'zeros';
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `Conv1d: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${this.groups})`,
        { op },
      );
    }
    if (!['zeros', 'reflect', 'replicate', 'circular'].includes(this.paddingMode)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `Conv1d: unknown paddingMode '${String(this.paddingMode)}'`,
        { op },
      );
    }
    _convPads(op, this.padding, this.kernelSize, this.dilation, this.stride);
    const f = factoryOptions(options);
    this.weight = this.registerParameter(
      'weight',
      empty([outChannels, inChannels / this.groups, kernelSize], f),
    );
    this.bias = this.registerParameter('bias', options.bias === false ? undefined : empty([outChannels], f));
    this.resetParameters(options.generator);
  }

  /**
   * Redraws `weight` and `bias` with PyTorch's default initialisation.
   *
   * @example
   * ```ts
   * conv.resetParameters(new Generator().manualSeed(0));
   * ```
   */
  resetParameters(generator?: Generator): void {
    const g = generator === undefined ? {} : { generator };
    kaimingUniform_(this.weight, { a: Math.sqrt(5), ...g });
    if (this.bias !== undefined) {
      const bound = 1 / Math.sqrt((this.inChannels / this.groups) * this.kernelSize);
      uniform_(this.bias, -bound, bound, g);
    }
  }

  /**
   * Convolves `input` (`[N, inChannels, L]` or `[inChannels, L]`).
   *
   * @example
   * ```ts
   * new Conv1d(2, 3, 3).forward(randn([1, 2, 8])); // [1, 3, 6]
   * ```
   */
  forward(input: Tensor): Tensor {
    const opts = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    if (this.paddingMode === 'zeros')
      return conv1d(input, this.weight, this.bias, { ...opts, padding: this.padding });
    const [left, right] = _convPads('Conv1d', this.padding, this.kernelSize, this.dilation, this.stride);
    const padded = pad(input, [left, right], { mode: this.paddingMode });
    return conv1d(padded, this.weight, this.bias, { ...opts, padding: 0 });
  }

  /**
   * PyTorch's repr fields.
   *
   * @example
   * ```ts
   * new Conv1d(4, 6, 3, { padding: 1 }).extraRepr(); // '4, 6, kernel_size=(3,), stride=(1,), padding=(1,)'
   * ```
   */
  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=(${this.kernelSize},), stride=(${this.stride},)`;
    if (typeof this.padding === 'string') s += `, padding=${this.padding}`;
    else if (this.padding !== 0) s += `, padding=(${this.padding},)`;
    if (this.dilation !== 1) s += `, dilation=(${this.dilation},)`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === undefined) s += ', bias=False';
    if (this.paddingMode !== 'zeros') s += `, padding_mode=${this.paddingMode}`;
    return s;
  }
}
