import { readFileSync } from 'node:fs';
import { grad, gradcheck } from '@gradfolio/autograd';
import { cat, GradfolioError, randn, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import {
  applyPermutation,
  invertPermutation,
  PackedSequence,
  packPaddedSequence,
  packSequence,
  padPackedSequence,
  padSequence,
  unpackSequence,
  unpadSequence,
} from '../src/packing.js';

// Reference values and gradients from PyTorch 1.13 in float64 (fixtures/gen_packing.py).

interface Enc {
  shape: number[];
  dtype: 'float64' | 'int32';
  data: number[];
}

interface EncPacked {
  data: Enc;
  batchSizes: number[];
  sortedIndices: number[] | null;
  unsortedIndices: number[] | null;
}

interface RoundtripCase {
  name: string;
  kind: 'roundtrip';
  options: { batchFirst: boolean; enforceSorted: boolean; totalLength: number | null; paddingValue: number };
  input: Enc;
  lengths: number[];
  packed: EncPacked;
  packGradOutput: Enc;
  packGrad: Enc;
  padded: Enc;
  paddedLengths: number[];
  gradOutput: Enc;
  grad: Enc;
}

interface SequencesCase {
  name: string;
  kind: 'sequences';
  options: { batchFirst: boolean; paddingValue: number; enforceSorted: boolean };
  sequences: Enc[];
  padded: Enc;
  gradOutput: Enc;
  grads: Array<Enc | null>;
  packed: EncPacked | null;
  packGradOutput?: Enc;
  packGrads?: Enc[];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/packing.json', import.meta.url), 'utf8')) as {
  cases: Array<RoundtripCase | SequencesCase>;
  seed: {
    input: Enc;
    lengths: number[];
    packedDataShape: number[];
    batchSizes: number[];
    sortedIndices: number[];
    unsortedIndices: number[];
    paddedShape: number[];
    paddedLengths: number[];
    lastOut: Enc;
  };
};

function dec(e: Enc, requiresGrad = false): Tensor {
  const t = tensor(e.data, { dtype: e.dtype }).reshape(e.shape);
  return requiresGrad ? t.requiresGrad_() : t;
}

function ints(t: Tensor | undefined): number[] | null {
  return t === undefined ? null : Array.from(t.dataSync(), Number);
}

function expectExact(actual: Tensor | undefined, expected: Enc): void {
  expect(actual).toBeDefined();
  const a = actual as Tensor;
  expect(a.shape).toEqual(expected.shape);
  expect(Array.from(a.dataSync(), Number)).toEqual(expected.data);
}

function expectPacked(p: PackedSequence, e: EncPacked): void {
  expectExact(p.data, e.data);
  expect(p.batchSizes.dtype).toBe('int32');
  expect(ints(p.batchSizes)).toEqual(e.batchSizes);
  expect(p.batchSizesList).toEqual(e.batchSizes);
  expect(ints(p.sortedIndices)).toEqual(e.sortedIndices);
  expect(ints(p.unsortedIndices)).toEqual(e.unsortedIndices);
}

function expectThrows(fn: () => unknown, code: string, message: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(GradfolioError.isInstance(caught)).toBe(true);
  const err = caught as GradfolioError;
  expect(err.code).toBe(code);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else expect(err.message).toMatch(message);
}

const roundtrips = fixture.cases.filter((c): c is RoundtripCase => c.kind === 'roundtrip');
const sequenceCases = fixture.cases.filter((c): c is SequencesCase => c.kind === 'sequences');

describe('packPaddedSequence / padPackedSequence vs PyTorch 1.13', () => {
  it.each(roundtrips.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { batchFirst, enforceSorted, paddingValue } = c.options;
    const x = dec(c.input, true);
    const packed = packPaddedSequence(x, c.lengths, { batchFirst, enforceSorted });
    expectPacked(packed, c.packed);

    const [gPack] = grad(packed.data.mul(dec(c.packGradOutput)).sum(), x, { retainGraph: true });
    expectExact(gPack, c.packGrad);

    const [padded, lengths] = padPackedSequence(packed, {
      batchFirst,
      paddingValue,
      totalLength: c.options.totalLength ?? undefined,
    });
    expectExact(padded, c.padded);
    expect(lengths.dtype).toBe('int32');
    expect(ints(lengths)).toEqual(c.paddedLengths);
    const [g] = grad(padded.mul(dec(c.gradOutput)).sum(), x);
    expectExact(g, c.grad);
  });

  it('accepts lengths as an int tensor', () => {
    const c = roundtrips[3]!;
    const packed = packPaddedSequence(dec(c.input), tensor(c.lengths, { dtype: 'int32' }), {
      batchFirst: c.options.batchFirst,
      enforceSorted: c.options.enforceSorted,
    });
    expectPacked(packed, c.packed);
  });

  it('passes gradcheck through pack then pad', () => {
    const x = randn([3, 4, 2], { dtype: 'float64' }).requiresGrad_();
    expect(
      gradcheck(
        (a: Tensor) =>
          padPackedSequence(packPaddedSequence(a, [2, 4, 1], { batchFirst: true, enforceSorted: false }), {
            batchFirst: true,
            totalLength: 5,
          })[0],
        [x],
      ),
    ).toBe(true);
  });
});

