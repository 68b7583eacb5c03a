/**
 * Activation modules (PyTorch's `torch.nn.ReLU`, `Sigmoid`, ...). Each wraps the tensor op of the same
 * name and prints PyTorch's repr.
 *
 * @module
 */

import { elu, leakyRelu, type Tensor } from '@gradfolio/tensor';
import { Module } from './module.js';

/**
 * Formats a number the way Python's `str(float)` does in reprs (`1` -> `'1.0'`, `0.01` -> `'0.01'`).
 * @internal
 */
export function pyFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return String(x);
}

/**
 * Python's `True`/`False` for reprs.
 * @internal
 */
export function pyBool(b: boolean): string {
  return b ? 'True' : 'False';
}

/** Options of activations that can work in place. */
export interface InplaceOptions {
  /** Overwrite the input instead of allocating (PyTorch's `inplace=True`). Default false. */
  inplace?: boolean;
}

/**
 * `max(x, 0)` elementwise.
 *
 * @example
 * ```ts
 * new ReLU().call(tensor([-1, 2])); // tensor([0., 2.])
 * ```
 */
export class ReLU extends Module {
  /** Whether the input is overwritten. */
  readonly inplace: boolean;
  constructor(options: InplaceOptions = {}) {
    super();
    this.inplace = options.inplace ?? false;
  }
  forward(input: Tensor): Tensor {
    return this.inplace ? input.relu_() : input.relu();
  }
  override extraRepr(): string {
    return this.inplace ? 'inplace=True' : '';
  }
}

/**
 * `x` for `x >= 0`, `negativeSlope * x` otherwise.
 *
 * @example
 * ```ts
 * new LeakyReLU(0.2).call(tensor([-1, 2])); // tensor([-0.2000, 2.0000])
 * ```
 */
export class LeakyReLU extends Module {
  /** Slope for negative inputs. */
  readonly negativeSlope: number;
  constructor(negativeSlope = 0.01) {
    super();
    this.negativeSlope = negativeSlope;
  }
  forward(input: Tensor): Tensor {
    return leakyRelu(input, this.negativeSlope);
  }
  override extraRepr(): string {
    return `negative_slope=${pyFloat(this.negativeSlope)}`;
  }
}

/**
 * `x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise.
 *
 * @example
 * ```ts
 * new ELU().call(tensor([-1, 2]));
 * ```
 */
export class ELU extends Module {
  /** Scale of the negative branch. */
  readonly alpha: number;
  constructor(alpha = 1) {
    super();
    this.alpha = alpha;
  }
  forward(input: Tensor): Tensor {
    return elu(input, this.alpha);
  }
  override extraRepr(): string {
    return `alpha=${pyFloat(this.alpha)}`;
  }
}

/**
 * Gaussian error linear unit, exact (`'none'`) or with the tanh approximation.
 *
 * @example
 * ```ts
 * new GELU({ approximate: 'tanh' }).call(randn([3]));
 * ```
 */
export class GELU extends Module {
  /** `'none'` (exact, erf-based) or `'tanh'`. */
  readonly approximate: 'none' | 'tanh';
  constructor(options: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    this.approximate = options.approximate ?? 'none';
  }
  forward(input: Tensor): Tensor {
    return input.gelu({ approximate: this.approximate });
  }
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/**
 * `x * sigmoid(x)` (a.k.a. swish), composed from `mul` and `sigmoid`.
 *
 * @example
 * ```ts
 * new SiLU().call(randn([3]));
 * ```
 */
export class SiLU extends Module {
  forward(input: Tensor): Tensor {
    return input.mul(input.sigmoid());
  }
}

/**
 * `1 / (1 + exp(-x))`.
 *
 * @example
 * ```ts
 * new Sigmoid().call(tensor([0])); // tensor([0.5000])
 * ```
 */
export class Sigmoid extends Module {
  forward(input: Tensor): Tensor {
    return input.sigmoid();
  }
}

/**
 * Hyperbolic tangent.
 *
 * @example
 * ```ts
 * new Tanh().call(tensor([0])); // tensor([0.])
 * ```
 */
export class Tanh extends Module {
  forward(input: Tensor): Tensor {
    return input.tanh();
  }
}

/**
 * `log(1 + exp(beta * x)) / beta`, linear above `threshold` (in units of `beta * x`).
 *
 * @example
 * ```ts
 * new Softplus({ beta: 2 }).call(randn([3]));
 * ```
 */
export class Softplus extends Module {
  /** Sharpness. */
  readonly beta: number;
  /** Above `beta * x > threshold` the output is `x`. */
  readonly threshold: number;
  constructor(options: { beta?: number; threshold?: number } = {}) {
    super();
    this.beta = options.beta ?? 1;
    this.threshold = options.threshold ?? 20;
  }
  forward(input: Tensor): Tensor {
    return input.softplus({ beta: this.beta, threshold: this.threshold });
  }
  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

/**
 * Softmax along `dim` (required: PyTorch's implicit dim is deprecated).
 *
 * @example
 * ```ts
 * new Softmax(1).call(randn([2, 3])).sum(1); // ones
 * ```
 */
export class Softmax extends Module {
  /** The dimension that sums to one. */
  readonly dim: number;
  constructor(dim: number) {
    super();
    this.dim = dim;
  }
  forward(input: Tensor): Tensor {
    return input.softmax(this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/**
 * Log of the softmax along `dim`, computed stably.
 *
 * @example
 * ```ts
 * new LogSoftmax(1).call(randn([2, 3]));
 * ```
 */
export class LogSoftmax extends Module {
  /** The reduced dimension. */
  readonly dim: number;
  constructor(dim: number) {
    super();
    this.dim = dim;
  }
  forward(input: Tensor): Tensor {
    return input.logSoftmax(this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
