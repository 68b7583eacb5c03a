/**
 * Variable-length sequences for recurrent networks (PyTorch's `torch.nn.utils.rnn`): the
 * {@link PackedSequence} container, {@link packPaddedSequence} / {@link padPackedSequence},
 * {@link packSequence} / {@link padSequence}, {@link unpadSequence} / {@link unpackSequence}, and the
 * helpers RNN code uses to walk a packed batch ({@link PackedSequence.steps}, {@link applyPermutation},
 * {@link invertPermutation}).
 *
 * Every function is built from `indexSelect` / `cat` / `narrow` / `reshape`, so gradients flow back to the
 * inputs exactly as in PyTorch.
 *
 * @packageDocumentation
 */

import { cat, full, GradfolioError, indexSelect, type Tensor, tensor } from '@gradfolio/tensor';

/** A 1-D list of integers given either as a plain array or as a tensor (read on the host). */
export type IntList = Tensor | readonly number[];

function toIntArray(op: string, name: string, v: IntList): number[] {
  if (Array.isArray(v)) {
    const arr = v as readonly number[];
    for (const x of arr) {
      if (!Number.isInteger(x)) {
        throw new GradfolioError('INVALID_ARGUMENT', `${op}: ${name} must hold integers, got ${x}`, { op });
      }
    }
    return [...arr];
  }
  const t = v as Tensor;
  if (t.ndim !== 1) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: ${name} must be 1-D, got shape [${t.shape.join(', ')}]`,
      {
        op,
        shapes: [t.shape],
      },
    );
  }
  const out = Array.from(t.dataSync(), (x) => Number(x));
  for (const x of out) {
    if (!Number.isInteger(x)) {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: ${name} must hold integers, got ${x}`, { op });
    }
  }
  return out;
}

function indexTensor(values: readonly number[], device: string): Tensor {
  return tensor([...values], { dtype: 'int32', device });
}

