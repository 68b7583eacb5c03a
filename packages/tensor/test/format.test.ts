/** Tensor printing: every case of fixtures/format.json (PyTorch 1.13's output), plus hand-written cases. */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { GradfolioError } from '../src/errors.js';
import {
  type FormatDType,
  type FormatInput,
  type FormatOptions,
  formatTensor,
  getPrintOptions,
  setPrintOptions,
} from '../src/format.js';

interface FixtureCase {
  name: string;
  data: Array<number | 'nan' | 'inf' | '-inf'>;
  shape: number[];
  dtype: FormatDType;
  expected: string;
  options?: FormatOptions;
  requiresGrad?: boolean;
  gradFn?: string;
}

const cases = JSON.parse(
  readFileSync(new URL('../fixtures/format.json', import.meta.url), 'utf8'),
) as FixtureCase[];

function decode(v: number | string): number {
  if (v === 'nan') return Number.NaN;
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  return v as number;
}

function toInput(c: FixtureCase): FormatInput {
  const values = c.data.map(decode);
  const data =
    c.dtype === 'float32'
      ? Float32Array.from(values)
      : c.dtype === 'float64'
        ? Float64Array.from(values)
        : c.dtype === 'int32'
          ? Int32Array.from(values)
          : Uint8Array.from(values);
  const input: FormatInput = { data, shape: c.shape, dtype: c.dtype };
  if (c.requiresGrad !== undefined) input.requiresGrad = c.requiresGrad;
  if (c.gradFn !== undefined) input.gradFn = c.gradFn;
  return input;
}

afterEach(() => {
  setPrintOptions({ profile: 'default' });
});

describe('formatTensor matches PyTorch (fixtures/format.json)', () => {
  it('has the fixture cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(formatTensor(toInput(c), c.options)).toBe(c.expected);
  });

  it('gives the same result through setPrintOptions as through per-call options', () => {
    for (const c of cases.filter((x) => x.options !== undefined)) {
      setPrintOptions(c.options!);
      expect(formatTensor(toInput(c))).toBe(c.expected);
      setPrintOptions({ profile: 'default' });
    }
  });
});

describe('formatTensor by hand', () => {
  it('prints the documented examples', () => {
    expect(
      formatTensor({ data: [0.5556, 0.4411, -1, 2], shape: [2, 2], dtype: 'float32', requiresGrad: true }),
    ).toBe('tensor([[ 0.5556,  0.4411],\n        [-1.0000,  2.0000]], requiresGrad=true)');
    expect(formatTensor({ data: [3.5], shape: [], dtype: 'float32' })).toBe('tensor(3.5000)');
    expect(formatTensor({ data: [], shape: [0], dtype: 'float32' })).toBe('tensor([])');
    expect(formatTensor({ data: [], shape: [0, 3], dtype: 'float32' })).toBe('tensor([], size=(0, 3))');
    expect(formatTensor({ data: [1, 0], shape: [2], dtype: 'bool' })).toBe('tensor([ True, False])');
    expect(formatTensor({ data: [1.5], shape: [1], dtype: 'float64' })).toBe(
      'tensor([1.5000], dtype=float64)',
    );
    expect(
      formatTensor({ data: [1e-5, 1], shape: [2], dtype: 'float32' }, { precision: 2, sciMode: false }),
    ).toBe('tensor([    0.00,     1.00])');
  });

  it('rounds plain numbers to float32 for float32 tensors', () => {
    // 0.1 + 0.2 as a double is 0.30000000000000004; as float32 it is 0.30000001192...
    expect(formatTensor({ data: [0.1 + 0.2], shape: [1], dtype: 'float32' }, { precision: 8 })).toBe(
      'tensor([0.30000001])',
    );
    expect(formatTensor({ data: [0.1 + 0.2], shape: [1], dtype: 'float64' }, { precision: 8 })).toBe(
      'tensor([0.30000000], dtype=float64)',
    );
  });

  it('prints the device, then dtype, then autograd suffix', () => {
    expect(formatTensor({ data: [1, 2], shape: [2], dtype: 'float32', device: 'cpu' })).toBe(
      'tensor([1., 2.])',
    );
    expect(formatTensor({ data: [1, 2], shape: [2], dtype: 'float32', device: 'webgpu' })).toBe(
      "tensor([1., 2.], device='webgpu')",
    );
    expect(
      formatTensor({
        data: [1, 2],
        shape: [2],
        dtype: 'float64',
        device: 'webgpu',
        requiresGrad: true,
        gradFn: 'MulBackward',
      }),
    ).toBe("tensor([1., 2.], device='webgpu', dtype=float64, gradFn=<MulBackward>)");
    expect(formatTensor({ data: [], shape: [2, 0], dtype: 'int32', device: 'webgpu' })).toBe(
      "tensor([], device='webgpu', size=(2, 0), dtype=int32)",
    );
    expect(
      formatTensor({ data: [1], shape: [1], dtype: 'float32', gradFn: undefined, requiresGrad: false }),
    ).toBe('tensor([1.])');
  });

  it('puts suffixes that do not fit on their own lines', () => {
    const data = Array.from({ length: 9 }, (_, i) => i + 0.5);
    expect(formatTensor({ data, shape: [9], dtype: 'float64', device: 'webgpu', requiresGrad: true })).toBe(
      'tensor([0.5000, 1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, 7.5000, 8.5000],\n' +
        "       device='webgpu', dtype=float64, requiresGrad=true)",
    );
  });

  it('prints integer dtypes without a decimal point and bools as True/False', () => {
    expect(formatTensor({ data: new Int32Array([-3, 10, 200]), shape: [3], dtype: 'int32' })).toBe(
      'tensor([ -3,  10, 200])',
    );
    expect(formatTensor({ data: [0], shape: [], dtype: 'int32' })).toBe('tensor(0)');
    expect(formatTensor({ data: [1, 1], shape: [1, 2], dtype: 'bool' })).toBe('tensor([[True, True]])');
  });

  it('separates the blocks of higher dimensions with blank lines', () => {
    const data = Array.from({ length: 16 }, (_, i) => i);
    expect(formatTensor({ data, shape: [2, 2, 2, 2], dtype: 'int32' })).toBe(
      [
        'tensor([[[[ 0,  1],',
        '          [ 2,  3]],',
        '',
        '         [[ 4,  5],',
        '          [ 6,  7]]],',
        '',
        '',
        '        [[[ 8,  9],',
        '          [10, 11]],',
        '',
        '         [[12, 13],',
        '          [14, 15]]]])',
      ].join('\n'),
    );
  });

  it('summarises to "..." alone with edgeitems 0', () => {
    const data = Array.from({ length: 20 }, (_, i) => i);
    expect(formatTensor({ data, shape: [20], dtype: 'int32' }, { threshold: 5, edgeitems: 0 })).toBe(
      'tensor([...])',
    );
    expect(formatTensor({ data, shape: [4, 5], dtype: 'float32' }, { threshold: 5, edgeitems: 0 })).toBe(
      'tensor([...])',
    );
  });

  it('rounds exactly, ties to even, like Python', () => {
    expect(formatTensor({ data: [0.125, 0.375, 1.5], shape: [3], dtype: 'float32' }, { precision: 2 })).toBe(
      'tensor([0.12, 0.38, 1.50])',
    );
    expect(formatTensor({ data: [2.5e-300, 1e300], shape: [2], dtype: 'float64' })).toBe(
      'tensor([2.5000e-300, 1.0000e+300], dtype=float64)',
    );
    expect(formatTensor({ data: [5e-324, 1], shape: [2], dtype: 'float64' })).toBe(
      'tensor([4.9407e-324,  1.0000e+00], dtype=float64)',
    );
    expect(formatTensor({ data: [1e21, 1.5], shape: [2], dtype: 'float64' }, { sciMode: false })).toBe(
      'tensor([1000000000000000000000.0000,     1.5000], dtype=float64)',
    );
  });

  it('rejects data that does not match the shape', () => {
    expect(() => formatTensor({ data: [1, 2, 3], shape: [2, 2], dtype: 'float32' })).toThrow(GradfolioError);
    expect(() => formatTensor({ data: [1], shape: [-1], dtype: 'float32' })).toThrow(/invalid shape/);
    expect(() => formatTensor({ data: [1], shape: [1], dtype: 'float32' }, { precision: -1 })).toThrow(
      /precision/,
    );
  });
});

