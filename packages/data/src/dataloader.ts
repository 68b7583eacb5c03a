/**
 * `DataLoader` with the semantics of `torch.utils.data.DataLoader`: batching, shuffling with a seedable
 * generator, samplers and batch samplers, collation, synchronous and `for await` iteration with
 * optional prefetch.
 */

import { type Generator, GradfolioError, type Tensor, tensor } from '@gradfolio/tensor';
import { type Collated, defaultCollate } from './collate.js';
import {
  type Dataset,
  type IterableDataset,
  isMapDataset,
  normIndex,
  Subset,
  TensorDataset,
} from './dataset.js';
import { BatchSampler, RandomSampler, type Sampler, SequentialSampler } from './sampler.js';

/** Options of {@link DataLoader} (PyTorch's keyword arguments, in camelCase). */
export interface DataLoaderOptions<T, B> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reshuffle the samples at every epoch (default `false`); uses `generator` when given. */
  shuffle?: boolean;
  /** Order of the sample indices; exclusive with `shuffle`. */
  sampler?: Sampler<number>;
  /** Yields whole batches of indices; exclusive with `batchSize`, `shuffle`, `sampler` and `dropLast`. */
  batchSampler?: Sampler<readonly number[]>;
  /** Drop the last batch when it is incomplete (default `false`). */
  dropLast?: boolean;
  /** Merges a list of samples into a batch (default {@link defaultCollate}). */
  collateFn?: (samples: T[]) => B;
  /** Generator of the shuffling `RandomSampler`; the same seed gives the same epochs. */
  generator?: Generator;
  /**
   * Batches prepared ahead by the asynchronous iterator (default 0): each is built in its own
   * macrotask, so it overlaps the consumer's `await`s. The synchronous iterator ignores it.
   */
  prefetch?: number;
}

function optionError(message: string): GradfolioError {
  return new GradfolioError('INVALID_ARGUMENT', `DataLoader: ${message}`, { op: 'DataLoader' });
}