/** Stable sort of `0..n-1` by `values` descending (what `torch.sort(lengths, descending=True)` gives on CPU). */
function argsortDescending(values: readonly number[]): number[] {
  return values.map((_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
}

function inversePermutation(op: string, perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length).fill(-1);
  perm.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= perm.length || inv[p] !== -1) {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: [${perm.join(', ')}] is not a permutation`, {
        op,
      });
    }
    inv[p] = i;
  });
  return inv;
}

/**
 * The inverse of a permutation given as a 1-D int tensor (PyTorch's `invert_permutation` in
 * `torch.nn.utils.rnn`): `out[perm[i]] = i`. Returns an int32 tensor on `perm`'s device.
 *
 * @example
 * ```ts
 * invertPermutation(tensor([2, 0, 1], { dtype: 'int32' })); // [1, 2, 0]
 * ```
 */
export function invertPermutation(permutation: Tensor): Tensor;
/** @internal */
export function invertPermutation(permutation: Tensor | undefined): Tensor | undefined;
export function invertPermutation(permutation: Tensor | undefined): Tensor | undefined {
  if (permutation === undefined) return undefined;
  const perm = toIntArray('invertPermutation', 'permutation', permutation);
  return indexTensor(inversePermutation('invertPermutation', perm), permutation.device);
}

/**
 * Reorders `tensor` along `dim` (default 1, the batch dim of RNN hidden states `[layers * dirs, B, H]`) by
 * `permutation`: `indexSelect(tensor, dim, permutation)` (PyTorch's `_apply_permutation`). With
 * `permutation` undefined (a packed batch that was already sorted) the tensor is returned as is, which is
 * what `RNNBase.permute_hidden` does.
 *
 * RNN code uses it twice: `applyPermutation(hx, packed.sortedIndices)` to put a user-given initial state in
 * the packed (sorted) batch order, and `applyPermutation(hN, packed.unsortedIndices)` to give the final
 * states back in the caller's order.
 *
 * @example
 * ```ts
 * const h0Sorted = applyPermutation(h0, packed.sortedIndices); // [L, B, H] in packed order
 * const hN = applyPermutation(hNSorted, packed.unsortedIndices); // back to the input order
 * ```
 */
export function applyPermutation(tensor: Tensor, permutation: Tensor | undefined, dim = 1): Tensor {
  return permutation === undefined ? tensor : indexSelect(tensor, dim, permutation);
}

/** One time step of a {@link PackedSequence}, from {@link PackedSequence.steps}. */
export interface PackedStep {
  /** The time step `t` (0-based). */
  readonly time: number;
  /** First row of this step in `data`. */
  readonly offset: number;
  /** `batchSizes[t]`: how many sequences are still running at step `t` (always the first rows of the batch). */
  readonly batchSize: number;
  /** `data.narrow(0, offset, batchSize)`: the `[batchSize, *]` inputs of step `t` (a differentiable view). */
  readonly data: Tensor;
}

/**
 * A batch of variable-length sequences packed time step by time step (PyTorch's
 * `torch.nn.utils.rnn.PackedSequence`). Build one with {@link packPaddedSequence} or {@link packSequence};
 * RNN modules accept it and return one (built with {@link PackedSequence.withData}).
 *
 * - `data`: `[sum(lengths), *]`; step `t` holds `batchSizes[t]` rows, the sequences still running at `t`
 *   in sorted (longest first) order.
 * - `batchSizes`: an int32 1-D tensor on the CPU (PyTorch: int64 on the CPU), one entry per time step,
 *   non-increasing. Its values as plain numbers are {@link PackedSequence.batchSizesList}.
 * - `sortedIndices`: int32 permutation with `sorted[i] = input[sortedIndices[i]]` along the batch dim, or
 *   `undefined` when the input was already sorted (`enforceSorted: true`).
 * - `unsortedIndices`: its inverse (`undefined` alongside it).
 *
 * To run a recurrence over it, iterate {@link PackedSequence.steps}: at step `t` only the first
 * `batchSize` rows of the hidden state advance; rows past it have finished (their final state is the
 * current one) and are dropped with `h.narrow(0, 0, batchSize)`.
 *
 * @example
 * ```ts
 * const packed = packPaddedSequence(x, [3, 7, 5, 2], { batchFirst: true, enforceSorted: false });
 * packed.batchSizesList; // [4, 4, 3, 2, 2, 1, 1]
 * for (const { time, batchSize, data } of packed.steps()) console.log(time, batchSize, data.shape);
 * ```
 */
export class PackedSequence {
  /** The packed rows, `[sum(lengths), *]`. */
  readonly data: Tensor;
  /** Rows per time step: an int32 1-D tensor on the CPU. */
  readonly batchSizes: Tensor;
  /** Batch permutation applied before packing (int32, on `data`'s device), or `undefined` when none was. */
  readonly sortedIndices: Tensor | undefined;
  /** Inverse of `sortedIndices` (int32, on `data`'s device), or `undefined`. */
  readonly unsortedIndices: Tensor | undefined;
  readonly #sizes: readonly number[];

  /**
   * Wraps already-packed `data`. `batchSizes` must be positive, non-increasing and sum to
   * `data.shape[0]`; `unsortedIndices` defaults to the inverse of `sortedIndices` (as in PyTorch).
   *
   * @example
   * ```ts
   * const p = new PackedSequence(data, [2, 2, 1], tensor([1, 0], { dtype: 'int32' }));
   * p.unsortedIndices; // [1, 0]
   * ```
   */
  constructor(
    data: Tensor,
    batchSizes: IntList,
    sortedIndices?: IntList | undefined,
    unsortedIndices?: IntList | undefined,
  ) {
    const op = 'PackedSequence';
    const sizes = toIntArray(op, 'batchSizes', batchSizes);
    if (data.ndim < 1) {
      throw new GradfolioError('SHAPE_MISMATCH', `${op}: data must have at least 1 dimension`, {
        op,
        shapes: [data.shape],
      });
    }
    let total = 0;
    sizes.forEach((b, t) => {
      if (b <= 0 || (t > 0 && b > sizes[t - 1]!)) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `${op}: batchSizes must be positive and non-increasing, got [${sizes.join(', ')}]`,
          { op },
        );
      }
      total += b;
    });
    if (total !== data.shape[0]) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: batchSizes sum to ${total} but data has ${data.shape[0]} rows`,
        { op, shapes: [data.shape] },
      );
    }
    const batch = sizes[0] ?? 0;
    const sorted = sortedIndices === undefined ? undefined : toIntArray(op, 'sortedIndices', sortedIndices);
    let unsorted =
      unsortedIndices === undefined ? undefined : toIntArray(op, 'unsortedIndices', unsortedIndices);
    if (sorted !== undefined) {
      if (sorted.length !== batch) {
        throw new GradfolioError(
          'SHAPE_MISMATCH',
          `${op}: sortedIndices has ${sorted.length} entries for a batch of ${batch}`,
          { op },
        );
      }
      const inv = inversePermutation(op, sorted);
      if (unsorted === undefined) unsorted = inv;
    }
    if (unsorted !== undefined && unsorted.length !== batch) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: unsortedIndices has ${unsorted.length} entries for a batch of ${batch}`,
        { op },
      );
    }
    this.data = data;
    this.batchSizes = indexTensor(sizes, 'cpu');
    this.sortedIndices = sorted === undefined ? undefined : indexTensor(sorted, data.device);
    this.unsortedIndices = unsorted === undefined ? undefined : indexTensor(unsorted, data.device);
    this.#sizes = Object.freeze(sizes);
  }

  /**
   * `batchSizes` as plain numbers (no device read).
   *
   * @example
   * ```ts
   * packSequence([a, b]).batchSizesList; // e.g. [2, 2, 1]
   * ```
   */
  get batchSizesList(): readonly number[] {
    return this.#sizes;
  }

  /**
   * Number of time steps (`batchSizes.length`, the longest sequence).
   *
   * @example
   * ```ts
   * packed.maxSeqLength; // 7
   * ```
   */
  get maxSeqLength(): number {
    return this.#sizes.length;
  }

  /**
   * Number of sequences (`batchSizes[0]`).
   *
   * @example
   * ```ts
   * packed.batchSize; // 4
   * ```
   */
  get batchSize(): number {
    return this.#sizes[0] ?? 0;
  }

  /**
   * The time steps in order, each with its offset in `data`, its batch size and its rows (a
   * differentiable `narrow` of `data`). Reverse the array to run a backward direction.
   *
   * @example
   * ```ts
   * let h = h0; // [B, H], in packed (sorted) order
   * const outs: Tensor[] = [];
   * for (const { batchSize, data } of packed.steps()) {
   *   h = cell(data, h.narrow(0, 0, batchSize)); // rows >= batchSize have finished
   *   outs.push(h);
   * }
   * const out = packed.withData(cat(outs, 0));
   * ```
   */
  steps(): PackedStep[] {
    const out: PackedStep[] = [];
    let offset = 0;
    this.#sizes.forEach((batchSize, time) => {
      out.push({ time, offset, batchSize, data: this.data.narrow(0, offset, batchSize) });
      offset += batchSize;
    });
    return out;
  }

  /**
   * A packed sequence with the same batch sizes and permutations and new `data` (e.g. an RNN's outputs,
   * `[sum(lengths), H]`).
   *
   * @example
   * ```ts
   * const outPacked = packed.withData(outputs);
   * ```
   */
  withData(data: Tensor): PackedSequence {
    return new PackedSequence(data, this.#sizes, this.sortedIndices, this.unsortedIndices);
  }

  /**
   * PyTorch-style summary.
   *
   * @example
   * ```ts
   * String(packed); // PackedSequence(data=[17, 5], batch_sizes=[4, 4, 3, ...], sorted_indices=[1, 2, 0, 3], ...)
   * ```
   */
  toString(): string {
    const ints = (t: Tensor | undefined): string =>
      t === undefined ? 'None' : `[${Array.from(t.dataSync(), Number).join(', ')}]`;
    return (
      `PackedSequence(data=[${this.data.shape.join(', ')}], batch_sizes=[${this.#sizes.join(', ')}], ` +
      `sorted_indices=${ints(this.sortedIndices)}, unsorted_indices=${ints(this.unsortedIndices)})`
    );
  }
}

