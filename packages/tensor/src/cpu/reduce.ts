import type { Kernel } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { forEachRow, plan } from './iter.js';

/**
 * Reductions as "accumulate into a broadcast output": the output is viewed with stride 0 on reduced
 * dims and every input element is folded into its slot. Accumulation runs in a float64 scratch (exact
 * for int32, more accurate for float32) that is written to the output at the end.
 */

interface Fold {
  init: number;
  /** Folds a whole strided row into one accumulator (the reduced-innermost case). */
  row: (x: TypedArray, xo: number, xs: number, n: number, acc: number) => number;
  /** Folds a row element-wise into `n` accumulators (the kept-innermost case). */
  each: (x: TypedArray, xo: number, xs: number, acc: Float64Array, ao: number, as: number, n: number) => void;
}

function makeFold(init: number, step: string): Fold {
  const row = new Function(
    'x',
    'xo',
    'xs',
    'n',
    'acc',
    `if (xs === 1) { for (let i = 0; i < n; i++) { const v = x[xo + i]; acc = ${step}; } return acc; }
     for (let i = 0; i < n; i++) { const v = x[xo]; acc = ${step}; xo += xs; } return acc;`,
  ) as Fold['row'];
  const each = new Function(
    'x',
    'xo',
    'xs',
    'A',
    'ao',
    'as',
    'n',
    `for (let i = 0; i < n; i++) { const v = x[xo]; let acc = A[ao]; acc = ${step}; A[ao] = acc; xo += xs; ao += as; }`,
  ) as Fold['each'];
  return { init, row, each };
}

const FOLDS: Record<string, Fold> = {
  sum: makeFold(0, 'acc + v'),
  prod: makeFold(1, 'acc * v'),
  amax: makeFold(Number.NEGATIVE_INFINITY, '(v > acc || v !== v ? v : acc)'),
  amin: makeFold(Number.POSITIVE_INFINITY, '(v < acc || v !== v ? v : acc)'),
  all: makeFold(1, '(acc !== 0 && v !== 0 ? 1 : 0)'),
  any: makeFold(0, '(acc !== 0 || v !== 0 ? 1 : 0)'),
};

function reduceKernel(fold: Fold): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    const o = outputs[0]!;
    const dims = attrs.dims as readonly number[];
    const xa = x.handle as TypedArray;
    const oa = o.handle as TypedArray;
    const nOut = o.shape.reduce((a, b) => a * b, 1);
    const acc = new Float64Array(nOut).fill(fold.init);
    // The output as a broadcast view over the input's shape.
    const oStrides = o.strides.map((s, i) => (dims.includes(i) ? 0 : s));
    const p = plan(x.shape, [x.strides, oStrides]);
    const xs = p.strides[0]!.at(-1)!;
    const as = p.strides[1]!.at(-1)!;
    if (as === 0) {
      forEachRow(p, [x.offset, 0], (off, n) => {
        acc[off[1]!] = fold.row(xa, off[0]!, xs, n, acc[off[1]!]!);
      });
    } else {
      forEachRow(p, [x.offset, 0], (off, n) => fold.each(xa, off[0]!, xs, acc, off[1]!, as, n));
    }
    if (o.dtype === 'bool' || o.dtype === 'int32') {
      for (let i = 0; i < nOut; i++) oa[o.offset + i] = acc[i]!;
    } else {
      oa.set(acc, o.offset);
    }
  };
}

/** Registers sum, prod, amax, amin, all and any. @internal */
export function registerReductions(k: Map<string, Kernel>): void {
  for (const [name, fold] of Object.entries(FOLDS)) k.set(name, reduceKernel(fold));
}