describe('print options', () => {
  it('starts from the defaults', () => {
    expect(getPrintOptions()).toEqual({
      precision: 4,
      threshold: 1000,
      edgeitems: 3,
      linewidth: 80,
      sciMode: undefined,
    });
  });

  it('applies profiles, then the given options', () => {
    setPrintOptions({ profile: 'short' });
    expect(getPrintOptions()).toMatchObject({ precision: 2, threshold: 1000, edgeitems: 2, linewidth: 80 });
    setPrintOptions({ profile: 'full', linewidth: 120 });
    expect(getPrintOptions()).toMatchObject({
      precision: 4,
      threshold: Number.POSITIVE_INFINITY,
      edgeitems: 3,
      linewidth: 120,
    });
    const data = Array.from({ length: 2000 }, (_, i) => i % 7);
    expect(formatTensor({ data, shape: [2000], dtype: 'int32' })).not.toContain('...');
    setPrintOptions({ profile: 'default' });
    expect(formatTensor({ data, shape: [2000], dtype: 'int32' })).toBe('tensor([0, 1, 2,  ..., 2, 3, 4])');
  });

  it('resets sciMode to automatic when it is left out, like torch.set_printoptions', () => {
    setPrintOptions({ sciMode: true });
    expect(getPrintOptions().sciMode).toBe(true);
    expect(formatTensor({ data: [1.5], shape: [1], dtype: 'float32' })).toBe('tensor([1.5000e+00])');
    setPrintOptions({ precision: 3 });
    expect(getPrintOptions()).toMatchObject({ precision: 3, sciMode: undefined });
    expect(formatTensor({ data: [1.5], shape: [1], dtype: 'float32' })).toBe('tensor([1.500])');
  });

  it('lets per-call options override the global ones without changing them', () => {
    setPrintOptions({ precision: 2 });
    expect(formatTensor({ data: [1.5], shape: [1], dtype: 'float32' }, { precision: 6 })).toBe(
      'tensor([1.500000])',
    );
    expect(formatTensor({ data: [1.5], shape: [1], dtype: 'float32' })).toBe('tensor([1.50])');
    expect(getPrintOptions().precision).toBe(2);
    // getPrintOptions returns a copy.
    const opts = getPrintOptions();
    opts.precision = 9;
    expect(getPrintOptions().precision).toBe(2);
  });
});
