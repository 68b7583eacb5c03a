import { readFileSync } from 'node:fs';
import { grad, gradcheck } from '@gradfolio/autograd';
import { GradfolioError, logSoftmax, randn, softmax, type Tensor, tensor } from '@gradfolio/tensor';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BCELoss,
  BCEWithLogitsLoss,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  CrossEntropyLoss,
  crossEntropy,
  GaussianNLLLoss,
  gaussianNllLoss,
  HuberLoss,
  huberLoss,
  KLDivLoss,
  klDiv,
  L1Loss,
  l1Loss,
  MSELoss,
  mseLoss,
  NLLLoss,
  nllLoss,
  SmoothL1Loss,
  smoothL1Loss,
} from '../src/loss.js';

// Reference values and gradients from PyTorch 1.13 in float64 (fixtures/gen_losses.py).

interface Enc {
  shape: number[];
  dtype: 'float64' | 'int32';
  data: Array<number | string>;
}

interface Case {
  name: string;
  fn: string;
  options: Record<string, unknown>;
  inputs: Record<string, Enc | null>;
  output: Enc;
  warned: boolean;
  gradOutput?: Enc;
  grads: Record<string, Enc | null>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/losses.json', import.meta.url), 'utf8')) as {
  cases: Case[];
};

function nums(e: Enc): number[] {
  return e.data.map((v) => Number(v));
}

function dec(e: Enc, requiresGrad = false): Tensor {
  const t = tensor(nums(e), { dtype: e.dtype }).reshape(e.shape);
  return requiresGrad ? t.requiresGrad_() : t;
}

function expectClose(actual: Tensor, expected: Enc, tol = 1e-10): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = Array.from(actual.dataSync(), Number);
  const e = nums(expected);
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Number.isNaN(y)) expect(x).toBeNaN();
    else expect(Math.abs(x - y)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(y)));
  }
}

type Inputs = Record<string, Tensor | undefined>;

function call(c: Case, x: Inputs): Tensor {
  const o = c.options as Record<string, never>;
  const input = x.input!;
  const target = x.target!;
  switch (c.fn) {
    case 'mseLoss':
      return mseLoss(input, target, o);
    case 'l1Loss':
      return l1Loss(input, target, o);
    case 'smoothL1Loss':
      return smoothL1Loss(input, target, o);
    case 'huberLoss':
      return huberLoss(input, target, o);
    case 'binaryCrossEntropy':
      return binaryCrossEntropy(input, target, { ...o, weight: x.weight });
    case 'binaryCrossEntropyWithLogits':
      return binaryCrossEntropyWithLogits(input, target, { ...o, weight: x.weight, posWeight: x.pos_weight });
    case 'crossEntropy':
      return crossEntropy(input, target, { ...o, weight: x.weight });
    case 'nllLoss':
      return nllLoss(input, target, { ...o, weight: x.weight });
    case 'klDiv':
      return klDiv(input, target, o);
    case 'gaussianNllLoss':
      return gaussianNllLoss(input, target, x.var!, o);
    default:
      throw new Error(`unknown fn ${c.fn}`);
  }
}

describe('losses match PyTorch 1.13 (values and gradients)', () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  afterEach(() => warn.mockClear());
  for (const c of fixture.cases) {
    it(c.name, () => {
      const x: Inputs = {};
      for (const [k, v] of Object.entries(c.inputs)) {
        if (v !== null) x[k] = dec(v, k in c.grads);
      }
      const out = call(c, x);
      expectClose(out, c.output);
      // PyTorch warned where we may (our warnings print once per message); it did not, we must not.
      if (!c.warned) expect(warn).not.toHaveBeenCalled();
      if (c.gradOutput !== undefined) {
        const keys = Object.keys(c.grads);
        const gs = grad(
          out,
          keys.map((k) => x[k]!),
          { gradOutputs: dec(c.gradOutput) },
        );
        keys.forEach((k, i) => {
          const expected = c.grads[k];
          if (expected !== null && expected !== undefined) expectClose(gs[i]!, expected);
        });
      }
    });
  }
});

