/**
 * LayerNorm, BatchNorm1d, Embedding and Conv1d (modules and functional forms) against PyTorch 1.13
 * (fixtures/norm_conv.json, written by fixtures/gen_norm_conv.py): outputs, input gradients,
 * parameter gradients, BatchNorm running statistics across train steps and eval outputs, plus
 * gradcheck and the default initialisations.
 */
import { readFileSync } from 'node:fs';
import { gradcheck, noGrad } from '@gradfolio/autograd';
import { type DType, GradfolioError, manualSeed, pad, randn, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { Conv1d, type ConvPadding, type ConvPaddingMode, conv1d } from '../src/conv.js';
import { Embedding, embedding } from '../src/embedding.js';
import type { AnyModule } from '../src/module.js';
import { BatchNorm1d, batchNorm, LayerNorm, layerNorm } from '../src/normalization.js';

interface FixtureTensor {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

interface Step {
  readonly mode: 'train' | 'eval';
  readonly input: FixtureTensor;
  readonly gradOutput: FixtureTensor;
  readonly output: FixtureTensor;
  readonly inputGrad?: FixtureTensor;
  readonly paramGrads: Readonly<Record<string, FixtureTensor | null>>;
}

interface Case {
  readonly id: string;
  readonly layer: 'LayerNorm' | 'BatchNorm1d' | 'Embedding' | 'Conv1d';
  readonly args: readonly unknown[];
  readonly options: Readonly<Record<string, unknown>>;
  readonly dtype: 'float64' | 'float32';
  readonly params: Readonly<Record<string, FixtureTensor>>;
  readonly steps: readonly Step[];
  readonly buffers: Readonly<Record<string, FixtureTensor>>;
  readonly finalParams: Readonly<Record<string, FixtureTensor>>;
  readonly repr: string;
}

const cases = JSON.parse(
  readFileSync(new URL('../fixtures/norm_conv.json', import.meta.url), 'utf8'),
) as readonly Case[];

function make(t: FixtureTensor, dtype: DType): Tensor {
  return tensor([...t.data], { dtype }).reshape([...t.shape]);
}

function tolOf(dtype: string): number {
  return dtype === 'float64' ? 1e-10 : 1e-5;
}

function expectClose(actual: Tensor | undefined, expected: FixtureTensor, tol: number, what: string): void {
  expect(actual, what).toBeDefined();
  const a = actual!;
  expect(a.shape, `${what} shape`).toEqual(expected.shape);
  const data = a.dataSync();
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i]!;
    const err = Math.abs(Number(data[i]) - e) / (1 + Math.abs(e));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `${what}: worst scaled error at ${at}`).toBeLessThanOrEqual(tol);
}

type Forward = (x: Tensor, mode: 'train' | 'eval') => Tensor;

/** Runs a fixture case through `build` (which gets the parameters as leaves) and checks every record. */
function replay(
  c: Case,
  params: Record<string, Tensor>,
  forward: Forward,
  buffers?: () => Record<string, Tensor>,
): void {
  const tol = tolOf(c.dtype);
  for (const [s, step] of c.steps.entries()) {
    for (const p of Object.values(params)) p.grad = undefined;
    const isIndex = c.layer === 'Embedding';
    const x = isIndex ? make(step.input, 'int32') : make(step.input, c.dtype).requiresGrad_();
    const out = forward(x, step.mode);
    expectClose(out, step.output, tol, `${c.id} step ${s} output`);
    out.mul(make(step.gradOutput, c.dtype)).sum().backward();
    if (step.inputGrad !== undefined)
      expectClose(x.grad, step.inputGrad, tol, `${c.id} step ${s} input grad`);
    for (const [name, g] of Object.entries(step.paramGrads)) {
      if (g === null) continue;
      expectClose(params[name]!.grad, g, tol, `${c.id} step ${s} ${name}.grad`);
    }
  }
  if (buffers !== undefined) {
    const b = buffers();
    for (const [name, expected] of Object.entries(c.buffers)) {
      if (name === 'num_batches_tracked') {
        expect(Number(b[name]!.itemSync()), `${c.id} ${name}`).toBe(expected.data[0]);
      } else {
        expectClose(b[name], expected, tol, `${c.id} ${name}`);
      }
    }
  }
  for (const [name, expected] of Object.entries(c.finalParams)) {
    expectClose(params[name], expected, tol, `${c.id} final ${name}`);
  }
}

