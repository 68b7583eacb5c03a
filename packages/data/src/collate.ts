/**
 * The default collate function of the `DataLoader`: merges a list of samples into one batch, like
 * PyTorch's `default_collate`.
 */

import { GradfolioError, stack, Tensor, tensor } from '@gradfolio/tensor';

/**
 * The type `defaultCollate` turns a sample type into: tensors and numbers/booleans become tensors,
 * strings become string arrays, arrays (tuples) and plain objects are collated element by element.
 *
 * @example
 * ```ts
 * type B = Collated<[Tensor, number]>; // [Tensor, Tensor]
 * ```
 */
export type Collated<T> = T extends Tensor
  ? Tensor
  : T extends number | boolean
    ? Tensor
    : T extends string
      ? string[]
      : T extends readonly unknown[]
        ? { -readonly [K in keyof T]: Collated<T[K]> }
        : T extends object
          ? { -readonly [K in keyof T]: Collated<T[K]> }
          : never;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Tensor) return 'a Tensor';
  return typeof v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function collateAt(batch: readonly unknown[], path: string): unknown {
  const first = batch[0];
  const where = path === '' ? 'the sample' : `sample${path}`;
  const sameKind = (pred: (v: unknown) => boolean, kind: string): void => {
    for (const [k, v] of batch.entries()) {
      if (!pred(v)) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `defaultCollate: expected ${kind} at ${where} of every sample (as in sample 0), but sample ${k} has ${describe(v)}`,
          { op: 'defaultCollate' },
        );
      }
    }
  };
  if (first instanceof Tensor) {
    sameKind((v) => v instanceof Tensor, 'a Tensor');
    return stack(batch as Tensor[], 0);
  }
  if (typeof first === 'number' || typeof first === 'boolean') {
    sameKind((v) => typeof v === typeof first, `a ${typeof first}`);
    return tensor(batch as number[] | boolean[]);
  }
  if (typeof first === 'string') {
    sameKind((v) => typeof v === 'string', 'a string');
    return [...(batch as string[])];
  }
  if (Array.isArray(first)) {
    sameKind((v) => Array.isArray(v), 'an array');
    const len = first.length;
    for (const [k, v] of (batch as unknown[][]).entries()) {
      if (v.length !== len) {
        throw new GradfolioError(
          'SHAPE_MISMATCH',
          `defaultCollate: each element in list of batch should be of equal size: at ${where}, sample 0 has ${len} elements and sample ${k} has ${v.length}`,
          { op: 'defaultCollate' },
        );
      }
    }
    const out: unknown[] = [];
    for (let j = 0; j < len; j++) {
      out.push(
        collateAt(
          (batch as unknown[][]).map((v) => v[j]),
          `${path}[${j}]`,
        ),
      );
    }
    return out;
  }
  if (isPlainObject(first)) {
    sameKind(isPlainObject, 'a plain object');
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(first)) {
      const column = (batch as Record<string, unknown>[]).map((v, k) => {
        if (!Object.hasOwn(v, key)) {
          throw new GradfolioError(
            'INVALID_ARGUMENT',
            `defaultCollate: key '${key}' of sample 0 is missing from sample ${k} at ${where}`,
            { op: 'defaultCollate', key },
          );
        }
        return v[key];
      });
      out[key] = collateAt(column, `${path}.${key}`);
    }
    return out;
  }
  throw new GradfolioError(
    'INVALID_ARGUMENT',
    `defaultCollate: batch must contain tensors, numbers, booleans, strings, arrays or plain objects; found ${describe(first)} at ${where}`,
    { op: 'defaultCollate' },
  );
}

/**
 * Merges samples into a batch, like PyTorch's `default_collate`: tensors are stacked along a new first
 * dimension; numbers become a 1-D tensor, `int32` when every value is an integer and the default float
 * dtype (`float32`) otherwise (the same inference as `tensor()`; PyTorch uses int64/float64 from the
 * Python type, which JavaScript numbers do not carry); booleans become a `bool` tensor; strings stay a
 * string array; arrays (tuples) and plain objects are collated position by position and key by key.
 *
 * @example
 * ```ts
 * defaultCollate([[randn([7, 5]), 1], [randn([7, 5]), 0]]); // [Tensor [2, 7, 5], Tensor [2] int32]
 * defaultCollate([{ x: 0.5 }, { x: 1.5 }]); // { x: Tensor [2] float32 }
 * ```
 */
export function defaultCollate<T>(batch: readonly T[]): Collated<T> {
  if (batch.length === 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      'defaultCollate: expected a non-empty batch, got 0 samples',
      {
        op: 'defaultCollate',
      },
    );
  }
  return collateAt(batch, '') as Collated<T>;
}
