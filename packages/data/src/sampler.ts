/**
 * Samplers with the semantics of `torch.utils.data`: they decide which indices a `DataLoader` reads,
 * and in which order. Any iterable of indices is a sampler; an optional `length` gives `DataLoader.length`.
 */

import { defaultGenerator, Generator, GradfolioError, randperm } from '@gradfolio/tensor';

/**
 * A source of indices (PyTorch's `Sampler`): any iterable, with an optional `length`. Plain arrays
 * qualify.
 *
 * @example
 * ```ts
 * const evens: Sampler = [0, 2, 4, 6];
 * ```
 */
export interface Sampler<I = number> extends Iterable<I> {
  /** Number of items one pass yields, when known. */
  readonly length?: number;
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Yields `0, 1, ..., dataSource.length - 1` (PyTorch's `SequentialSampler`).
 *
 * @example
 * ```ts
 * [...new SequentialSampler({ length: 3 })]; // [0, 1, 2]
 * ```
 */
export class SequentialSampler implements Sampler<number> {
  /** The sized source; its `length` is read at each pass. */
  readonly dataSource: {
    /** Number of samples to draw indices for. */
    readonly length: number;
  };

  constructor(dataSource: { readonly length: number }) {
    this.dataSource = dataSource;
  }

  /** Number of indices per pass. @example `sampler.length` */
  get length(): number {
    return this.dataSource.length;
  }

  /** Iterates the indices in order. @example `for (const i of sampler) {}` */
  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataSource.length;
    for (let i = 0; i < n; i++) yield i;
  }
}

/** Options of {@link RandomSampler}. */
export interface RandomSamplerOptions {
  /** Draw with replacement (default `false`). */
  replacement?: boolean;
  /** Indices per pass; defaults to `dataSource.length`. */
  numSamples?: number;
  /**
   * Source of randomness, advanced by every pass (so each epoch differs, and the same seed repeats the
   * same epochs). Without one, each pass seeds a fresh generator from the global one.
   */
  generator?: Generator;
}

/**
 * Random indices into `dataSource` (PyTorch's `RandomSampler`): a fresh permutation per pass, or
 * `numSamples` uniform draws with `replacement`. Without replacement and `numSamples > length`,
 * whole permutations are chained.
 *
 * @example
 * ```ts
 * const s = new RandomSampler(ds, { generator: new Generator(0) });
 * const epoch1 = [...s];
 * const epoch2 = [...s]; // another permutation
 * ```
 */
export class RandomSampler implements Sampler<number> {
  /** The sized source. */
  readonly dataSource: {
    /** Number of samples to draw indices for. */
    readonly length: number;
  };
  /** Whether draws are with replacement. */
  readonly replacement: boolean;
  /** The generator, when one was given. */
  readonly generator: Generator | undefined;
  readonly #numSamples: number | undefined;

  constructor(dataSource: { readonly length: number }, options: RandomSamplerOptions = {}) {
    this.dataSource = dataSource;
    const replacement = options.replacement ?? false;
    if (typeof replacement !== 'boolean') {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `RandomSampler: replacement should be a boolean value, but got replacement=${String(replacement)}`,
        { op: 'RandomSampler' },
      );
    }
    this.replacement = replacement;
    this.generator = options.generator;
    this.#numSamples = options.numSamples;
    if (!isPositiveInt(this.numSamples)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `RandomSampler: numSamples should be a positive integer value, but got numSamples=${this.numSamples}`,
        { op: 'RandomSampler' },
      );
    }
  }

  /** Indices per pass: `numSamples`, else the source's length. @example `sampler.numSamples` */
  get numSamples(): number {
    return this.#numSamples ?? this.dataSource.length;
  }

  /** Same as `numSamples`. @example `sampler.length` */
  get length(): number {
    return this.numSamples;
  }

  /** Draws one pass of indices. @example `[...sampler]` */
  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataSource.length;
    const g = this.generator ?? new Generator(defaultGenerator.nextUint32());
    const total = this.numSamples;
    if (n === 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `RandomSampler: cannot draw ${total} samples from an empty data source`,
        { op: 'RandomSampler' },
      );
    }
    if (this.replacement) {
      for (let k = 0; k < total; k++) yield g.nextInt(0, n);
      return;
    }
    let left = total;
    while (left > 0) {
      const perm = randperm(n, { generator: g, device: 'cpu' }).dataSync(); // host-side indices, whatever the default device
      const take = Math.min(left, n);
      for (let k = 0; k < take; k++) yield perm[k]!;
      left -= take;
    }
  }
}

