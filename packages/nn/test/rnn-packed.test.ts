import { readFileSync } from 'node:fs';
import '@gradfolio/autograd';
import { Generator, GradfolioError, randn, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { Linear } from '../src/linear.js';
import { PackedSequence, packPaddedSequence, padPackedSequence } from '../src/packing.js';
import { GRU, LSTM, RNN } from '../src/rnn.js';

// Reference values from PyTorch 1.13 in float64 (fixtures/gen_rnn_packed.py).

interface Enc {
  shape: number[];
  data: number[];
}
type Dict = Record<string, Enc>;
interface Cfg {
  input_size: number;
  hidden_size: number;
  num_layers: number;
  batch_first: boolean;
  bidirectional: boolean;
  proj_size?: number;
  nonlinearity?: 'tanh' | 'relu';
  lengths: number[];
  enforce_sorted: boolean;
  init: boolean;
}
interface PackedCase {
  kind: 'LSTM' | 'GRU' | 'RNN';
  cfg: Cfg;
  state_dict: Dict;
  x: Enc;
  h0?: Enc;
  c0?: Enc;
  batch_sizes: number[];
  sorted_indices: number[] | null;
  unsorted_indices: number[] | null;
  y: Enc;
  padded: Enc;
  hn: Enc;
  cn?: Enc;
  R1: Enc;
  R2: Enc;
  R3?: Enc;
  gx: Enc;
  gh0?: Enc;
  gc0?: Enc;
  gparams: Dict;
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/rnn_packed.json', import.meta.url), 'utf8')) as {
  modules: PackedCase[];
};

function dec(e: Enc): Tensor {
  return tensor(e.data, { dtype: 'float64' }).reshape(e.shape);
}

function ints(t: Tensor | undefined): number[] | null {
  return t === undefined ? null : Array.from(t.dataSync(), Number);
}

function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(Number(x[i]) - Number(y[i])));
  return worst;
}

function close(actual: Tensor | undefined | null, expected: Enc, tol = 1e-9): void {
  expect(actual).toBeDefined();
  expect(actual).not.toBeNull();
  const a = actual as Tensor;
  expect(a.shape).toEqual(expected.shape);
  const d = a.dataSync();
  let worst = 0;
  expected.data.forEach((v, i) => {
    worst = Math.max(worst, Math.abs((d[i] as number) - v) / (1 + Math.abs(v)));
  });
  expect(worst).toBeLessThanOrEqual(tol);
}

type AnyRNN = RNN | LSTM | GRU;

function build(c: PackedCase): AnyRNN {
  const cfg = c.cfg;
  const opts = {
    numLayers: cfg.num_layers,
    batchFirst: cfg.batch_first,
    bidirectional: cfg.bidirectional,
    dtype: 'float64' as const,
  };
  if (c.kind === 'LSTM')
    return new LSTM(cfg.input_size, cfg.hidden_size, { ...opts, projSize: cfg.proj_size ?? 0 });
  if (c.kind === 'GRU') return new GRU(cfg.input_size, cfg.hidden_size, opts);
  return new RNN(cfg.input_size, cfg.hidden_size, { ...opts, nonlinearity: cfg.nonlinearity ?? 'tanh' });
}

function caseName(c: PackedCase): string {
  return `${c.kind} ${JSON.stringify(c.cfg)}`;
}

describe('RNN / LSTM / GRU on a PackedSequence match torch (float64, forward and every gradient)', () => {
  for (const c of fx.modules) {
    it(caseName(c), () => {
      const m = build(c);
      const r = m.loadStateDict(
        Object.fromEntries(Object.entries(c.state_dict).map(([k, v]) => [k, dec(v)])),
      );
      expect(r.missingKeys).toEqual([]);
      expect(r.unexpectedKeys).toEqual([]);
      const x = dec(c.x).requiresGrad_();
      const packed = packPaddedSequence(x, c.cfg.lengths, {
        batchFirst: c.cfg.batch_first,
        enforceSorted: c.cfg.enforce_sorted,
      });
      const h0 = c.h0 === undefined ? undefined : dec(c.h0).requiresGrad_();
      const c0 = c.c0 === undefined ? undefined : dec(c.c0).requiresGrad_();
      let y: PackedSequence;
      let hn: Tensor;
      let cn: Tensor | undefined;
      if (m instanceof LSTM) {
        [y, [hn, cn]] = h0 === undefined ? m.call(packed) : m.call(packed, [h0, c0 as Tensor]);
      } else {
        [y, hn] = h0 === undefined ? m.call(packed) : m.call(packed, h0);
      }
      expect(y).toBeInstanceOf(PackedSequence);
      expect(y.batchSizesList).toEqual(c.batch_sizes);
      expect(ints(y.sortedIndices)).toEqual(c.sorted_indices);
      expect(ints(y.unsortedIndices)).toEqual(c.unsorted_indices);
      close(y.data, c.y);
      const [padded, lengths] = padPackedSequence(y, { batchFirst: c.cfg.batch_first });
      expect(ints(lengths)).toEqual(c.cfg.lengths);
      close(padded, c.padded);
      close(hn, c.hn);
      if (c.cn !== undefined) close(cn, c.cn);
      let loss = padded
        .mul(dec(c.R1))
        .sum()
        .add(hn.mul(dec(c.R2)).sum());
      if (c.R3 !== undefined) loss = loss.add((cn as Tensor).mul(dec(c.R3)).sum());
      loss.backward();
      close(x.grad, c.gx);
      if (c.gh0 !== undefined) close(h0?.grad, c.gh0);
      if (c.gc0 !== undefined) close(c0?.grad, c.gc0);
      for (const [name, p] of m.namedParameters()) {
        const g = c.gparams[name];
        expect(g, name).toBeDefined();
        close(p.grad, g as Enc);
      }
    });
  }
});