/** Options of {@link packPaddedSequence}. */
export interface PackPaddedSequenceOptions {
  /** Input is `[B, T, *]` instead of `[T, B, *]` (PyTorch's `batch_first`, default false). */
  batchFirst?: boolean | undefined;
  /**
   * Require `lengths` sorted in decreasing order (PyTorch's `enforce_sorted`, default true). With false,
   * the batch is sorted (stably, longest first) and the permutation kept in `sortedIndices`.
   */
  enforceSorted?: boolean | undefined;
}

/**
 * Packs a padded batch of variable-length sequences (PyTorch's `pack_padded_sequence`). `input` is
 * `[T, B, *]` (or `[B, T, *]` with `batchFirst`), `lengths` holds the `B` lengths (an array or a 1-D int
 * tensor). Differentiable: `data` is an `indexSelect` of `input`.
 *
 * Throws `INVALID_ARGUMENT` with PyTorch's messages for unsorted lengths under `enforceSorted`, a length
 * `<= 0`, an empty input, a `lengths` of the wrong size, and (PyTorch 1.13 does not check this and reads
 * garbage) a length greater than the time dimension.
 *
 * @example
 * ```ts
 * const x = randn([4, 7, 5]); // [batch, seq, feat]
 * const packed = packPaddedSequence(x, [3, 7, 5, 2], { batchFirst: true, enforceSorted: false });
 * packed.data.shape; // [17, 5]
 * ```
 */