describe('size-mismatch warning', () => {
  it('mse/l1/smoothL1/huber broadcast with a console.warn printed once per shape pair', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const f = { dtype: 'float64' as const };
      const a = tensor([[1], [2], [3]], f);
      const b = tensor([0.5, 1, 1.5, 2, 2.5, 7], f);
      const out = mseLoss(a, b, { reduction: 'none' });
      expect(out.shape).toEqual([3, 6]);
      mseLoss(a, b);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain(
        'Using a target size ([6]) that is different to the input size ([3, 1])',
      );
      mseLoss(a, b);
      l1Loss(a, b);
      expect(warn).toHaveBeenCalledTimes(1);
      mseLoss(a, tensor([1, 2], f));
      expect(warn).toHaveBeenCalledTimes(2);
      mseLoss(a, tensor([[1], [2], [3]], f));
      expect(warn).toHaveBeenCalledTimes(2);
    } finally {
      warn.mockRestore();
    }
  });
  it('non-broadcastable shapes throw', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(() => mseLoss(randn([3]), randn([4]))).toThrow(GradfolioError);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('seed 002: L1Loss cell', () => {
  it('prints L1Loss() and gives 1.0261 with gradient ±1/6', () => {
    const lossFn = new L1Loss();
    expect(lossFn.toString()).toBe('L1Loss()');
    const input1 = tensor([
      [-0.3416, 1.9846, -0.048],
      [-0.5596, -0.3991, 0.0959],
    ]).requiresGrad_();
    const target = tensor([
      [-0.4779, 2.3243, 0.775],
      [-2.8559, 0.8496, -1.2165],
    ]);
    const output = lossFn.call(input1, target);
    expect(output.itemSync()).toBeCloseTo(1.0261, 4);
    output.backward();
    const g = Array.from(input1.grad!.dataSync(), Number);
    const s = 1 / 6;
    const expected = [s, -s, -s, s, -s, s];
    g.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i]!, 6);
    });
  });
});

describe('modules', () => {
  it('reprs are the class name with ()', () => {
    expect(new MSELoss().toString()).toBe('MSELoss()');
    expect(new L1Loss().toString()).toBe('L1Loss()');
    expect(new CrossEntropyLoss({ weight: tensor([1, 2]) }).toString()).toBe('CrossEntropyLoss()');
    expect(new KLDivLoss({ reduction: 'batchmean' }).toString()).toBe('KLDivLoss()');
  });
  it('forward equals the function form', () => {
    const a = randn([4, 3], { dtype: 'float64' });
    const b = randn([4, 3], { dtype: 'float64' });
    const p = a.sigmoid();
    const q = b.sigmoid();
    const lbl = tensor([0, 2, 1, 1], { dtype: 'int32' });
    const w = tensor([0.5, 1, 2], { dtype: 'float64' });
    const v = b.abs().add(0.1);
    const pairs: Array<[Tensor, Tensor]> = [
      [new MSELoss({ reduction: 'sum' }).call(a, b), mseLoss(a, b, { reduction: 'sum' })],
      [new L1Loss().call(a, b), l1Loss(a, b)],
      [new SmoothL1Loss({ beta: 0.3 }).call(a, b), smoothL1Loss(a, b, { beta: 0.3 })],
      [new HuberLoss({ delta: 0.3 }).call(a, b), huberLoss(a, b, { delta: 0.3 })],
      [new BCELoss({ weight: w }).call(p, q), binaryCrossEntropy(p, q, { weight: w })],
      [
        new BCEWithLogitsLoss({ posWeight: w }).call(a, q),
        binaryCrossEntropyWithLogits(a, q, { posWeight: w }),
      ],
      [
        new CrossEntropyLoss({ weight: w, labelSmoothing: 0.1, ignoreIndex: 2 }).call(a, lbl),
        crossEntropy(a, lbl, { weight: w, labelSmoothing: 0.1, ignoreIndex: 2 }),
      ],
      [new NLLLoss({ reduction: 'none' }).call(a, lbl), nllLoss(a, lbl, { reduction: 'none' })],
      [
        new KLDivLoss({ reduction: 'batchmean', logTarget: true }).call(a, b),
        klDiv(a, b, { reduction: 'batchmean', logTarget: true }),
      ],
      [new GaussianNLLLoss({ full: true }).call(a, b, v), gaussianNllLoss(a, b, v, { full: true })],
    ];
    for (const [m, f] of pairs) expect(Array.from(m.dataSync())).toEqual(Array.from(f.dataSync()));
  });
  it('weights are buffers', () => {
    const w = tensor([1, 2]);
    const m = new BCEWithLogitsLoss({ weight: w, posWeight: tensor([3, 1]) });
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['weight', 'pos_weight']);
    expect(new CrossEntropyLoss().namedBuffers()).toEqual([]);
  });
});

