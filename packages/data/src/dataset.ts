/**
 * Datasets with the semantics of `torch.utils.data`: the map-style contract (`length` and `get(i)`),
 * iterable datasets, `TensorDataset`, `Subset`, `ConcatDataset` and `randomSplit`.
 */

import { type Generator, GradfolioError, randperm, type Tensor } from '@gradfolio/tensor';

/**
 * A map-style dataset (PyTorch's `Dataset` with `__len__` and `__getitem__`): `length` samples, read
 * one at a time with `get(i)`. Any object with these two members is a dataset; no base class is needed.
 *
 * @example
 * ```ts
 * const squares: Dataset<[number, number]> = { length: 10, get: (i) => [i, i * i] };
 * ```
 */
export interface Dataset<T> {
  /** Number of samples. */
  readonly length: number;
  /** The sample at `index` (`0 <= index < length`; negative indices count from the end where supported). */
  get(index: number): T;
}

/**
 * An iterable-style dataset (PyTorch's `IterableDataset`): a stream of samples, synchronous or
 * asynchronous, with an optional `length` (used by `DataLoader.length`).
 *
 * @example
 * ```ts
 * const stream: IterableDataset<number> = { *[Symbol.iterator]() { for (let i = 0; i < 5; i++) yield i; } };
 * ```
 */
export type IterableDataset<T> = (Iterable<T> | AsyncIterable<T>) & {
  /** Number of samples, when known (gives `DataLoader.length`). */
  readonly length?: number;
};

/**
 * True when `value` is a map-style dataset (a numeric `length` and a `get` method).
 *
 * @example
 * ```ts
 * isMapDataset({ length: 2, get: (i: number) => i }); // true
 * isMapDataset([1, 2, 3]); // false: arrays have no get
 * ```
 */
export function isMapDataset<T>(value: Dataset<T> | IterableDataset<T>): value is Dataset<T> {
  const v = value as Partial<Dataset<T>>;
  return typeof v.get === 'function' && typeof v.length === 'number';
}

/**
 * Checks `index` is an integer in `[-length, length)` and returns it as a non-negative index.
 * @internal
 */