export function packPaddedSequence(
  input: Tensor,
  lengths: IntList,
  options: PackPaddedSequenceOptions = {},
): PackedSequence {
  const op = 'packPaddedSequence';
  const batchFirst = options.batchFirst ?? false;
  const enforceSorted = options.enforceSorted ?? true;
  const lens = toIntArray(op, 'lengths', lengths);
  if (input.ndim < 2) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: input must have at least 2 dimensions ([T, B, *] or [B, T, *] with batchFirst), got shape [${input.shape.join(', ')}]`,
      { op, shapes: [input.shape] },
    );
  }
  const T = input.shape[batchFirst ? 1 : 0]!;
  const B = input.shape[batchFirst ? 0 : 1]!;
  // Same check order as at::_pack_padded_sequence (after the Python-level sort).
  const order = enforceSorted ? lens.map((_, i) => i) : argsortDescending(lens);
  const sortedLens = order.map((i) => lens[i]!);
  if (input.numel === 0) {
    throw new GradfolioError('INVALID_ARGUMENT', 'Cannot pack empty tensors.', { op, shapes: [input.shape] });
  }
  if (sortedLens.length !== B) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `Expected \`len(lengths)\` to be equal to batch_size, but got ${sortedLens.length} (batch_size=${B})`,
      { op, shapes: [input.shape] },
    );
  }
  if (sortedLens[B - 1]! <= 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0",
      { op },
    );
  }
  for (let i = 0; i + 1 < B; i++) {
    if (sortedLens[B - 1 - i]! > sortedLens[B - 2 - i]!) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        '`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass ' +
          '`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement ' +
          'if you do not need ONNX exportability.',
        { op },
      );
    }
  }
  if (sortedLens[0]! > T) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: lengths must not exceed the time dimension of the input, but got a length of ${sortedLens[0]} for a time dimension of ${T}`,
      { op, shapes: [input.shape] },
    );
  }
  const maxLen = sortedLens[0]!;
  const batchSizes: number[] = [];
  const rows: number[] = [];
  for (let t = 0; t < maxLen; t++) {
    let b = 0;
    while (b < B && sortedLens[b]! > t) {
      const orig = order[b]!;
      rows.push(batchFirst ? orig * T + t : t * B + orig);
      b++;
    }
    batchSizes.push(b);
  }
  const rest = input.shape.slice(2);
  const flat = input.reshape([T * B, ...rest]);
  const data = indexSelect(flat, 0, indexTensor(rows, input.device));
  return new PackedSequence(data, batchSizes, enforceSorted ? undefined : order);
}

/** Options of {@link padPackedSequence}. */
export interface PadPackedSequenceOptions {
  /** Return `[B, T, *]` instead of `[T, B, *]` (PyTorch's `batch_first`, default false). */
  batchFirst?: boolean | undefined;
  /** Value of the padded positions (PyTorch's `padding_value`, default 0). */
  paddingValue?: number | undefined;
  /** Pad to this many steps instead of the longest sequence (PyTorch's `total_length`). */
  totalLength?: number | undefined;
}

/**
 * Unpacks a {@link PackedSequence} into a padded batch (PyTorch's `pad_packed_sequence`): returns
 * `[padded, lengths]` with `padded` `[T, B, *]` (or `[B, T, *]` with `batchFirst`) in the original batch
 * order and `lengths` an int32 1-D CPU tensor (PyTorch: int64). Differentiable w.r.t. `sequence.data`.
 *
 * Throws `INVALID_ARGUMENT` when `totalLength` is below the longest sequence (PyTorch's `ValueError`).
 *
 * @example
 * ```ts
 * const [out, lengths] = padPackedSequence(packedOut, { batchFirst: true }); // [4, 7, H], [3, 7, 5, 2]
 * ```
 */
export function padPackedSequence(
  sequence: PackedSequence,
  options: PadPackedSequenceOptions = {},
): [padded: Tensor, lengths: Tensor] {
  const op = 'padPackedSequence';
  const batchFirst = options.batchFirst ?? false;
  const paddingValue = options.paddingValue ?? 0;
  const sizes = sequence.batchSizesList;
  let T = sizes.length;
  if (options.totalLength !== undefined) {
    if (!Number.isInteger(options.totalLength) || options.totalLength < T) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `Expected total_length to be at least the length of the longest sequence in input, but got total_length=${options.totalLength} and max sequence length being ${T}`,
        { op },
      );
    }
    T = options.totalLength;
  }
  const B = sequence.batchSize;
  const data = sequence.data;
  const N = data.shape[0]!;
  // lengths in sorted order, and the data row of (t, sorted b).
  const sortedLens = new Array<number>(B).fill(0);
  const rowOf: number[][] = [];
  let offset = 0;
  sizes.forEach((bs, t) => {
    const r: number[] = [];
    for (let b = 0; b < bs; b++) {
      r.push(offset + b);
      sortedLens[b] = t + 1;
    }
    rowOf.push(r);
    offset += bs;
  });
  const unsorted =
    sequence.unsortedIndices === undefined
      ? undefined
      : Array.from(sequence.unsortedIndices.dataSync(), (x) => Number(x));
  const sortedPos = (b: number): number => (unsorted === undefined ? b : unsorted[b]!);
  const idx: number[] = [];
  const pick = (t: number, b: number): number => rowOf[t]?.[sortedPos(b)] ?? N;
  if (batchFirst) {
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) idx.push(pick(t, b));
  } else {
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) idx.push(pick(t, b));
  }
  const rest = data.shape.slice(1);
  const padRow = full([1, ...rest], paddingValue, { dtype: data.dtype, device: data.device });
  const source = cat([data, padRow], 0);
  const padded = indexSelect(source, 0, indexTensor(idx, data.device)).reshape(
    batchFirst ? [B, T, ...rest] : [T, B, ...rest],
  );
  const lengths = indexTensor(
    sortedLens.map((_, b) => sortedLens[sortedPos(b)]!),
    'cpu',
  );
  return [padded, lengths];
}

/** Options of {@link padSequence}. */
export interface PadSequenceOptions {
  /** Return `[B, T, *]` instead of `[T, B, *]` (PyTorch's `batch_first`, default false). */
  batchFirst?: boolean | undefined;
  /** Value of the padded positions (PyTorch's `padding_value`, default 0). */
  paddingValue?: number | undefined;
}

/**
 * Pads a list of `[L_i, *]` tensors to the longest one and stacks them (PyTorch's `pad_sequence`):
 * `[maxL, B, *]`, or `[B, maxL, *]` with `batchFirst`. Zero-length sequences are allowed. Differentiable
 * w.r.t. every sequence.
 *
 * @example
 * ```ts
 * padSequence([randn([3, 2]), randn([1, 2])], { batchFirst: true, paddingValue: -1 }).shape; // [2, 3, 2]
 * ```
 */
export function padSequence(sequences: readonly Tensor[], options: PadSequenceOptions = {}): Tensor {
  const op = 'padSequence';
  const batchFirst = options.batchFirst ?? false;
  const paddingValue = options.paddingValue ?? 0;
  const first = sequences[0];
  if (first === undefined) {
    throw new GradfolioError('INVALID_ARGUMENT', 'received an empty list of sequences', { op });
  }
  if (first.ndim < 1) {
    throw new GradfolioError('SHAPE_MISMATCH', `${op}: sequences must have at least 1 dimension`, {
      op,
      shapes: sequences.map((s) => s.shape),
    });
  }
  const rest = first.shape.slice(1);
  for (const s of sequences) {
    if (s.ndim !== first.ndim || !s.shape.every((d, i) => i === 0 || d === first.shape[i])) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: every sequence must have the trailing shape [${rest.join(', ')}], got [${s.shape.join(', ')}]`,
        { op, shapes: sequences.map((x) => x.shape) },
      );
    }
  }
  const B = sequences.length;
  const lens = sequences.map((s) => s.shape[0]!);
  const T = Math.max(...lens);
  const starts: number[] = [];
  let total = 0;
  for (const l of lens) {
    starts.push(total);
    total += l;
  }
  const pick = (t: number, b: number): number => (t < lens[b]! ? starts[b]! + t : total);
  const idx: number[] = [];
  if (batchFirst) {
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) idx.push(pick(t, b));
  } else {
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) idx.push(pick(t, b));
  }
  const padRow = full([1, ...rest], paddingValue, { dtype: first.dtype, device: first.device });
  const source = cat([...sequences, padRow], 0);
  return indexSelect(source, 0, indexTensor(idx, first.device)).reshape(
    batchFirst ? [B, T, ...rest] : [T, B, ...rest],
  );
}