const nextTask: () => Promise<void> =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? () => new Promise((resolve) => setImmediate(resolve))
    : () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Iterates a dataset in batches (PyTorch's `DataLoader`). Map-style datasets are read through a
 * sampler (sequential, or a `RandomSampler` with `shuffle`) grouped by a `BatchSampler`; iterable
 * datasets are read in stream order and grouped by `batchSize`. Each batch goes through `collateFn`
 * (default: {@link defaultCollate}). A `TensorDataset` (or `Subset`s of one) with the default collate is
 * batched with one `indexSelect` per tensor, with the same result as reading and stacking rows.
 *
 * @example
 * ```ts
 * const loader = new DataLoader(new TensorDataset(X, y), {
 *   batchSize: 20, shuffle: true, dropLast: true, generator: new Generator(3),
 * });
 * loader.length; // 4 for 93 samples
 * for (const [xb, yb] of loader) { ... }          // xb: [20, 7, 5], yb: [20, 1]
 * for await (const [xb, yb] of loader) { ... }    // same batches, asynchronously
 * ```
 */
export class DataLoader<T, B = Collated<T>> implements Iterable<B>, AsyncIterable<B> {
  /** The dataset read. */
  readonly dataset: Dataset<T> | IterableDataset<T>;
  /** Samples per batch, or `undefined` when a `batchSampler` decides. */
  readonly batchSize: number | undefined;
  /** Whether an incomplete last batch is dropped. */
  readonly dropLast: boolean;
  /** The index sampler (map-style datasets only). */
  readonly sampler: Sampler<number> | undefined;
  /** The batch sampler (map-style datasets only). */
  readonly batchSampler: Sampler<readonly number[]> | undefined;
  /** The shuffling generator, when given. */
  readonly generator: Generator | undefined;
  /** Batches prepared ahead by the asynchronous iterator. */
  readonly prefetch: number;
  /** The collate function. */
  readonly collateFn: (samples: T[]) => B;
  readonly #defaultCollate: boolean;

  constructor(dataset: Dataset<T> | IterableDataset<T>, options: DataLoaderOptions<T, B> = {}) {
    const batchSize = options.batchSize ?? 1;
    const shuffle = options.shuffle ?? false;
    const dropLast = options.dropLast ?? false;
    const prefetch = options.prefetch ?? 0;
    if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize <= 0) {
      throw optionError(
        `batchSize should be a positive integer value, but got batchSize=${String(batchSize)}`,
      );
    }
    if (typeof shuffle !== 'boolean') {
      throw optionError(`shuffle should be a boolean value, but got shuffle=${String(shuffle)}`);
    }
    if (typeof dropLast !== 'boolean') {
      throw optionError(`dropLast should be a boolean value, but got dropLast=${String(dropLast)}`);
    }
    if (typeof prefetch !== 'number' || !Number.isInteger(prefetch) || prefetch < 0) {
      throw optionError(`prefetch should be a non-negative integer, but got prefetch=${String(prefetch)}`);
    }
    this.dataset = dataset;
    this.dropLast = dropLast;
    this.prefetch = prefetch;
    this.generator = options.generator;
    this.#defaultCollate = options.collateFn === undefined;
    this.collateFn = options.collateFn ?? (defaultCollate as unknown as (samples: T[]) => B);

    if (!isMapDataset(dataset)) {
      if (shuffle) {
        throw optionError(
          `with IterableDataset: expected unspecified shuffle option, but got shuffle=${String(shuffle)}`,
        );
      }
      if (options.sampler !== undefined) {
        throw optionError('with IterableDataset: expected unspecified sampler option, but got a sampler');
      }
      if (options.batchSampler !== undefined) {
        throw optionError(
          'with IterableDataset: expected unspecified batchSampler option, but got a batch sampler',
        );
      }
      this.batchSize = batchSize;
      this.sampler = undefined;
      this.batchSampler = undefined;
      return;
    }
    if (options.sampler !== undefined && shuffle) {
      throw optionError('sampler option is mutually exclusive with shuffle');
    }
    if (options.batchSampler !== undefined) {
      if (batchSize !== 1 || shuffle || options.sampler !== undefined || dropLast) {
        throw optionError(
          'batchSampler option is mutually exclusive with batchSize, shuffle, sampler, and dropLast',
        );
      }
      this.batchSize = undefined;
      this.sampler = undefined;
      this.batchSampler = options.batchSampler;
      return;
    }
    const sampler =
      options.sampler ??
      (shuffle
        ? new RandomSampler(dataset, options.generator === undefined ? {} : { generator: options.generator })
        : new SequentialSampler(dataset));
    this.batchSize = batchSize;
    this.sampler = sampler;
    this.batchSampler = new BatchSampler(sampler, batchSize, dropLast);
  }

  /**
   * Number of batches per epoch: `ceil(n / batchSize)`, or `floor` with `dropLast` (the batch sampler's
   * length for map-style datasets; the dataset's `length` for iterable ones, which must have one).
   * @example
   * ```ts
   * new DataLoader(ds93, { batchSize: 20 }).length; // 5
   * ```
   */
  get length(): number {
    if (this.batchSampler !== undefined) {
      const n = this.batchSampler.length;
      if (typeof n !== 'number') {
        throw new GradfolioError(
          'UNSUPPORTED',
          'DataLoader.length: the batch sampler has no length, so the number of batches is unknown',
          { op: 'DataLoader.length' },
        );
      }
      return n;
    }
    const n = this.dataset.length;
    if (typeof n !== 'number') {
      throw new GradfolioError(
        'UNSUPPORTED',
        'DataLoader.length: the iterable dataset has no length, so the number of batches is unknown',
        { op: 'DataLoader.length' },
      );
    }
    const bs = this.batchSize!;
    return this.dropLast ? Math.floor(n / bs) : Math.ceil(n / bs);
  }

  /** Reads and collates the samples at `indices` of a map-style dataset. */
  #fetch(indices: readonly number[]): B {
    const ds = this.dataset as Dataset<T>;
    if (this.#defaultCollate && indices.length > 0) {
      const fast = gatherTensorRows(ds, indices);
      if (fast !== undefined) return fast as B;
    }
    return this.collateFn(indices.map((i) => ds.get(i)));
  }

  /**
   * One epoch of batches, synchronously. Iterable datasets must be synchronous (`Symbol.iterator`).
   * @example
   * ```ts
   * for (const [xb, yb] of loader) model.forward(xb);
   * ```
   */
  *[Symbol.iterator](): Iterator<B> {
    if (this.batchSampler !== undefined) {
      for (const indices of this.batchSampler) yield this.#fetch(indices);
      return;
    }
    const ds = this.dataset as IterableDataset<T>;
    if (typeof (ds as Partial<Iterable<T>>)[Symbol.iterator] !== 'function') {
      throw new GradfolioError(
        'UNSUPPORTED',
        'DataLoader: the dataset is only asynchronously iterable; use `for await` instead of `for`',
        { op: 'DataLoader' },
      );
    }
    const bs = this.batchSize!;
    let batch: T[] = [];
    for (const sample of ds as Iterable<T>) {
      batch.push(sample);
      if (batch.length === bs) {
        yield this.collateFn(batch);
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield this.collateFn(batch);
  }

  /** Produces batches; with prefetch, each batch is built in its own macrotask. */
  async *#produce(): AsyncGenerator<B, void, undefined> {
    const pause = this.prefetch > 0;
    if (this.batchSampler !== undefined) {
      for (const indices of this.batchSampler) {
        if (pause) await nextTask();
        yield this.#fetch(indices);
      }
      return;
    }
    const ds = this.dataset as IterableDataset<T>;
    const bs = this.batchSize!;
    let batch: T[] = [];
    const source: AsyncIterable<T> | Iterable<T> = ds;
    for await (const sample of source) {
      batch.push(sample);
      if (batch.length === bs) {
        if (pause) await nextTask();
        yield this.collateFn(batch);
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield this.collateFn(batch);
  }

  /**
   * One epoch of batches for `for await`, with up to `prefetch` batches built ahead. Reads iterable
   * datasets that are synchronous or asynchronous.
   * @example
   * ```ts
   * for await (const [xb, yb] of new DataLoader(ds, { batchSize: 32, prefetch: 2 })) await step(xb, yb);
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncIterator<B> {
    const producer = this.#produce();
    const queue: Promise<IteratorResult<B, void>>[] = [];
    const pull = (): void => {
      const p = producer.next();
      // Marks the promise handled; the rejection still reaches the consumer when it awaits `p`.
      p.catch(() => undefined);
      queue.push(p);
    };
    try {
      for (;;) {
        while (queue.length <= this.prefetch) pull();
        const r = await queue.shift()!;
        if (r.done === true) return;
        yield r.value;
      }
    } finally {
      producer.return(undefined).catch(() => undefined);
    }
  }
}

/**
 * Batches of a `TensorDataset` (through any chain of `Subset`s) with one `indexSelect` per tensor, or
 * `undefined` when `dataset` is not one.
 */
function gatherTensorRows(dataset: Dataset<unknown>, indices: readonly number[]): Tensor[] | undefined {
  let ds: Dataset<unknown> = dataset;
  let idx: number[] = [...indices];
  while (ds instanceof Subset) {
    const sub: Subset<unknown> = ds;
    idx = idx.map((i) => sub.indices[normIndex('Subset.get', i, sub.indices.length)]!);
    ds = sub.dataset;
  }
  if (!(ds instanceof TensorDataset)) return undefined;
  const n = ds.length;
  const rows = Int32Array.from(idx, (i) => normIndex('TensorDataset.get', i, n));
  return ds.tensors.map((t: Tensor) => t.indexSelect(0, tensor(rows, { device: t.device })));
}