describe('padSequence / packSequence vs PyTorch 1.13', () => {
  it.each(sequenceCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const seqs = c.sequences.map((s) => dec(s, true));
    const padded = padSequence(seqs, {
      batchFirst: c.options.batchFirst,
      paddingValue: c.options.paddingValue,
    });
    expectExact(padded, c.padded);
    const grads = grad(padded.mul(dec(c.gradOutput)).sum(), seqs, { allowUnused: true });
    c.grads.forEach((e, i) => {
      if (e === null) return;
      expectExact(grads[i], e);
    });
    if (c.packed !== null) {
      const packed = packSequence(seqs, { enforceSorted: c.options.enforceSorted });
      expectPacked(packed, c.packed);
      const pg = grad(packed.data.mul(dec(c.packGradOutput as Enc)).sum(), seqs);
      (c.packGrads as Enc[]).forEach((e, i) => {
        expectExact(pg[i], e);
      });
      const back = unpackSequence(packed);
      back.forEach((s, i) => {
        expectExact(s, c.sequences[i]!);
      });
    }
  });
});

describe('LSTMModelVariableSeq shapes (seed 003)', () => {
  it('packs with enforceSorted false and pads back batch-first', () => {
    const s = fixture.seed;
    const x = dec(s.input);
    const lengths = tensor(s.lengths, { dtype: 'int32' });
    const packed = packPaddedSequence(x, lengths, { batchFirst: true, enforceSorted: false });
    expect(packed.data.shape).toEqual(s.packedDataShape);
    expect(packed.batchSizesList).toEqual(s.batchSizes);
    expect(ints(packed.sortedIndices)).toEqual(s.sortedIndices);
    expect(ints(packed.unsortedIndices)).toEqual(s.unsortedIndices);
    expect(packed.maxSeqLength).toBe(7);
    expect(packed.batchSize).toBe(4);
    const [out, outLengths] = padPackedSequence(packed, { batchFirst: true });
    expect(out.shape).toEqual(s.paddedShape);
    expect(ints(outLengths)).toEqual(s.paddedLengths);
    // lstm_out[range(len(lstm_out)), lengths - 1, :]
    const last = cat(
      s.lengths.map((l, b) => out.select(0, b).narrow(0, l - 1, 1)),
      0,
    );
    expectExact(last, s.lastOut);
  });
});

describe('PackedSequence', () => {
  it('computes unsortedIndices as the inverse permutation and validates batch sizes', () => {
    const data = randn([5, 2]);
    const p = new PackedSequence(data, [2, 2, 1], [1, 0]);
    expect(ints(p.unsortedIndices)).toEqual([1, 0]);
    expect(String(p)).toBe(
      'PackedSequence(data=[5, 2], batch_sizes=[2, 2, 1], sorted_indices=[1, 0], unsorted_indices=[1, 0])',
    );
    const q = new PackedSequence(
      data,
      tensor([3, 2], { dtype: 'int32' }),
      tensor([2, 0, 1], { dtype: 'int32' }),
    );
    expect(ints(q.unsortedIndices)).toEqual([1, 2, 0]);
    expect(ints(new PackedSequence(data, [3, 2]).sortedIndices)).toBeNull();
    expectThrows(() => new PackedSequence(data, [2, 2]), 'SHAPE_MISMATCH', /sum to 4 but data has 5 rows/);
    expectThrows(() => new PackedSequence(data, [1, 2, 2]), 'INVALID_ARGUMENT', /non-increasing/);
    expectThrows(() => new PackedSequence(data, [2, 2, 1], [0, 0]), 'INVALID_ARGUMENT', /not a permutation/);
    expectThrows(
      () => new PackedSequence(data, [2, 2, 1], [0, 1, 2]),
      'SHAPE_MISMATCH',
      /sortedIndices has 3/,
    );
  });

  it('iterates step by step with batchSizes[t] rows at step t', () => {
    const x = randn([3, 4, 2], { dtype: 'float64' });
    const packed = packPaddedSequence(x, [4, 1, 3], { batchFirst: true, enforceSorted: false });
    const steps = packed.steps();
    expect(steps.map((s) => s.batchSize)).toEqual([3, 2, 2, 1]);
    expect(steps.map((s) => s.offset)).toEqual([0, 3, 5, 7]);
    expect(steps.map((s) => s.time)).toEqual([0, 1, 2, 3]);
    // Step t, row b is sequence sortedIndices[b] at time t.
    const sorted = ints(packed.sortedIndices) as number[];
    for (const { time, batchSize, data } of steps) {
      expect(data.shape).toEqual([batchSize, 2]);
      for (let b = 0; b < batchSize; b++) {
        expect(Array.from(data.select(0, b).dataSync())).toEqual(
          Array.from(x.select(0, sorted[b]!).select(0, time).dataSync()),
        );
      }
    }
    // Rebuilding from the steps gives the same packed data; withData keeps the permutations.
    const again = packed.withData(
      cat(
        steps.map((s) => s.data.mul(2)),
        0,
      ),
    );
    expect(ints(again.sortedIndices)).toEqual(sorted);
    expect(Array.from(again.data.dataSync())).toEqual(Array.from(packed.data.mul(2).dataSync()));
  });

  it('applyPermutation and invertPermutation round-trip hidden states', () => {
    const h = randn([2, 3, 4]);
    const perm = tensor([2, 0, 1], { dtype: 'int32' });
    const inv = invertPermutation(perm);
    expect(ints(inv)).toEqual([1, 2, 0]);
    const back = applyPermutation(applyPermutation(h, perm), inv);
    expect(Array.from(back.dataSync())).toEqual(Array.from(h.dataSync()));
    expect(applyPermutation(h, undefined)).toBe(h);
    expect(ints(applyPermutation(tensor([10, 20, 30], { dtype: 'int32' }), perm, 0))).toEqual([30, 10, 20]);
  });

  it('unpadSequence splits a padded batch', () => {
    const seqs = [randn([3, 2]), randn([1, 2]), randn([2, 2])];
    const [a, b, c] = unpadSequence(padSequence(seqs), [3, 1, 2]);
    expect(Array.from((a as Tensor).dataSync())).toEqual(Array.from(seqs[0]!.dataSync()));
    expect((b as Tensor).shape).toEqual([1, 2]);
    expect(Array.from((c as Tensor).dataSync())).toEqual(Array.from(seqs[2]!.dataSync()));
  });
});