describe('gradcheck', () => {
  const d = { dtype: 'float64' as const };
  it('regression losses', () => {
    const a = randn([3, 4], d).requiresGrad_();
    const b = randn([3, 4], d).requiresGrad_();
    expect(gradcheck((x, y) => mseLoss(x!, y!), [a, b])).toBe(true);
    expect(gradcheck((x, y) => huberLoss(x!, y!, { delta: 0.4, reduction: 'sum' }), [a, b])).toBe(true);
    expect(gradcheck((x, y) => smoothL1Loss(x!, y!, { beta: 0.4, reduction: 'none' }), [a, b])).toBe(true);
  });
  it('binary cross entropy', () => {
    const x = randn([3, 4], d).sigmoid().detach().requiresGrad_();
    const t = randn([3, 4], d).sigmoid().detach().requiresGrad_();
    const logits = randn([3, 4], d).mul(3).detach().requiresGrad_();
    const pw = tensor([0.5, 1, 2, 3], d);
    expect(gradcheck((p, q) => binaryCrossEntropy(p!, q!), [x, t])).toBe(true);
    expect(gradcheck((p, q) => binaryCrossEntropyWithLogits(p!, q!, { posWeight: pw }), [logits, t])).toBe(
      true,
    );
  });
  it('cross entropy with class indices, probabilities and label smoothing', () => {
    const x = randn([5, 3, 2], d).requiresGrad_();
    const lbl = tensor(
      [
        [0, 1],
        [2, 2],
        [1, 0],
        [0, 0],
        [2, 1],
      ],
      { dtype: 'int32' },
    );
    const w = tensor([0.3, 1, 2], d);
    expect(
      gradcheck((z) => crossEntropy(z!, lbl, { weight: w, labelSmoothing: 0.2, ignoreIndex: 0 }), [x]),
    ).toBe(true);
    const p = softmax(randn([5, 3, 2], d), 1)
      .detach()
      .requiresGrad_();
    expect(gradcheck((z, q) => crossEntropy(z!, q!, { labelSmoothing: 0.1 }), [x, p])).toBe(true);
  });
  it('kl divergence and gaussian nll', () => {
    const x = logSoftmax(randn([3, 4], d), 1)
      .detach()
      .requiresGrad_();
    const t = softmax(randn([3, 4], d), 1)
      .detach()
      .requiresGrad_();
    expect(gradcheck((a, b) => klDiv(a!, b!, { reduction: 'batchmean' }), [x, t])).toBe(true);
    const mu = randn([3, 4], d).requiresGrad_();
    const v = randn([3, 1], d).abs().add(0.2).detach().requiresGrad_();
    expect(gradcheck((a, b, c) => gaussianNllLoss(a!, b!, c!, { full: true }), [mu, x, v])).toBe(true);
  });
});

