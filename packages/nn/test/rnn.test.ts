import { readFileSync } from 'node:fs';
import '@gradfolio/autograd';
import { Generator, GradfolioError, randn, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import type { Module } from '../src/module.js';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from '../src/rnn.js';

// Reference values from PyTorch 1.13 in float64 (fixtures/gen_rnn.py).

interface Enc {
  shape: number[];
  data: number[];
}
type Dict = Record<string, Enc>;
interface Cfg {
  input_size: number;
  hidden_size: number;
  num_layers: number;
  bias: boolean;
  batch_first: boolean;
  bidirectional: boolean;
  proj_size?: number;
  nonlinearity?: 'tanh' | 'relu';
  T: number;
  B: number;
  unbatched: boolean;
  init: boolean;
}
interface ModuleCase {
  kind: 'LSTM' | 'GRU' | 'RNN';
  cfg: Cfg;
  repr: string;
  state_dict: Dict;
  x: Enc;
  h0?: Enc;
  c0?: Enc;
  y: Enc;
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
interface CellCase {
  kind: 'RNNCell' | 'LSTMCell' | 'GRUCell';
  kw: { nonlinearity?: 'tanh' | 'relu'; bias?: boolean };
  batched: boolean;
  init: boolean;
  repr: string;
  state_dict: Dict;
  x: Enc;
  h0?: Enc;
  c0?: Enc;
  h: Enc;
  c?: Enc;
  R1: Enc;
  R3?: Enc;
  gx: Enc;
  gh0?: Enc;
  gc0?: Enc;
  gparams: Dict;
}
interface ReprCase {
  kind: string;
  args: [number, number];
  kw: Record<string, number | boolean | string>;
  repr: string;
  keys: string[];
  shapes: number[][];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/rnn.json', import.meta.url), 'utf8')) as {
  modules: ModuleCase[];
  cells: CellCase[];
  reprs: ReprCase[];
};

function dec(e: Enc, dtype: 'float64' | 'float32' = 'float64'): Tensor {
  return tensor(e.data, { dtype }).reshape(e.shape);
}

function close(actual: Tensor | undefined, expected: Enc, tol = 1e-9): void {
  expect(actual).toBeDefined();
  const a = actual as Tensor;
  expect(a.shape).toEqual(expected.shape);
  const d = a.dataSync();
  let worst = 0;
  expected.data.forEach((v, i) => {
    worst = Math.max(worst, Math.abs((d[i] as number) - v) / (1 + Math.abs(v)));
  });
  expect(worst).toBeLessThanOrEqual(tol);
}

function loadDict(sd: Dict, dtype: 'float64' | 'float32' = 'float64'): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, dec(v, dtype)]));
}

type AnyRNN = RNN | LSTM | GRU;

function build(c: ModuleCase, dtype: 'float64' | 'float32'): AnyRNN {
  const cfg = c.cfg;
  const opts = {
    numLayers: cfg.num_layers,
    bias: cfg.bias,
    batchFirst: cfg.batch_first,
    bidirectional: cfg.bidirectional,
    dtype,
  };
  if (c.kind === 'LSTM')
    return new LSTM(cfg.input_size, cfg.hidden_size, { ...opts, projSize: cfg.proj_size ?? 0 });
  if (c.kind === 'GRU') return new GRU(cfg.input_size, cfg.hidden_size, opts);
  return new RNN(cfg.input_size, cfg.hidden_size, { ...opts, nonlinearity: cfg.nonlinearity ?? 'tanh' });
}

function runModule(
  m: AnyRNN,
  c: ModuleCase,
  dtype: 'float64' | 'float32',
): { x: Tensor; h0?: Tensor; c0?: Tensor; y: Tensor; hn: Tensor; cn?: Tensor } {
  const x = dec(c.x, dtype).requiresGrad_();
  const h0 = c.h0 === undefined ? undefined : dec(c.h0, dtype).requiresGrad_();
  const c0 = c.c0 === undefined ? undefined : dec(c.c0, dtype).requiresGrad_();
  if (m instanceof LSTM) {
    const [y, [hn, cn]] = h0 === undefined ? m.call(x) : m.call(x, [h0, c0 as Tensor]);
    const res = { x, y, hn, cn };
    return h0 === undefined ? res : { ...res, h0, c0: c0 as Tensor };
  }
  const [y, hn] = h0 === undefined ? m.call(x) : m.call(x, h0);
  return h0 === undefined ? { x, y, hn } : { x, h0, y, hn };
}