/** Options of {@link packSequence}. */
export interface PackSequenceOptions {
  /** Require the sequences sorted by decreasing length (PyTorch's `enforce_sorted`, default true). */
  enforceSorted?: boolean | undefined;
}

/**
 * Packs a list of `[L_i, *]` tensors (PyTorch's `pack_sequence`:
 * `packPaddedSequence(padSequence(sequences), lengths, { enforceSorted })`). Differentiable w.r.t. every
 * sequence.
 *
 * @example
 * ```ts
 * const packed = packSequence([randn([2, 3]), randn([4, 3])], { enforceSorted: false });
 * packed.batchSizesList; // [2, 2, 1, 1]
 * ```
 */
export function packSequence(
  sequences: readonly Tensor[],
  options: PackSequenceOptions = {},
): PackedSequence {
  const lengths = sequences.map((s) => s.shape[0] ?? 0);
  return packPaddedSequence(padSequence(sequences), lengths, {
    enforceSorted: options.enforceSorted ?? true,
  });
}

/** Options of {@link unpadSequence}. */
export interface UnpadSequenceOptions {
  /** `padded` is `[B, T, *]` instead of `[T, B, *]` (PyTorch's `batch_first`, default false). */
  batchFirst?: boolean | undefined;
}

/**
 * Splits a padded batch back into its `[L_i, *]` sequences (PyTorch's `unpad_sequence`), each a
 * differentiable view of `padded`.
 *
 * @example
 * ```ts
 * const [a, b] = unpadSequence(padded, [3, 1], { batchFirst: true }); // [3, *], [1, *]
 * ```
 */