/** Options of {@link SubsetRandomSampler}. */
export interface SubsetRandomSamplerOptions {
  /** Source of randomness, advanced by every pass. */
  generator?: Generator;
}

/**
 * The given `indices` in a fresh random order each pass, without replacement (PyTorch's
 * `SubsetRandomSampler`).
 *
 * @example
 * ```ts
 * const val = new SubsetRandomSampler([10, 11, 12, 13], { generator: new Generator(1) });
 * ```
 */
export class SubsetRandomSampler implements Sampler<number> {
  /** The indices permuted. */
  readonly indices: readonly number[];
  /** The generator, when one was given. */
  readonly generator: Generator | undefined;

  constructor(indices: Iterable<number>, options: SubsetRandomSamplerOptions = {}) {
    this.indices = [...indices];
    this.generator = options.generator;
  }

  /** Number of indices. @example `sampler.length` */
  get length(): number {
    return this.indices.length;
  }

  /** One pass in random order. @example `[...sampler]` */
  *[Symbol.iterator](): Iterator<number> {
    const n = this.indices.length;
    if (n === 0) return;
    const perm = randperm(
      n,
      this.generator === undefined ? { device: 'cpu' } : { generator: this.generator, device: 'cpu' },
    ).dataSync();
    for (let k = 0; k < n; k++) yield this.indices[perm[k]!]!;
  }
}

/**
 * Groups the indices of `sampler` into batches of `batchSize` (PyTorch's `BatchSampler`); the last,
 * shorter batch is kept unless `dropLast`.
 *
 * @example
 * ```ts
 * [...new BatchSampler(new SequentialSampler({ length: 10 }), 3, false)];
 * // [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
 * ```
 */
export class BatchSampler implements Sampler<number[]> {
  /** The sampler of single indices. */
  readonly sampler: Sampler<number>;
  /** Indices per batch. */
  readonly batchSize: number;
  /** Whether a last incomplete batch is dropped. */
  readonly dropLast: boolean;

  constructor(sampler: Sampler<number>, batchSize: number, dropLast: boolean) {
    if (typeof batchSize === 'boolean' || !isPositiveInt(batchSize)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `BatchSampler: batchSize should be a positive integer value, but got batchSize=${String(batchSize)}`,
        { op: 'BatchSampler' },
      );
    }
    if (typeof dropLast !== 'boolean') {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `BatchSampler: dropLast should be a boolean value, but got dropLast=${String(dropLast)}`,
        { op: 'BatchSampler' },
      );
    }
    this.sampler = sampler;
    this.batchSize = batchSize;
    this.dropLast = dropLast;
  }

  /**
   * Number of batches: `floor(n / batchSize)` with `dropLast`, else `ceil(n / batchSize)`; needs a
   * sampler with a `length`.
   * @example
   * ```ts
   * new BatchSampler(new SequentialSampler({ length: 93 }), 20, true).length; // 4
   * ```
   */
  get length(): number {
    const n = this.sampler.length;
    if (typeof n !== 'number') {
      throw new GradfolioError(
        'UNSUPPORTED',
        'BatchSampler.length: the sampler has no length, so the number of batches is unknown',
        { op: 'BatchSampler.length' },
      );
    }
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** One pass of batches. @example `for (const idx of batchSampler) {}` */
  *[Symbol.iterator](): Iterator<number[]> {
    let batch: number[] = [];
    for (const i of this.sampler) {
      batch.push(i);
      if (batch.length === this.batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield batch;
  }
}
