/**
 * Linear and shape layers: `Linear`, `Identity`, `Flatten`, `Unflatten`, `Dropout`.
 *
 * @module
 */

import { noGrad } from '@gradfolio/autograd';
import { type DType, empty, type Generator, GradfolioError, rand, type Tensor } from '@gradfolio/tensor';
import { pyBool, pyFloat } from './activation.js';
import { calculateFanInAndFanOut, kaimingUniform_, uniform_ } from './init.js';
import { Module, type Parameter } from './module.js';

/** Factory options of layers that own parameters. */
export interface LayerFactoryOptions {
  /** Parameter dtype (default: the default float dtype). */
  dtype?: DType;
  /** Parameter device (default: the default device). */
  device?: string;
  /** Generator for the initial values (default: the global one). */
  generator?: Generator;
}

/** @internal */
export function factoryOptions(options: LayerFactoryOptions): { dtype?: DType; device?: string } {
  const out: { dtype?: DType; device?: string } = {};
  if (options.dtype !== undefined) out.dtype = options.dtype;
  if (options.device !== undefined) out.device = options.device;
  return out;
}

/** @internal */
export function initOptions(options: LayerFactoryOptions): { generator?: Generator } {
  return options.generator === undefined ? {} : { generator: options.generator };
}

/**
 * `y = x W^T + b` over the last dimension (PyTorch's `nn.Linear`). `weight` is `[outFeatures,
 * inFeatures]`; both are initialised like PyTorch: weight by `kaimingUniform_(w, { a: sqrt(5) })`
 * (U(-1/sqrt(inFeatures), 1/sqrt(inFeatures))), bias by U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 *
 * @example
 * ```ts
 * const fc = new Linear(1, 10, { generator: new Generator().manualSeed(0) });
 * fc.call(randn([5, 1])).shape; // [5, 10]
 * new Linear(10, 1, { bias: false }).bias; // undefined
 * ```
 */
export class Linear extends Module {
  /** Size of each input sample. */
  readonly inFeatures: number;
  /** Size of each output sample. */
  readonly outFeatures: number;
  /** `[outFeatures, inFeatures]` weight. */
  weight: Parameter;
  /** `[outFeatures]` bias, or undefined with `bias: false`. */
  bias: Parameter | undefined;

  constructor(
    inFeatures: number,
    outFeatures: number,
    options: LayerFactoryOptions & { bias?: boolean } = {},
  ) {
    super();
    for (const [name, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v < 0) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `Linear: ${name} must be a non-negative integer, got ${v}`,
          {
            op: 'Linear',
          },
        );
      }
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const f = factoryOptions(options);
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures], f));
    this.bias = this.registerParameter('bias', (options.bias ?? true) ? empty([outFeatures], f) : undefined);
    this.resetParameters(options.generator);
  }

  /**
   * Re-draws weight and bias with PyTorch's default initialisation.
   *
   * @example
   * ```ts
   * fc.resetParameters(new Generator().manualSeed(1));
   * ```
   */
  resetParameters(generator?: Generator): void {
    const g = generator === undefined ? {} : { generator };
    kaimingUniform_(this.weight, { a: Math.sqrt(5), ...g });
    if (this.bias !== undefined) {
      const [fanIn] = calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      uniform_(this.bias, -bound, bound, g);
    }
  }

  forward(input: Tensor): Tensor {
    const y = input.matmul(this.weight.T);
    return this.bias === undefined ? y : y.add(this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== undefined)}`;
  }
}

/**
 * Returns its input unchanged (constructor arguments are accepted and ignored, as in PyTorch).
 *
 * @example
 * ```ts
 * new Identity().call(x) === x; // true
 * ```
 */
export class Identity extends Module {
  constructor(..._args: unknown[]) {
    super();
  }
  forward(input: Tensor): Tensor {
    return input;
  }
}

/**
 * Flattens dims `startDim..endDim` (default 1..-1, keeping the batch dim).
 *
 * @example
 * ```ts
 * new Flatten().call(zeros([32, 1, 5, 5])).shape; // [32, 25]
 * ```
 */
export class Flatten extends Module {
  /** First flattened dim. */
  readonly startDim: number;
  /** Last flattened dim. */
  readonly endDim: number;
  constructor(startDim = 1, endDim = -1) {
    super();
    this.startDim = startDim;
    this.endDim = endDim;
  }
  forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

/**
 * Splits dim `dim` into `unflattenedSize` (one entry may be -1).
 *
 * @example
 * ```ts
 * new Unflatten(1, [2, 5]).call(zeros([3, 10])).shape; // [3, 2, 5]
 * ```
 */
export class Unflatten extends Module {
  /** The dim that is split. */
  readonly dim: number;
  /** The sizes it is split into. */
  readonly unflattenedSize: readonly number[];
  constructor(dim: number, unflattenedSize: readonly number[]) {
    super();
    this.dim = dim;
    this.unflattenedSize = [...unflattenedSize];
  }
  forward(input: Tensor): Tensor {
    return input.unflatten(this.dim, this.unflattenedSize);
  }
  override extraRepr(): string {
    const s = this.unflattenedSize;
    const tuple = s.length === 1 ? `(${s[0]},)` : `(${s.join(', ')})`;
    return `dim=${this.dim}, unflattened_size=${tuple}`;
  }
}

/**
 * In training mode zeroes each element with probability `p` and scales the rest by `1/(1-p)`; in eval
 * mode it is the identity. Masks come from `generator` (seedable) or the global generator.
 *
 * @example
 * ```ts
 * const drop = new Dropout(0.5, { generator: new Generator().manualSeed(0) });
 * drop.call(ones([8])); // zeros and 2s
 * drop.eval().call(ones([8])); // ones
 * ```
 */
export class Dropout extends Module {
  /** Probability of an element to be zeroed. */
  readonly p: number;
  /** Whether the input is overwritten. */
  readonly inplace: boolean;
  /** Generator of the masks (undefined: the global generator). */
  generator: Generator | undefined;

  constructor(p = 0.5, options: { inplace?: boolean; generator?: Generator } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `dropout probability has to be between 0 and 1, but got ${p}`,
        {
          op: 'Dropout',
        },
      );
    }
    this.p = p;
    this.inplace = options.inplace ?? false;
    this.generator = options.generator;
  }

  forward(input: Tensor): Tensor {
    if (!this.training || this.p === 0) return input;
    const keep = 1 - this.p;
    const opts = {
      dtype: input.dtype,
      device: input.device,
      ...(this.generator === undefined ? {} : { generator: this.generator }),
    };
    const mask = noGrad(() => {
      const m = rand(input.shape, opts).lt(keep).to({ dtype: input.dtype });
      return keep === 0 ? m : m.div(keep);
    });
    return this.inplace ? input.mul_(mask) : input.mul(mask);
  }

  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=${pyBool(this.inplace)}`;
  }
}