function leafParams(c: Case): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(c.params)) out[name] = make(t, c.dtype).requiresGrad_();
  return out;
}

describe('functional forms against PyTorch', () => {
  for (const c of cases) {
    it(c.id, () => {
      const p = leafParams(c);
      const o = c.options;
      switch (c.layer) {
        case 'LayerNorm': {
          const shape = c.args[0] as number[];
          replay(c, p, (x) =>
            layerNorm(x, shape, {
              weight: p.weight,
              bias: p.bias,
              eps: (o.eps as number | undefined) ?? 1e-5,
            }),
          );
          break;
        }
        case 'BatchNorm1d': {
          const n = c.args[0] as number;
          const track = o.trackRunningStats !== false;
          const rm = tensor(new Array(n).fill(0), { dtype: c.dtype });
          const rv = tensor(new Array(n).fill(1), { dtype: c.dtype });
          let tracked = 0;
          replay(
            c,
            p,
            (x, mode) => {
              const training = mode === 'train';
              let momentum = o.momentum === undefined ? 0.1 : (o.momentum as number | null);
              if (training && track) {
                tracked++;
                if (momentum === null) momentum = 1 / tracked;
              }
              return batchNorm(x, track ? rm : undefined, track ? rv : undefined, {
                weight: p.weight,
                bias: p.bias,
                training: training || !track,
                momentum: momentum ?? 0,
                eps: (o.eps as number | undefined) ?? 1e-5,
              });
            },
            () => (track ? { running_mean: rm, running_var: rv, num_batches_tracked: tensor(tracked) } : {}),
          );
          break;
        }
        case 'Embedding':
          replay(c, p, (x) =>
            embedding(x, p.weight!, {
              paddingIdx: o.paddingIdx as number | undefined,
              maxNorm: o.maxNorm as number | undefined,
            }),
          );
          break;
        case 'Conv1d': {
          const mode = o.paddingMode as ConvPaddingMode | undefined;
          const padding = (o.padding as ConvPadding | undefined) ?? 0;
          const k = c.args[2] as number;
          const dilation = (o.dilation as number | undefined) ?? 1;
          replay(c, p, (x) => {
            let input = x;
            let pd = padding;
            if (mode !== undefined && mode !== 'zeros') {
              const total = padding === 'same' ? dilation * (k - 1) : (padding as number) * 2;
              const left = padding === 'same' ? Math.floor(total / 2) : (padding as number);
              input = pad(x, [left, total - left], { mode });
              pd = 0;
            }
            return conv1d(input, p.weight!, p.bias, {
              stride: (o.stride as number | undefined) ?? 1,
              padding: pd,
              dilation,
              groups: (o.groups as number | undefined) ?? 1,
            });
          });
          break;
        }
      }
    });
  }
});

function buildModule(c: Case): AnyModule {
  const o = { ...c.options, dtype: c.dtype } as Record<string, unknown>;
  const a = c.args;
  switch (c.layer) {
    case 'LayerNorm':
      return new LayerNorm(a[0] as number[], o);
    case 'BatchNorm1d':
      return new BatchNorm1d(a[0] as number, o);
    case 'Embedding':
      return new Embedding(a[0] as number, a[1] as number, o);
    case 'Conv1d':
      return new Conv1d(a[0] as number, a[1] as number, a[2] as number, o);
  }
}

