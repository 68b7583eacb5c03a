/**
 * Chronological (unshuffled) train / validation / test splits by fraction.
 */

import { GradfolioError, narrow, type Tensor } from '@gradfolio/tensor';

/** Fractions of {@link chronologicalSplit}; each in `[0, 1]`, summing to at most 1. @example `{ train: 0.8, validation: 0.1 }` */
export interface SplitFractions {
  /** Fraction of rows for training (the first rows). */
  train: number;
  /** Fraction for validation (the rows after training). Default 0. */
  validation?: number;
  /** Fraction for testing (the last rows). Default: everything left, `1 - train - validation`. */
  test?: number;
}

/** A half-open range of rows `[start, stop)`. @example `{ start: 6183, stop: 6509, size: 326 }` */
export interface RowRange {
  /** First row. */
  start: number;
  /** One past the last row. */
  stop: number;
  /** `stop - start`. */
  size: number;
}

/** Row ranges of a chronological split. @example `chronologicalSplit(6509, { train: 0.95 }).train.size // 6183` */
export interface SplitRanges {
  /** Training rows. */
  train: RowRange;
  /** Validation rows (size 0 without a validation fraction). */
  validation: RowRange;
  /** Test rows. */
  test: RowRange;
}

/** A chronological split of one tensor: views along dim 0 plus the ranges. @example `const { train, test } = chronologicalSplit(x, { train: 0.95 })` */
export interface TensorSplit {
  /** The row ranges. */
  ranges: SplitRanges;
  /** View of the training rows. */
  train: Tensor;
  /** View of the validation rows (0 rows without a validation fraction). */
  validation: Tensor;
  /** View of the test rows. */
  test: Tensor;
}

/** A chronological split of several tensors with the same number of rows (e.g. `[X, y]`). @example `const [Xtr, ytr] = chronologicalSplit([X, y], { train: 0.95 }).train` */
export interface TensorsSplit {
  /** The row ranges. */
  ranges: SplitRanges;
  /** Views of each tensor's training rows, in argument order. */
  train: Tensor[];
  /** Views of each tensor's validation rows. */
  validation: Tensor[];
  /** Views of each tensor's test rows. */
  test: Tensor[];
}

const OP = 'chronologicalSplit';
const TOL = 1e-9;

function checkFraction(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new GradfolioError('INVALID_ARGUMENT', `${OP}: ${name} fraction must be in [0, 1], got ${value}`, {
      op: OP,
      [name]: value,
    });
  }
}

/** The row ranges for `n` rows (see {@link chronologicalSplit} for the rounding). */
function ranges(n: number, fractions: SplitFractions): SplitRanges {
  if (!Number.isInteger(n) || n < 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${OP}: the number of rows must be an integer >= 0, got ${n}`,
      {
        op: OP,
      },
    );
  }
  const { train } = fractions;
  const validation = fractions.validation ?? 0;
  checkFraction('train', train);
  checkFraction('validation', validation);
  if (fractions.test !== undefined) checkFraction('test', fractions.test);
  const total = train + validation + (fractions.test ?? 0);
  if (total > 1 + TOL) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${OP}: fractions sum to ${total} (train ${train}, validation ${validation}, test ${fractions.test ?? 0}); they must sum to at most 1`,
      { op: OP },
    );
  }
  const nTrain = Math.floor(n * train);
  const nVal = Math.floor(n * validation);
  const rest = n - nTrain - nVal;
  const nTest =
    fractions.test === undefined || Math.abs(total - 1) <= TOL
      ? rest
      : Math.min(rest, Math.floor(n * fractions.test));
  const range = (start: number, size: number): RowRange => ({ start, stop: start + size, size });
  return {
    train: range(0, nTrain),
    validation: range(nTrain, nVal),
    test: range(nTrain + nVal, nTest),
  };
}

/**
 * Splits rows in time order (no shuffling): the first rows train, the next validate, the last test.
 *
 * Rounding follows seed 000's `split_index = int(len(X) * 0.95)`: the train and validation sizes are
 * `floor(n * fraction)` (plain floating-point product, as Python's `int()`), and the test part takes every
 * remaining row when `test` is omitted or the fractions sum to 1; an explicit `test` with fractions
 * summing to less than 1 gets `floor(n * test)` rows and the trailing rows are left out. So 6509 rows at
 * `{ train: 0.95 }` give 6183 / 326. (PyTorch's `random_split` with fractions instead hands the rounding
 * remainder out round-robin from the first split, which would give 6184 / 325, and it shuffles.)
 *
 * Given a number, returns the row ranges; given a tensor, also narrow views of it along dim 0
 * (`train`, `validation`, `test`, plus `ranges`); given an array of tensors with the same number of rows
 * (e.g. `[X, y]`), views of each.
 *
 * @example
 * ```ts
 * chronologicalSplit(6509, { train: 0.95 }).test.size;   // 326
 * const { train, test } = chronologicalSplit([X, y], { train: 0.95 });
 * const [Xtrain, ytrain] = train;
 * ```
 */
export function chronologicalSplit(n: number, fractions: SplitFractions): SplitRanges;
export function chronologicalSplit(x: Tensor, fractions: SplitFractions): TensorSplit;
export function chronologicalSplit(xs: readonly Tensor[], fractions: SplitFractions): TensorsSplit;
export function chronologicalSplit(
  x: number | Tensor | readonly Tensor[],
  fractions: SplitFractions,
): SplitRanges | TensorSplit | TensorsSplit {
  if (typeof x === 'number') return ranges(x, fractions);
  const list: readonly Tensor[] = Array.isArray(x) ? x : [x as Tensor];
  if (list.length === 0) {
    throw new GradfolioError('INVALID_ARGUMENT', `${OP}: expected at least one tensor`, { op: OP });
  }
  for (const t of list) {
    if (t.ndim === 0) {
      throw new GradfolioError('SHAPE_MISMATCH', `${OP}: cannot split a 0-dim tensor along its rows`, {
        op: OP,
        shapes: [t.shape],
      });
    }
  }
  const rows = list[0]!.shape[0]!;
  const other = list.find((t) => t.shape[0] !== rows);
  if (other !== undefined) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${OP}: tensors must have the same number of rows; got ${rows} ([${list[0]!.shape.join(', ')}]) and ${other.shape[0]} ([${other.shape.join(', ')}])`,
      { op: OP, shapes: list.map((t) => t.shape) },
    );
  }
  const r = ranges(rows, fractions);
  const cut = (t: Tensor, rr: RowRange): Tensor => narrow(t, 0, rr.start, rr.size);
  if (Array.isArray(x)) {
    return {
      ranges: r,
      train: list.map((t) => cut(t, r.train)),
      validation: list.map((t) => cut(t, r.validation)),
      test: list.map((t) => cut(t, r.test)),
    };
  }
  const t = x as Tensor;
  return {
    ranges: r,
    train: cut(t, r.train),
    validation: cut(t, r.validation),
    test: cut(t, r.test),
  };
}