export function normIndex(op: string, index: number, length: number): number {
  if (!Number.isInteger(index)) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: index must be an integer, got ${index}`, { op });
  }
  if (index < -length || index >= length) {
    throw new GradfolioError(
      'INDEX_OUT_OF_RANGE',
      `${op}: index ${index} is out of range for a dataset of length ${length}`,
      { op, index, length },
    );
  }
  return index < 0 ? index + length : index;
}

/**
 * A dataset wrapping tensors that share their first dimension: sample `i` is the array of the `i`-th
 * rows (`[X[i], y[i]]`), like PyTorch's `TensorDataset`. The `DataLoader` batches it with one
 * `indexSelect` per tensor instead of reading and stacking rows.
 *
 * @example
 * ```ts
 * const ds = new TensorDataset(randn([93, 7, 5]), randn([93, 1]));
 * const [x, y] = ds.get(0); // shapes [7, 5] and [1]
 * ```
 */
export class TensorDataset<T extends Tensor[] = Tensor[]> implements Dataset<T> {
  /** The wrapped tensors, in constructor order. */
  readonly tensors: Readonly<T>;

  constructor(...tensors: T) {
    if (tensors.length === 0) {
      throw new GradfolioError('INVALID_ARGUMENT', 'TensorDataset: expected at least one tensor, got none', {
        op: 'TensorDataset',
      });
    }
    for (const [k, t] of tensors.entries()) {
      if (t.ndim === 0) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `TensorDataset: tensor ${k} is 0-dimensional; every tensor needs a first dimension to index`,
          { op: 'TensorDataset' },
        );
      }
    }
    const n = tensors[0]!.shape[0]!;
    if (tensors.some((t) => t.shape[0] !== n)) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `TensorDataset: Size mismatch between tensors: first dimensions are ${tensors.map((t) => t.shape[0]).join(', ')}`,
        { op: 'TensorDataset', shapes: tensors.map((t) => t.shape) },
      );
    }
    this.tensors = tensors;
  }

  /** Number of samples: the shared first dimension. @example `new TensorDataset(x).length` */
  get length(): number {
    return this.tensors[0]!.shape[0]!;
  }

  /**
   * The `index`-th row of every tensor (views, no copy). Negative indices count from the end.
   * @example
   * ```ts
   * const [x, y] = ds.get(-1);
   * ```
   */
  get(index: number): T {
    const i = normIndex('TensorDataset.get', index, this.length);
    return this.tensors.map((t) => t.select(0, i)) as T;
  }
}

/**
 * The samples of `dataset` at `indices`, in that order (PyTorch's `Subset`).
 *
 * @example
 * ```ts
 * const firstTen = new Subset(ds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * firstTen.get(3); // ds.get(3)
 * ```
 */
export class Subset<T> implements Dataset<T> {
  /** The dataset sampled from. */
  readonly dataset: Dataset<T>;
  /** Indices into `dataset`. */
  readonly indices: readonly number[];

  constructor(dataset: Dataset<T>, indices: readonly number[]) {
    this.dataset = dataset;
    this.indices = [...indices];
  }

  /** Number of indices. @example `subset.length` */
  get length(): number {
    return this.indices.length;
  }

  /**
   * `dataset.get(indices[index])`; negative `index` counts from the end.
   * @example
   * ```ts
   * subset.get(0);
   * ```
   */
  get(index: number): T {
    return this.dataset.get(this.indices[normIndex('Subset.get', index, this.indices.length)]!);
  }
}

/**
 * Map-style datasets chained end to end (PyTorch's `ConcatDataset`).
 *
 * @example
 * ```ts
 * const all = new ConcatDataset([train, extra]);
 * all.length; // train.length + extra.length
 * ```
 */
export class ConcatDataset<T> implements Dataset<T> {
  /** The datasets, in order. */
  readonly datasets: readonly Dataset<T>[];
  /** Running totals of the lengths: `cumulativeSizes[k]` samples come from datasets `0..k`. */
  readonly cumulativeSizes: readonly number[];

  constructor(datasets: Iterable<Dataset<T>>) {
    const list = [...datasets];
    if (list.length === 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        'ConcatDataset: datasets should not be an empty iterable',
        {
          op: 'ConcatDataset',
        },
      );
    }
    for (const [k, d] of list.entries()) {
      if (!isMapDataset(d as Dataset<T> | IterableDataset<T>)) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `ConcatDataset: does not support IterableDataset (dataset ${k} has no length and get)`,
          { op: 'ConcatDataset' },
        );
      }
    }
    const sizes: number[] = [];
    let total = 0;
    for (const d of list) {
      total += d.length;
      sizes.push(total);
    }
    this.datasets = list;
    this.cumulativeSizes = sizes;
  }

  /** Total number of samples. @example `concat.length` */
  get length(): number {
    return this.cumulativeSizes[this.cumulativeSizes.length - 1]!;
  }

  /**
   * The sample at `index` of the concatenation; negative `index` counts from the end.
   * @example
   * ```ts
   * concat.get(-1); // last sample of the last dataset
   * ```
   */
  get(index: number): T {
    const n = this.length;
    if (Number.isInteger(index) && index < 0 && -index > n) {
      throw new GradfolioError(
        'INDEX_OUT_OF_RANGE',
        `ConcatDataset.get: absolute value of index should not exceed dataset length (index ${index}, length ${n})`,
        { op: 'ConcatDataset.get', index, length: n },
      );
    }
    const i = normIndex('ConcatDataset.get', index, n);
    // First dataset whose running total exceeds i (bisect right).
    let lo = 0;
    let hi = this.cumulativeSizes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulativeSizes[mid]! <= i) lo = mid + 1;
      else hi = mid;
    }
    const start = lo === 0 ? 0 : this.cumulativeSizes[lo - 1]!;
    return this.datasets[lo]!.get(i - start);
  }
}

/** Options of {@link randomSplit}. */
export interface RandomSplitOptions {
  /** Source of the permutation; defaults to the global generator (`manualSeed` makes it reproducible). */
  generator?: Generator;
}

/**
 * Splits `dataset` at random into non-overlapping `Subset`s (PyTorch's `random_split`). `lengths` are
 * either sizes summing to `dataset.length`, or fractions summing to 1: each split then gets
 * `floor(fraction * length)` samples and the remainder is handed out one at a time, round robin from
 * the first split (PyTorch >= 1.13).
 *
 * @example
 * ```ts
 * const [train, val] = randomSplit(ds, [0.8, 0.2], { generator: new Generator(42) });
 * const [a, b] = randomSplit(ds, [60, 33]);
 * ```
 */
export function randomSplit<T>(
  dataset: Dataset<T>,
  lengths: readonly number[],
  options: RandomSplitOptions = {},
): Subset<T>[] {
  const op = 'randomSplit';
  const n = dataset.length;
  let sizes = [...lengths];
  for (const [i, v] of sizes.entries()) {
    if (!Number.isFinite(v)) {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: length at index ${i} is not finite, got ${v}`, {
        op,
      });
    }
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  // Python's math.isclose(total, 1) with the default rel_tol of 1e-9.
  const closeToOne = Math.abs(total - 1) <= 1e-9 * Math.max(Math.abs(total), 1);
  if (closeToOne && total <= 1) {
    sizes = sizes.map((frac, i) => {
      if (frac < 0 || frac > 1) {
        throw new GradfolioError('INVALID_ARGUMENT', `${op}: Fraction at index ${i} is not between 0 and 1`, {
          op,
          index: i,
          value: frac,
        });
      }
      return Math.floor(n * frac);
    });
    const remainder = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) sizes[i % sizes.length]! += 1;
  } else {
    for (const [i, v] of sizes.entries()) {
      if (!Number.isInteger(v) || v < 0) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `${op}: lengths must be non-negative integers or fractions summing to 1; length at index ${i} is ${v}`,
          { op, index: i, value: v },
        );
      }
    }
  }
  const sum = sizes.reduce((a, b) => a + b, 0);
  if (sum !== n) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: Sum of input lengths does not equal the length of the input dataset! (lengths [${sizes.join(', ')}] sum to ${sum}, dataset length is ${n})`,
      { op, lengths: sizes, length: n },
    );
  }
  const perm =
    n === 0
      ? []
      : Array.from(
          randperm(
            n,
            options.generator === undefined
              ? { device: 'cpu' }
              : { generator: options.generator, device: 'cpu' },
          ).dataSync(),
        );
  const out: Subset<T>[] = [];
  let offset = 0;
  for (const size of sizes) {
    out.push(new Subset(dataset, perm.slice(offset, offset + size)));
    offset += size;
  }
  return out;
}