export function unpadSequence(
  padded: Tensor,
  lengths: IntList,
  options: UnpadSequenceOptions = {},
): Tensor[] {
  const op = 'unpadSequence';
  const batchFirst = options.batchFirst ?? false;
  const lens = toIntArray(op, 'lengths', lengths);
  if (padded.ndim < 2) {
    throw new GradfolioError('SHAPE_MISMATCH', `${op}: padded must have at least 2 dimensions`, {
      op,
      shapes: [padded.shape],
    });
  }
  const bDim = batchFirst ? 0 : 1;
  const T = padded.shape[batchFirst ? 1 : 0]!;
  const B = padded.shape[bDim]!;
  return lens.slice(0, B).map((l, b) => {
    if (l < 0 || l > T) {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: length ${l} is outside [0, ${T}]`, { op });
    }
    return padded.select(bDim, b).narrow(0, 0, l);
  });
}

/**
 * Unpacks a {@link PackedSequence} into its `[L_i, *]` sequences in the original order (PyTorch's
 * `unpack_sequence`).
 *
 * @example
 * ```ts
 * const [a, b] = unpackSequence(packSequence([x, y], { enforceSorted: false })); // a ≡ x, b ≡ y
 * ```
 */
export function unpackSequence(packed: PackedSequence): Tensor[] {
  const [padded, lengths] = padPackedSequence(packed, { batchFirst: true });
  return unpadSequence(padded, lengths, { batchFirst: true });
}