describe('modules against PyTorch', () => {
  for (const c of cases) {
    it(c.id, () => {
      const m = buildModule(c);
      expect(m.toString(), `${c.id} repr`).toBe(c.repr);
      expect(
        m.namedParameters().map(([n]) => n),
        `${c.id} parameter names`,
      ).toEqual(Object.keys(c.params));
      expect(
        m.namedBuffers().map(([n]) => n),
        `${c.id} buffer names`,
      ).toEqual(Object.keys(c.buffers));
      const params: Record<string, Tensor> = {};
      for (const [name, p] of m.namedParameters()) {
        noGrad(() => p.copy_(make(c.params[name]!, c.dtype)));
        params[name] = p;
      }
      replay(
        c,
        params,
        (x, mode) => {
          m.train(mode === 'train');
          return m.call(x) as Tensor;
        },
        () => Object.fromEntries(m.namedBuffers()),
      );
    });
  }
});

describe('default initialisation', () => {
  it('LayerNorm and BatchNorm1d: ones / zeros, running 0 / 1', () => {
    const ln = new LayerNorm([2, 3]);
    expect(ln.weight!.toArraySync()).toEqual([
      [1, 1, 1],
      [1, 1, 1],
    ]);
    expect(ln.bias!.toArraySync()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    const bn = new BatchNorm1d(3, { dtype: 'float64' });
    expect(bn.weight!.toArraySync()).toEqual([1, 1, 1]);
    expect(bn.bias!.toArraySync()).toEqual([0, 0, 0]);
    expect(bn.runningMean!.toArraySync()).toEqual([0, 0, 0]);
    expect(bn.runningVar!.toArraySync()).toEqual([1, 1, 1]);
    expect(bn.numBatchesTracked!.itemSync()).toBe(0);
    expect(bn.weight!.dtype).toBe('float64');
    expect(Object.keys(bn.stateDict())).toEqual([
      'weight',
      'bias',
      'running_mean',
      'running_var',
      'num_batches_tracked',
    ]);
    expect(new LayerNorm(4, { elementwiseAffine: false }).parameters()).toHaveLength(0);
  });
  it('Embedding: N(0, 1) with a zero padding row', () => {
    manualSeed(0);
    const emb = new Embedding(400, 50, { paddingIdx: -2, dtype: 'float64' });
    expect(emb.paddingIdx).toBe(398);
    const data = emb.weight.dataSync();
    let sum = 0;
    let sq = 0;
    for (const v of data) {
      sum += v;
      sq += v * v;
    }
    const n = data.length - 50;
    expect(Math.abs(sum / n)).toBeLessThan(0.05);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
    expect(emb.weight.select(0, 398).toArraySync()).toEqual(new Array(50).fill(0));
    expect(emb.weight.requiresGrad).toBe(true);
    const frozen = Embedding.fromPretrained(
      tensor([
        [1, 2],
        [3, 4],
      ]).double(),
    );
    expect(frozen.weight.requiresGrad).toBe(false);
    expect(frozen.forward(tensor([1], { dtype: 'int32' })).toArraySync()).toEqual([[3, 4]]);
  });
  it('Conv1d: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weight and bias', () => {
    manualSeed(1);
    const conv = new Conv1d(8, 64, 5, { groups: 2, dtype: 'float64' });
    expect(conv.weight.shape).toEqual([64, 4, 5]);
    const bound = 1 / Math.sqrt(4 * 5);
    for (const t of [conv.weight, conv.bias!]) {
      const d = t.dataSync();
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of d) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(lo).toBeGreaterThanOrEqual(-bound);
      expect(hi).toBeLessThanOrEqual(bound);
      if (t === conv.weight) {
        expect(lo).toBeLessThan(-0.9 * bound);
        expect(hi).toBeGreaterThan(0.9 * bound);
      }
    }
    expect(new Conv1d(2, 2, 3, { bias: false }).bias).toBeUndefined();
  });
});