describe('errors where PyTorch errors', () => {
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (e) {
      if (GradfolioError.isInstance(e)) return e.code as string;
      throw e;
    }
    return undefined;
  };
  const i32 = { dtype: 'int32' as const };
  it('reduction', () => {
    expect(code(() => mseLoss(randn([2]), randn([2]), { reduction: 'avg' as never }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(code(() => l1Loss(randn([2]), randn([2]), { reduction: 'batchmean' as never }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(() => new MSELoss({ reduction: 'x' as never })).toThrow(GradfolioError);
  });
  it('regression parameters', () => {
    expect(code(() => smoothL1Loss(randn([2]), randn([2]), { beta: -1 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => huberLoss(randn([2]), randn([2]), { delta: 0 }))).toBe('INVALID_ARGUMENT');
  });
  it('binary cross entropy: shapes and range', () => {
    expect(code(() => binaryCrossEntropy(tensor([0.5, 0.5]), tensor([[1, 0]])))).toBe('SHAPE_MISMATCH');
    expect(code(() => binaryCrossEntropy(tensor([1.5, 0.5]), tensor([1, 0])))).toBe('INVALID_ARGUMENT');
    expect(code(() => binaryCrossEntropy(tensor([Number.NaN, 0.5]), tensor([1, 0])))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(code(() => binaryCrossEntropyWithLogits(randn([3]), randn([3, 1])))).toBe('SHAPE_MISMATCH');
  });
  it('cross entropy / nll: target shape, dtype, bounds, weight, smoothing', () => {
    const x = randn([4, 3]);
    expect(code(() => crossEntropy(x, tensor([0, 1, 2], i32)))).toBe('SHAPE_MISMATCH');
    expect(code(() => crossEntropy(randn([2, 3, 4]), tensor([[0, 1, 2]], i32)))).toBe('SHAPE_MISMATCH');
    expect(
      code(() =>
        crossEntropy(
          randn([2, 3, 4]),
          tensor(
            [
              [0, 1, 2],
              [0, 1, 2],
            ],
            i32,
          ),
        ),
      ),
    ).toBe('SHAPE_MISMATCH');
    expect(code(() => crossEntropy(randn([]), tensor(0, i32)))).toBe('SHAPE_MISMATCH');
    expect(code(() => crossEntropy(x, tensor([0, 1, 2, 3], i32)))).toBe('INDEX_OUT_OF_RANGE');
    expect(code(() => crossEntropy(x, tensor([0, 1, 2, -1], i32)))).toBe('INDEX_OUT_OF_RANGE');
    expect(code(() => crossEntropy(x, tensor([0, 1, 2, 1], { dtype: 'float32' })))).toBe('DTYPE_MISMATCH');
    expect(code(() => crossEntropy(x, tensor([0, 1, 2, 1], i32), { weight: tensor([1, 2]) }))).toBe(
      'SHAPE_MISMATCH',
    );
    expect(code(() => crossEntropy(x, tensor([0, 1, 2, 1], i32), { labelSmoothing: 1.5 }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(code(() => crossEntropy(x, randn([4, 3]).softmax(1), { ignoreIndex: 1 }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(code(() => nllLoss(x, tensor([0, 1, 5, 1], i32)))).toBe('INDEX_OUT_OF_RANGE');
    expect(code(() => nllLoss(x, tensor([0, 1], i32)))).toBe('SHAPE_MISMATCH');
    // an ignored target may be out of range
    expect(code(() => nllLoss(x, tensor([0, 1, 7, 1], i32), { ignoreIndex: 7 }))).toBeUndefined();
  });
  it('kl divergence reduction', () => {
    expect(code(() => klDiv(randn([2]), randn([2]), { reduction: 'avg' as never }))).toBe('INVALID_ARGUMENT');
  });
  it("kl divergence 'mean' warns like PyTorch", () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      klDiv(randn([2]), randn([2]).abs());
      klDiv(randn([2]), randn([2]).abs());
      expect(warn.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      warn.mockRestore();
    }
  });
  it('gaussian nll: var shape and sign', () => {
    expect(code(() => gaussianNllLoss(randn([4, 3]), randn([4, 3]), randn([4, 2]).abs()))).toBe(
      'SHAPE_MISMATCH',
    );
    expect(code(() => gaussianNllLoss(randn([4, 3]), randn([4, 3]), randn([3]).abs()))).toBe(
      'SHAPE_MISMATCH',
    );
    expect(code(() => gaussianNllLoss(randn([2]), randn([2]), tensor([0.5, -0.1])))).toBe('INVALID_ARGUMENT');
    expect(code(() => gaussianNllLoss(randn([4, 3]), randn([4, 3]), randn([4]).abs()))).toBeUndefined();
  });
});
