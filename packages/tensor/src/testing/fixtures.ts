import cases from '../../fixtures/ops.json' with { type: 'json' };
import { tensor } from '../creation.js';
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor.js';

/**
 * A number as stored in `fixtures/ops.json`: non-finite values are the strings `'nan'`, `'inf'` and
 * `'-inf'`; bools are 0/1.
 *
 * @example
 * ```ts
 * const xs: FixtureNumber[] = [1.5, 'nan', '-inf'];
 * ```
 */
export type FixtureNumber = number | 'nan' | 'inf' | '-inf';

/**
 * How a fixture input is laid out in memory (always the same logical values):
 * - `contiguous`: row-major;
 * - `transposed`: stored as the transpose of the last two dims, then viewed back with `.mT`;
 * - `strided`: every other element of a tensor twice as long in the last dim (`x[..., ::2]`);
 * - `expanded`: the size-1 dim `dim` broadcast with `expand` (stride 0);
 * - `offset`: `narrow(0, 1, n)` of a tensor with one extra slab on each side of dim 0 (0-d:
 *   `select(0, 1)` of a 3-element tensor).
 *
 * @example
 * ```ts
 * const layout: FixtureLayout = 'transposed';
 * ```
 */
export type FixtureLayout = 'contiguous' | 'transposed' | 'strided' | 'expanded' | 'offset';

/**
 * A tensor of a fixture: row-major values, shape and dtype.
 *
 * @example
 * ```ts
 * const t: FixtureTensor = { data: [1, 2], shape: [2], dtype: 'int32' };
 * ```
 */
export interface FixtureTensor {
  readonly data: readonly FixtureNumber[];
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/**
 * An input of a fixture case: its values plus the memory layout to rebuild (see {@link FixtureLayout};
 * `dim` is the broadcast dim of an `expanded` input).
 *
 * @example
 * ```ts
 * const x: FixtureInput = { data: [1, 2, 3, 4], shape: [2, 2], dtype: 'float32', layout: 'transposed' };
 * ```
 */
export interface FixtureInput extends FixtureTensor {
  readonly layout: FixtureLayout;
  readonly dim?: number;
}

/**
 * One PyTorch reference case of `fixtures/ops.json` (written by `fixtures/gen_ops.py`).
 *
 * - `op`: the op-table name the case covers; `call`: the key of the {@link runners} entry that runs it.
 * - `attrs`: the call's arguments (dims, options, scalars); non-finite numbers as strings.
 * - `expected`: one tensor per output (`[values, indices]` for `max(dim)`, one per piece for `split`).
 * - `compare: 'meta'` compares shapes and dtypes only (`empty`).
 * - `syncRead: true`: the result shape depends on the data (`nonzero`, boolean-mask indexing), which
 *   gradfolio reads synchronously on the host; devices without synchronous reads skip the case.
 *
 * @example
 * ```ts
 * const c = fixtureCases.find((k) => k.id === 'add/broadcast-f32')!;
 * c.op; // 'add'
 * ```
 */
export interface FixtureCase {
  readonly id: string;
  readonly op: string;
  readonly call: string;
  readonly inputs: readonly FixtureInput[];
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly expected: readonly FixtureTensor[];
  readonly compare?: 'values' | 'meta';
  readonly syncRead?: boolean;
}

/**
 * Every case of `fixtures/ops.json`: PyTorch 1.13 results for every op of the op table (random
 * factories excepted, see {@link NOT_FROM_TORCH}).
 *
 * @example
 * ```ts
 * fixtureCases.filter((c) => c.op === 'matmul').length;
 * ```
 */
export const fixtureCases: readonly FixtureCase[] = cases as unknown as readonly FixtureCase[];

/**
 * Ops whose values cannot come from PyTorch, with the reason: gradfolio's generator (xoshiro128** and
 * Box-Muller) differs from PyTorch's, so the suite checks statistical and shape properties instead
 * (see {@link randomProperties}). Mirrors `NOT_FROM_TORCH` in `fixtures/gen_ops.py`.
 *
 * @example
 * ```ts
 * NOT_FROM_TORCH.get('randn'); // 'different generator than PyTorch: ...'
 * ```
 */
export const NOT_FROM_TORCH: ReadonlyMap<string, string> = new Map([
  [
    'rand',
    'different generator than PyTorch: uniform [0, 1) range, shape, dtype, mean/var and seeding are tested in TS',
  ],
  [
    'randn',
    'different generator than PyTorch: mean/std of 100k samples, shape, dtype and seeding are tested in TS',
  ],
  ['randint', 'different generator than PyTorch: bounds, integrality, dtype and seeding are tested in TS'],
  ['randperm', 'different generator than PyTorch: permutation property, dtype and seeding are tested in TS'],
  ['normal', 'different generator than PyTorch: mean/std of the samples, shape and seeding are tested in TS'],
]);

/**
 * Decodes a fixture number (`'nan'`, `'inf'` and `'-inf'` are strings in JSON).
 *
 * @example
 * ```ts
 * decodeNumber('-inf'); // -Infinity
 * decodeNumber(2.5);    // 2.5
 * ```
 */
export function decodeNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === 'nan') return Number.NaN;
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  throw new Error(`fixtures: expected a number, 'nan', 'inf' or '-inf', got ${JSON.stringify(v)}`);
}