describe('module behaviour', () => {
  it('BatchNorm1d in eval uses the running statistics and does not update them', () => {
    const bn = new BatchNorm1d(2, { dtype: 'float64' }).eval();
    const x = tensor([
      [1, 2],
      [3, 5],
    ]).double();
    const y = bn.call(x);
    const s = 1 / Math.sqrt(1 + 1e-5);
    expect(y.toArraySync()).toEqual([
      [1 * s, 2 * s],
      [3 * s, 5 * s],
    ]);
    expect(bn.numBatchesTracked!.itemSync()).toBe(0);
    expect(() => bn.call(randn([2, 2, 2, 2]))).toThrow(/expected 2D or 3D input/);
  });
  it('Embedding padding row gets a zero gradient through the module', () => {
    const emb = new Embedding(4, 2, { paddingIdx: 1, dtype: 'float64' });
    emb
      .call(tensor([1, 1, 2], { dtype: 'int32' }))
      .sum()
      .backward();
    expect(emb.weight.grad!.toArraySync()).toEqual([
      [0, 0],
      [0, 0],
      [1, 1],
      [0, 0],
    ]);
  });
  it('Conv1d same padding keeps the length, unbatched input works', () => {
    const conv = new Conv1d(3, 4, 4, { padding: 'same', dilation: 3 });
    expect(conv.call(randn([2, 3, 11])).shape).toEqual([2, 4, 11]);
    expect(conv.call(randn([3, 11])).shape).toEqual([4, 11]);
    expect(() => new Conv1d(3, 4, 3, { groups: 2 })).toThrow(GradfolioError);
    expect(() => new Conv1d(3, 4, 3, { padding: 'same', stride: 2 })).toThrow(/same/);
  });
});

describe('gradcheck', () => {
  const opts = { dtype: 'float64' as const, requiresGrad: true };
  it('layerNorm', () => {
    const x = randn([3, 4], opts);
    const w = randn([4], opts);
    const b = randn([4], opts);
    expect(gradcheck((x, w, b) => layerNorm(x, [4], { weight: w, bias: b }), [x, w, b])).toBe(true);
  });
  it('batchNorm (training, [N, C, L])', () => {
    const x = randn([3, 2, 4], opts);
    const w = randn([2], opts);
    const b = randn([2], opts);
    expect(
      gradcheck(
        (x, w, b) => batchNorm(x, undefined, undefined, { weight: w, bias: b, training: true }),
        [x, w, b],
      ),
    ).toBe(true);
  });
  it('conv1d (groups, stride, dilation, padding)', () => {
    const x = randn([2, 4, 9], opts);
    const w = randn([6, 2, 3], opts);
    const b = randn([6], opts);
    expect(
      gradcheck((x, w, b) => conv1d(x, w, b, { groups: 2, stride: 2, dilation: 2, padding: 1 }), [x, w, b]),
    ).toBe(true);
  });
  it('embedding with paddingIdx', () => {
    const w = randn([5, 3], opts);
    const idx = tensor(
      [
        [0, 1],
        [4, 1],
      ],
      { dtype: 'int32' },
    );
    expect(gradcheck((w) => embedding(idx, w, { paddingIdx: 3 }), [w])).toBe(true);
  });
});

describe('errors', () => {
  it('layerNorm shape mismatch', () => {
    expect(() => layerNorm(randn([2, 3]), [4])).toThrow(GradfolioError);
  });
  it('batchNorm needs more than one value per channel in training', () => {
    const e = (() => {
      try {
        batchNorm(randn([1, 3]), undefined, undefined, { training: true });
      } catch (err) {
        return err as GradfolioError;
      }
      return undefined;
    })();
    expect(e?.code).toBe('INVALID_ARGUMENT');
  });
  it('conv1d rejects strided same padding and bad groups', () => {
    expect(() =>
      conv1d(randn([1, 2, 5]), randn([2, 2, 3]), undefined, { padding: 'same', stride: 2 }),
    ).toThrow(/same/);
    expect(() => conv1d(randn([1, 3, 5]), randn([2, 3, 3]), undefined, { groups: 2 })).toThrow(
      GradfolioError,
    );
  });
  it('embedding paddingIdx out of range', () => {
    expect(() => embedding(tensor([0], { dtype: 'int32' }), randn([3, 2]), { paddingIdx: 3 })).toThrow(
      GradfolioError,
    );
  });
});