describe('packed batch equals running each sequence alone', () => {
  const lengths = [3, 7, 5, 2];
  for (const kind of ['LSTM', 'GRU', 'RNN'] as const) {
    for (const bidirectional of [false, true]) {
      it(`${kind} bidirectional=${bidirectional}, 2 layers, with initial states`, () => {
        const g = new Generator().manualSeed(3);
        const opts = {
          numLayers: 2,
          bidirectional,
          batchFirst: true,
          dtype: 'float64' as const,
          generator: g,
        };
        const m: AnyRNN =
          kind === 'LSTM' ? new LSTM(5, 4, opts) : kind === 'GRU' ? new GRU(5, 4, opts) : new RNN(5, 4, opts);
        const D = bidirectional ? 2 : 1;
        const x = randn([4, 7, 5], { dtype: 'float64', generator: g });
        const h0 = randn([2 * D, 4, 4], { dtype: 'float64', generator: g });
        const c0 = randn([2 * D, 4, 4], { dtype: 'float64', generator: g });
        const packed = packPaddedSequence(x, lengths, { batchFirst: true, enforceSorted: false });
        const run = (
          inp: Tensor | PackedSequence,
          h: Tensor,
          c: Tensor,
        ): [Tensor | PackedSequence, Tensor] => {
          if (!(m instanceof LSTM)) return m.call(inp, h);
          const [o, [hOut]] = m.call(inp, [h, c]);
          return [o, hOut];
        };
        const [y, hn] = run(packed, h0, c0);
        const [padded] = padPackedSequence(y as PackedSequence, { batchFirst: true });
        expect(padded.shape).toEqual([4, 7, 4 * D]);
        lengths.forEach((len, b) => {
          const xi = x.narrow(0, b, 1).narrow(1, 0, len);
          const [yi, hi] = run(xi, h0.narrow(1, b, 1), c0.narrow(1, b, 1));
          expect(maxDiff(padded.narrow(0, b, 1).narrow(1, 0, len), yi as Tensor)).toBeLessThan(1e-12);
          expect(maxDiff(hn.narrow(1, b, 1), hi)).toBeLessThan(1e-12);
          if (len < 7) {
            const pad = padded.narrow(0, b, 1).narrow(1, len, 7 - len);
            expect(Array.from(pad.dataSync()).every((v) => v === 0)).toBe(true);
          }
        });
      });
    }
  }

  it('LSTM cN matches per sequence', () => {
    const g = new Generator().manualSeed(5);
    const m = new LSTM(5, 4, { bidirectional: true, dtype: 'float64', generator: g });
    const x = randn([7, 4, 5], { dtype: 'float64', generator: g });
    const packed = packPaddedSequence(x, lengths, { enforceSorted: false });
    const [, [, cn]] = m.call(packed);
    lengths.forEach((len, b) => {
      const [, [, ci]] = m.call(x.narrow(1, b, 1).narrow(0, 0, len));
      expect(maxDiff(cn.narrow(1, b, 1), ci)).toBeLessThan(1e-12);
    });
  });
});

describe('seed 003 LSTMModelVariableSeq', () => {
  it('pack -> LSTM -> pad -> last valid step -> Linear; h_n[-1] equals the last valid output', () => {
    const g = new Generator().manualSeed(0);
    const lstm = new LSTM(5, 6, { batchFirst: true, generator: g });
    const fc = new Linear(6, 2, { generator: g });
    const x = randn([4, 7, 5], { generator: g }).requiresGrad_();
    const lengths = [3, 7, 5, 2];
    const packedX = packPaddedSequence(x, lengths, { batchFirst: true, enforceSorted: false });
    expect(packedX.data.shape).toEqual([17, 5]);
    const [packedOut, [hN, cN]] = lstm.call(packedX);
    expect(packedOut.data.shape).toEqual([17, 6]);
    expect(hN.shape).toEqual([1, 4, 6]);
    expect(cN.shape).toEqual([1, 4, 6]);
    const [lstmOut, outLengths] = padPackedSequence(packedOut, { batchFirst: true });
    expect(lstmOut.shape).toEqual([4, 7, 6]);
    expect(ints(outLengths)).toEqual(lengths);
    const last = lengths.map((len, b) => lstmOut.select(0, b).select(0, len - 1));
    lengths.forEach((_, b) => {
      expect(maxDiff(last[b] as Tensor, hN.select(0, 0).select(0, b))).toBeLessThan(1e-6);
    });
    const output = fc.call(hN.select(0, -1));
    expect(output.shape).toEqual([4, 2]);
    output.sum().backward();
    expect(x.grad?.shape).toEqual([4, 7, 5]);
    // padded steps get no gradient
    expect(Array.from((x.grad as Tensor).select(0, 3).narrow(0, 2, 5).dataSync()).every((v) => v === 0)).toBe(
      true,
    );
    for (const p of lstm.parameters()) expect(p.grad).toBeDefined();
  });
});

describe('packed input errors', () => {
  it('rejects a wrong feature size, dtype and initial-state shape', () => {
    const m = new GRU(3, 4, { dtype: 'float64' });
    const bad = packPaddedSequence(randn([5, 2, 2], { dtype: 'float64' }), [5, 3]);
    expect(() => m.call(bad)).toThrow(GradfolioError);
    const p32 = packPaddedSequence(randn([5, 2, 3]), [5, 3]);
    expect(() => m.call(p32)).toThrow(/must have the type float64/);
    const p = packPaddedSequence(randn([5, 2, 3], { dtype: 'float64' }), [5, 3]);
    expect(() => m.call(p, randn([1, 3, 4], { dtype: 'float64' }))).toThrow(
      /Expected hidden size \(1, 2, 4\)/,
    );
  });
});