function caseName(c: ModuleCase): string {
  const { T, B, ...rest } = c.cfg;
  return `${c.kind} ${JSON.stringify(rest)} T=${T} B=${B}`;
}

describe('RNN / LSTM / GRU match torch (float64, forward and every gradient)', () => {
  for (const c of fx.modules) {
    it(caseName(c), () => {
      const m = build(c, 'float64');
      expect(Object.keys(m.stateDict())).toEqual(Object.keys(c.state_dict));
      const r = m.loadStateDict(loadDict(c.state_dict));
      expect(r.missingKeys).toEqual([]);
      expect(r.unexpectedKeys).toEqual([]);
      expect(m.toString()).toBe(c.repr);
      const { x, h0, c0, y, hn, cn } = runModule(m, c, 'float64');
      close(y, c.y);
      close(hn, c.hn);
      if (c.cn !== undefined) close(cn, c.cn);
      let loss = y
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

describe('float32', () => {
  for (const c of fx.modules.filter((_, i) => i % 3 === 0)) {
    it(`${caseName(c)} within 1e-5`, () => {
      const m = build(c, 'float32');
      m.loadStateDict(loadDict(c.state_dict, 'float32'));
      const { x, y, hn, cn } = runModule(m, c, 'float32');
      expect(y.dtype).toBe('float32');
      close(y, c.y, 1e-5);
      close(hn, c.hn, 1e-5);
      let loss = y
        .mul(dec(c.R1, 'float32'))
        .sum()
        .add(hn.mul(dec(c.R2, 'float32')).sum());
      if (c.R3 !== undefined) loss = loss.add((cn as Tensor).mul(dec(c.R3, 'float32')).sum());
      loss.backward();
      close(x.grad, c.gx, 1e-5);
      for (const [name, p] of m.namedParameters()) close(p.grad, c.gparams[name] as Enc, 1e-5);
    });
  }
});

describe('cells match torch', () => {
  for (const c of fx.cells) {
    it(`${c.kind} ${JSON.stringify(c.kw)} batched=${c.batched} init=${c.init}`, () => {
      const bias = c.kw.bias ?? true;
      const m: Module<any[], any> =
        c.kind === 'RNNCell'
          ? new RNNCell(3, 4, { bias, nonlinearity: c.kw.nonlinearity ?? 'tanh', dtype: 'float64' })
          : c.kind === 'LSTMCell'
            ? new LSTMCell(3, 4, { bias, dtype: 'float64' })
            : new GRUCell(3, 4, { bias, dtype: 'float64' });
      expect(Object.keys(m.stateDict())).toEqual(Object.keys(c.state_dict));
      m.loadStateDict(loadDict(c.state_dict));
      expect(m.toString()).toBe(c.repr);
      const x = dec(c.x).requiresGrad_();
      const h0 = c.h0 === undefined ? undefined : dec(c.h0).requiresGrad_();
      const c0 = c.c0 === undefined ? undefined : dec(c.c0).requiresGrad_();
      if (c.kind === 'LSTMCell') {
        const [h, cc] = (h0 === undefined ? m.call(x) : m.call(x, [h0, c0])) as [Tensor, Tensor];
        close(h, c.h);
        close(cc, c.c as Enc);
        h.mul(dec(c.R1))
          .sum()
          .add(cc.mul(dec(c.R3 as Enc)).sum())
          .backward();
        if (c.gc0 !== undefined) close(c0?.grad, c.gc0);
      } else {
        const h = (h0 === undefined ? m.call(x) : m.call(x, h0)) as Tensor;
        close(h, c.h);
        h.mul(dec(c.R1)).sum().backward();
      }
      close(x.grad, c.gx);
      if (c.gh0 !== undefined) close(h0?.grad, c.gh0);
      for (const [name, p] of m.namedParameters()) close(p.grad, c.gparams[name] as Enc);
    });
  }
});

describe('reprs, keys and default init', () => {
  for (const r of fx.reprs) {
    it(r.repr.split('\n')[0] as string, () => {
      const [i, h] = r.args;
      const kw = r.kw;
      const common = {
        ...(kw.num_layers === undefined ? {} : { numLayers: kw.num_layers as number }),
        ...(kw.bias === undefined ? {} : { bias: kw.bias as boolean }),
        ...(kw.batch_first === undefined ? {} : { batchFirst: kw.batch_first as boolean }),
        ...(kw.dropout === undefined ? {} : { dropout: kw.dropout as number }),
        ...(kw.bidirectional === undefined ? {} : { bidirectional: kw.bidirectional as boolean }),
      };
      const nl = (kw.nonlinearity ?? 'tanh') as 'tanh' | 'relu';
      const m: Module<any[], any> =
        r.kind === 'LSTM'
          ? new LSTM(i, h, { ...common, projSize: (kw.proj_size ?? 0) as number })
          : r.kind === 'GRU'
            ? new GRU(i, h, common)
            : r.kind === 'RNN'
              ? new RNN(i, h, { ...common, nonlinearity: nl })
              : r.kind === 'RNNCell'
                ? new RNNCell(i, h, { bias: (kw.bias ?? true) as boolean, nonlinearity: nl })
                : r.kind === 'LSTMCell'
                  ? new LSTMCell(i, h, { bias: (kw.bias ?? true) as boolean })
                  : new GRUCell(i, h, { bias: (kw.bias ?? true) as boolean });
      expect(m.toString()).toBe(r.repr);
      const sd = m.stateDict();
      expect(Object.keys(sd)).toEqual(r.keys);
      expect(Object.values(sd).map((t) => t.shape)).toEqual(r.shapes);
      const bound = 1 / Math.sqrt(h);
      for (const p of m.parameters()) {
        const worst = (Array.from(p.dataSync()) as number[]).reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        expect(worst).toBeLessThanOrEqual(bound);
        expect(worst).toBeGreaterThan(0);
      }
    });
  }

  it('default init is seedable', () => {
    const a = new LSTM(3, 4, { generator: new Generator().manualSeed(7), dtype: 'float64' });
    const b = new LSTM(3, 4, { generator: new Generator().manualSeed(7), dtype: 'float64' });
    const c = new LSTM(3, 4, { generator: new Generator().manualSeed(8), dtype: 'float64' });
    expect(Array.from(a.getParameter('weight_ih_l0').dataSync())).toEqual(
      Array.from(b.getParameter('weight_ih_l0').dataSync()),
    );
    expect(Array.from(a.getParameter('weight_ih_l0').dataSync())).not.toEqual(
      Array.from(c.getParameter('weight_ih_l0').dataSync()),
    );
    const vals = Array.from(a.getParameter('bias_hh_l0').dataSync()) as number[];
    expect(Math.max(...vals.map(Math.abs))).toBeLessThanOrEqual(0.5);
    expect(new Set(vals).size).toBe(vals.length);
  });
});

describe('shapes of the seed notebook (003)', () => {
  it('LSTM(8, 64, batch_first=True): output [B, T, H], h_n [L, B, H], output[:, -1, :] == h_n[-1]', () => {
    const lstm = new LSTM(8, 64, { batchFirst: true, generator: new Generator().manualSeed(0) });
    const x = randn([10, 30, 8]);
    const [output, [hN, cN]] = lstm.call(x);
    expect(output.shape).toEqual([10, 30, 64]);
    expect(hN.shape).toEqual([1, 10, 64]);
    expect(cN.shape).toEqual([1, 10, 64]);
    expect(Array.from(output.select(1, -1).dataSync())).toEqual(Array.from(hN.select(0, -1).dataSync()));
    expect(lstm.toString()).toBe('LSTM(8, 64, batch_first=True)');
  });

  it('LSTM(5, 50, num_layers=2, batch_first=True): h_n[-1] is the last layer, outputs [20, 1] head', () => {
    const lstm = new LSTM(5, 50, { numLayers: 2, batchFirst: true });
    const [output, [hN, cN]] = lstm.call(randn([20, 7, 5]));
    expect(output.shape).toEqual([20, 7, 50]);
    expect(hN.shape).toEqual([2, 20, 50]);
    expect(cN.shape).toEqual([2, 20, 50]);
    expect(Array.from(output.select(1, -1).dataSync())).toEqual(Array.from(hN.select(0, -1).dataSync()));
  });

  it('LSTM(8, 64): time-major output [T, B, H]; output[-1] == h_n[-1]; flatten gives [B, T*H]', () => {
    const lstm = new LSTM(8, 64);
    const [output, [hN]] = lstm.call(randn([50, 64, 8]));
    expect(output.shape).toEqual([50, 64, 64]);
    expect(hN.shape).toEqual([1, 64, 64]);
    expect(Array.from(output.select(0, -1).dataSync())).toEqual(Array.from(hN.select(0, -1).dataSync()));
    const bf = new LSTM(8, 64, { batchFirst: true });
    const [out2] = bf.call(randn([64, 50, 8]));
    expect(out2.shape).toEqual([64, 50, 64]);
    expect(out2.reshape(out2.shape[0] as number, -1).shape).toEqual([64, 3200]);
  });

  it('bidirectional / proj / unbatched shapes', () => {
    const lstm = new LSTM(5, 50, { batchFirst: true, bidirectional: true, projSize: 10, numLayers: 3 });
    const [output, [hN, cN]] = lstm.call(randn([4, 6, 5]));
    expect(output.shape).toEqual([4, 6, 20]);
    expect(hN.shape).toEqual([6, 4, 10]);
    expect(cN.shape).toEqual([6, 4, 50]);
    const [o2, [h2, c2]] = lstm.call(randn([6, 5]));
    expect(o2.shape).toEqual([6, 20]);
    expect(h2.shape).toEqual([6, 10]);
    expect(c2.shape).toEqual([6, 50]);
    const gru = new GRU(3, 7, { bidirectional: true, numLayers: 2 });
    const [o3, h3] = gru.call(randn([9, 2, 3]));
    expect(o3.shape).toEqual([9, 2, 14]);
    expect(h3.shape).toEqual([4, 2, 7]);
    // forward direction's last step and reverse direction's first step
    expect(Array.from(o3.select(0, -1).narrow(-1, 0, 7).dataSync())).toEqual(
      Array.from(h3.select(0, 2).dataSync()),
    );
    expect(Array.from(o3.select(0, 0).narrow(-1, 7, 7).dataSync())).toEqual(
      Array.from(h3.select(0, 3).dataSync()),
    );
  });
});

describe('dropout between layers', () => {
  it('only in training, seeded, and never after the last layer', () => {
    const mk = (): GRU =>
      new GRU(3, 5, {
        numLayers: 2,
        dropout: 0.5,
        generator: new Generator().manualSeed(1),
        dropoutGenerator: new Generator().manualSeed(2),
        dtype: 'float64',
      });
    const x = randn([4, 2, 3], { dtype: 'float64' });
    const a = mk();
    const b = mk();
    const [ya] = a.call(x);
    const [yb] = b.call(x);
    expect(Array.from(ya.dataSync())).toEqual(Array.from(yb.dataSync()));
    a.eval();
    const [ye1] = a.call(x);
    const [ye2] = a.call(x);
    expect(Array.from(ye1.dataSync())).toEqual(Array.from(ye2.dataSync()));
    expect(Array.from(ye1.dataSync())).not.toEqual(Array.from(ya.dataSync()));
    // single layer: dropout has no effect
    const one = new GRU(3, 5, { dropout: 0.9, generator: new Generator().manualSeed(1), dtype: 'float64' });
    const [t1] = one.call(x);
    one.eval();
    const [t2] = one.call(x);
    expect(Array.from(t1.dataSync())).toEqual(Array.from(t2.dataSync()));
  });
});

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(GradfolioError.isInstance(e)).toBe(true);
    return `${(e as GradfolioError).code}: ${(e as Error).message}`;
  }
  throw new Error('did not throw');
}

describe('errors', () => {
  it('wrong input size', () => {
    expect(code(() => new LSTM(8, 4).call(randn([3, 2, 5])))).toBe(
      'SHAPE_MISMATCH: input.size(-1) must be equal to input_size. Expected 8, got 5',
    );
    expect(code(() => new GRU(8, 4).call(randn([3, 2, 2, 8])))).toBe(
      'SHAPE_MISMATCH: GRU: Expected input to be 2-D or 3-D but received 4-D tensor',
    );
    expect(code(() => new RNNCell(3, 4).call(randn([2, 5])))).toBe(
      'SHAPE_MISMATCH: input has inconsistent input_size: got 5 expected 3',
    );
  });

  it('wrong input dtype', () => {
    expect(
      code(() => new LSTM(3, 4, { dtype: 'float64' }).call(randn([5, 2, 3], { dtype: 'float32' }))),
    ).toBe('DTYPE_MISMATCH: input must have the type float64, got type float32');
  });

  it('wrong hidden shape', () => {
    expect(code(() => new GRU(3, 4, { numLayers: 2 }).call(randn([5, 2, 3]), randn([1, 2, 4])))).toBe(
      'SHAPE_MISMATCH: Expected hidden size (2, 2, 4), got [1, 2, 4]',
    );
    expect(code(() => new LSTM(3, 4).call(randn([5, 2, 3]), [randn([1, 2, 4]), randn([1, 3, 4])]))).toBe(
      'SHAPE_MISMATCH: Expected hidden[1] size (1, 2, 4), got [1, 3, 4]',
    );
    expect(
      code(() =>
        new LSTM(3, 4, { projSize: 2 }).call(randn([5, 2, 3]), [randn([1, 2, 4]), randn([1, 2, 4])]),
      ),
    ).toBe('SHAPE_MISMATCH: Expected hidden[0] size (1, 2, 2), got [1, 2, 4]');
    expect(code(() => new RNN(3, 4).call(randn([5, 2, 3]), randn([2, 4])))).toBe(
      'SHAPE_MISMATCH: For batched 3-D input, hx should also be 3-D but got 2-D tensor',
    );
    expect(code(() => new LSTM(3, 4).call(randn([5, 3]), [randn([1, 1, 4]), randn([1, 1, 4])]))).toBe(
      'SHAPE_MISMATCH: For unbatched 2-D input, hx and cx should also be 2-D but got (3-D, 3-D) tensors',
    );
    expect(code(() => new GRUCell(3, 4).call(randn([2, 3]), randn([2, 5])))).toBe(
      'SHAPE_MISMATCH: hidden0 has inconsistent hidden_size: got 5, expected 4',
    );
    expect(code(() => new GRUCell(3, 4).call(randn([2, 3]), randn([3, 4])))).toBe(
      "SHAPE_MISMATCH: Input batch size 2 doesn't match hidden0 batch size 3",
    );
  });

  it('bad constructor arguments', () => {
    expect(code(() => new LSTM(3, 4, { dropout: 1.5 }))).toMatch(
      /^INVALID_ARGUMENT: dropout should be a number/,
    );
    expect(code(() => new LSTM(3, 4, { projSize: 4 }))).toBe(
      'INVALID_ARGUMENT: proj_size has to be smaller than hidden_size',
    );
    expect(code(() => new GRU(3, 0))).toBe('INVALID_ARGUMENT: hidden_size must be greater than zero');
    expect(code(() => new RNN(3, 4, { numLayers: 0 }))).toBe(
      'INVALID_ARGUMENT: num_layers must be greater than zero',
    );
  });
});