/** Filler for the storage around strided and offset inputs (never part of the logical values). */
function sentinel(dtype: DType): number {
  return dtype === 'bool' ? 1 : dtype === 'int32' ? -777 : -777.25;
}

function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Uploads row-major `values` as a contiguous tensor of `shape`. */
function upload(values: ArrayLike<number>, shape: readonly number[], dtype: DType, device: string): Tensor {
  const flat = tensor(Float64Array.from(values), { dtype, device });
  return flat.reshape([...shape]);
}

/**
 * Rebuilds a fixture input on `device`: uploads the values (`tensor(data, { dtype, device })`) in the
 * storage arrangement its layout needs, then makes the view (`.mT`, `x[..., ::2]`, `expand`, `narrow`).
 * The result holds exactly `spec`'s logical values.
 *
 * @example
 * ```ts
 * const x = buildInput({ data: [1, 2, 3, 4, 5, 6], shape: [2, 3], dtype: 'float32', layout: 'transposed' }, 'cpu');
 * x.isContiguous(); // false
 * x.toArraySync();  // [[1, 2, 3], [4, 5, 6]]
 * ```
 */
export function buildInput(spec: FixtureInput, device: string): Tensor {
  const { shape, dtype } = spec;
  const values = spec.data.map(decodeNumber);
  const nd = shape.length;
  if (values.length !== numelOf(shape)) {
    throw new Error(`fixtures: ${values.length} values do not fill shape [${shape.join(', ')}]`);
  }
  switch (spec.layout) {
    case 'contiguous':
      return upload(values, shape, dtype, device);
    case 'transposed': {
      if (nd < 2) throw new Error('fixtures: a transposed input needs at least 2 dims');
      const n = shape[nd - 2]!;
      const m = shape[nd - 1]!;
      const batch = numelOf(shape.slice(0, -2));
      const stored = new Float64Array(values.length);
      for (let b = 0; b < batch; b++)
        for (let i = 0; i < n; i++)
          for (let j = 0; j < m; j++) stored[b * n * m + j * n + i] = values[b * n * m + i * m + j]!;
      return upload(stored, [...shape.slice(0, -2), m, n], dtype, device).mT;
    }
    case 'strided': {
      if (nd < 1) throw new Error('fixtures: a strided input needs at least 1 dim');
      const m = shape[nd - 1]!;
      const stored = new Float64Array(values.length * 2).fill(sentinel(dtype));
      for (let r = 0; r < values.length / Math.max(m, 1); r++)
        for (let j = 0; j < m; j++) stored[r * 2 * m + 2 * j] = values[r * m + j]!;
      return upload(stored, [...shape.slice(0, -1), 2 * m], dtype, device).index('...', '::2');
    }
    case 'expanded': {
      const d = spec.dim ?? 0;
      const base = shape.map((s, i) => (i === d ? 1 : s));
      const outer = numelOf(shape.slice(0, d));
      const inner = numelOf(shape.slice(d + 1));
      const size = shape[d]!;
      const stored = new Float64Array(outer * inner);
      for (let o = 0; o < outer; o++)
        for (let k = 0; k < inner; k++) stored[o * inner + k] = values[o * size * inner + k]!;
      return upload(stored, base, dtype, device).expand([...shape]);
    }
    case 'offset': {
      const s = sentinel(dtype);
      if (nd === 0) return upload([s, values[0]!, s], [3], dtype, device).select(0, 1);
      const slab = numelOf(shape.slice(1));
      const stored = new Float64Array(values.length + 2 * slab).fill(s);
      stored.set(values, slab);
      return upload(stored, [shape[0]! + 2, ...shape.slice(1)], dtype, device).narrow(0, 1, shape[0]!);
    }
    default:
      throw new Error(`fixtures: unknown layout ${JSON.stringify(spec.layout)}`);
  }
}