describe('errors (PyTorch messages)', () => {
  const x = randn([3, 2, 1]);
  it('rejects unsorted lengths with enforceSorted', () => {
    expectThrows(
      () => packPaddedSequence(x, [2, 3]),
      'INVALID_ARGUMENT',
      '`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement if you do not need ONNX exportability.',
    );
    expectThrows(() => packSequence([randn([1, 2]), randn([2, 2])]), 'INVALID_ARGUMENT', /must be sorted/);
  });
  it('rejects zero-length sequences', () => {
    const msg =
      "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0";
    expectThrows(() => packPaddedSequence(x, [2, 0], { enforceSorted: false }), 'INVALID_ARGUMENT', msg);
    expectThrows(() => packPaddedSequence(x, [0, 2], { enforceSorted: false }), 'INVALID_ARGUMENT', msg);
    expectThrows(() => packSequence([randn([2]), randn([0])]), 'INVALID_ARGUMENT', msg);
  });
  it('rejects lengths greater than the time dimension', () => {
    expectThrows(
      () => packPaddedSequence(x, [5, 2]),
      'INVALID_ARGUMENT',
      /must not exceed the time dimension/,
    );
    expectThrows(
      () => packPaddedSequence(randn([2, 2, 1]), [1, 3], { batchFirst: true, enforceSorted: false }),
      'INVALID_ARGUMENT',
      /length of 3 for a time dimension of 2/,
    );
  });
  it('rejects a wrong number of lengths, empty inputs and non-integer lengths', () => {
    expectThrows(
      () => packPaddedSequence(x, [2, 2, 1]),
      'INVALID_ARGUMENT',
      'Expected `len(lengths)` to be equal to batch_size, but got 3 (batch_size=2)',
    );
    expectThrows(
      () => packPaddedSequence(randn([0, 2, 1]), [1, 1]),
      'INVALID_ARGUMENT',
      'Cannot pack empty tensors.',
    );
    expectThrows(() => packPaddedSequence(x, [2.5, 1]), 'INVALID_ARGUMENT', /integers/);
    expectThrows(() => packPaddedSequence(randn([3]), [3]), 'SHAPE_MISMATCH', /at least 2 dimensions/);
  });
  it('rejects a totalLength below the longest sequence', () => {
    const p = packPaddedSequence(x, [3, 2]);
    expectThrows(
      () => padPackedSequence(p, { totalLength: 2 }),
      'INVALID_ARGUMENT',
      'Expected total_length to be at least the length of the longest sequence in input, but got total_length=2 and max sequence length being 3',
    );
    expectThrows(() => padPackedSequence(p, { totalLength: 0 }), 'INVALID_ARGUMENT', /total_length=0/);
  });
  it('padSequence rejects an empty list and mismatched trailing shapes', () => {
    expectThrows(() => padSequence([]), 'INVALID_ARGUMENT', 'received an empty list of sequences');
    expectThrows(() => padSequence([randn([2, 3]), randn([2, 4])]), 'SHAPE_MISMATCH', /trailing shape \[3\]/);
  });
});
