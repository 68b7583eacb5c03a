import { readFileSync } from 'node:fs';
import '@gradfolio/autograd';
import { Generator, ones, randn, type Tensor, tensor, zeros } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import {
  ELU,
  GELU,
  LeakyReLU,
  LogSoftmax,
  ReLU,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  Tanh,
} from '../src/activation.js';
import { Dropout, Flatten, Identity, Linear, Unflatten } from '../src/linear.js';
import type { Module } from '../src/module.js';

// Reference values from PyTorch 1.13 in float64 (fixtures/gen_nn_basic.py).

interface Enc {
  shape: number[];
  data: Array<number | string>;
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/nn_basic.json', import.meta.url), 'utf8'));

function dec(e: Enc): Tensor {
  return tensor(e.data.map(Number), { dtype: 'float64' }).reshape(e.shape);
}

function close(actual: Tensor | undefined, expected: Enc, tol = 1e-10): void {
  expect(actual).toBeDefined();
  const a = actual as Tensor;
  expect(a.shape).toEqual(expected.shape);
  const d = a.dataSync();
  expected.data.forEach((v, i) => {
    expect(Math.abs((d[i] as number) - Number(v))).toBeLessThanOrEqual(tol * (1 + Math.abs(Number(v))));
  });
}

describe('Linear', () => {
  for (const c of fx.linear as Array<Record<string, any>>) {
    it(`Linear(${c.in}, ${c.out}, bias=${c.bias}) on ${JSON.stringify(c.x.shape)} matches torch`, () => {
      const m = new Linear(c.in, c.out, { bias: c.bias, dtype: 'float64' });
      const sd: Record<string, Tensor> = { weight: dec(c.weight) };
      if (c.bias) sd.bias = dec(c.b);
      m.loadStateDict(sd);
      expect(m.toString()).toBe(c.repr);
      const x = dec(c.x).requiresGrad_();
      const y = m.call(x);
      close(y, c.y);
      y.backward(dec(c.gy));
      close(x.grad, c.gx);
      close(m.weight.grad, c.gw);
      if (c.bias) close(m.bias?.grad, c.gb);
      else expect(m.bias).toBeUndefined();
    });
  }

  it('initialises like torch: weight in U(-1/sqrt(in), 1/sqrt(in)), bias likewise, seeded', () => {
    const a = new Linear(64, 200, { generator: new Generator().manualSeed(3) });
    const b = new Linear(64, 200, { generator: new Generator().manualSeed(3) });
    const bound = 1 / Math.sqrt(64);
    const w = a.weight.dataSync();
    expect(Math.max(...w)).toBeLessThanOrEqual(bound);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-bound);
    expect(Math.max(...w)).toBeGreaterThan(bound * 0.98);
    expect(Math.min(...w)).toBeLessThan(-bound * 0.98);
    const bb = (a.bias as Tensor).dataSync();
    expect(Math.max(...bb)).toBeLessThanOrEqual(bound);
    expect(Math.min(...bb)).toBeGreaterThanOrEqual(-bound);
    expect([...a.weight.dataSync()]).toEqual([...b.weight.dataSync()]);
    expect(a.weight.isLeaf && a.weight.requiresGrad).toBe(true);
  });

  it('validates sizes', () => {
    expect(() => new Linear(-1, 2)).toThrow(/non-negative integer/);
  });
});

const ctors: Record<string, (o: Record<string, any>) => Module> = {
  ReLU: () => new ReLU(),
  LeakyReLU: (o) => new LeakyReLU(o.negativeSlope),
  ELU: (o) => new ELU(o.alpha),
  GELU: (o) => new GELU(o),
  SiLU: () => new SiLU(),
  Sigmoid: () => new Sigmoid(),
  Tanh: () => new Tanh(),
  Softplus: (o) => new Softplus(o),
  Softmax: (o) => new Softmax(o.dim),
  LogSoftmax: (o) => new LogSoftmax(o.dim),
};

describe('activations', () => {
  for (const c of fx.activations as Array<Record<string, any>>) {
    it(`${c.repr} forward and backward match torch`, () => {
      const ctor = ctors[c.name];
      expect(ctor).toBeDefined();
      const m = (ctor as (o: Record<string, any>) => Module)(c.ctor);
      expect(m.toString()).toBe(c.repr);
      const x = dec(c.x).requiresGrad_();
      const y = m.call(x);
      close(y, c.y, 1e-9);
      y.backward(dec(c.gy));
      close(x.grad, c.gx, 1e-9);
    });
  }

  it('ReLU inplace', () => {
    const m = new ReLU({ inplace: true });
    const x = tensor([-1, 2]);
    expect(m.call(x)).toBe(x);
    expect([...x.dataSync()]).toEqual([0, 2]);
    expect(m.toString()).toBe('ReLU(inplace=True)');
  });
});

describe('Flatten / Unflatten / Identity', () => {
  for (const c of fx.shapes as Array<Record<string, any>>) {
    it(`${c.repr} maps ${JSON.stringify(c.in)} to ${JSON.stringify(c.out)}`, () => {
      const m =
        c.kind === 'Flatten' ? new Flatten(c.args[0], c.args[1]) : new Unflatten(c.args[0], c.args[1]);
      expect(m.toString()).toBe(c.repr);
      expect(m.call(zeros(c.in)).shape).toEqual(c.out);
    });
  }

  it('Flatten defaults to startDim=1', () => {
    expect(new Flatten().call(zeros([32, 1, 5, 5])).shape).toEqual([32, 25]);
  });

  it('Identity returns its input', () => {
    const x = randn([3]);
    expect(new Identity(54, { unused: true }).call(x)).toBe(x);
    expect(new Identity().toString()).toBe('Identity()');
  });
});

describe('Dropout', () => {
  it('drops and rescales in training, identity in eval, seeded', () => {
    const d = new Dropout(0.5, { generator: new Generator().manualSeed(0) });
    expect(d.toString()).toBe('Dropout(p=0.5, inplace=False)');
    const x = ones([10000]);
    const y = d.call(x).dataSync();
    const zerosCount = [...y].filter((v) => v === 0).length;
    expect([...y].every((v) => v === 0 || v === 2)).toBe(true);
    expect(zerosCount).toBeGreaterThan(4700);
    expect(zerosCount).toBeLessThan(5300);
    const again = new Dropout(0.5, { generator: new Generator().manualSeed(0) }).call(x).dataSync();
    expect([...again]).toEqual([...y]);
    d.eval();
    expect(d.training).toBe(false);
    expect(d.call(x)).toBe(x);
    d.train();
    expect(d.call(x)).not.toBe(x);
  });

  it('backpropagates through the mask', () => {
    const d = new Dropout(0.25, { generator: new Generator().manualSeed(1) });
    const x = ones([100]).requiresGrad_();
    const y = d.call(x);
    y.sum().backward();
    expect([...(x.grad as Tensor).dataSync()]).toEqual([...y.detach().dataSync()]);
  });

  it('p = 0 and p = 1, and range checks', () => {
    const x = randn([5]);
    expect(new Dropout(0).call(x)).toBe(x);
    expect([...new Dropout(1).call(x).dataSync()].every((v) => v === 0)).toBe(true);
    expect(() => new Dropout(1.5)).toThrow(/between 0 and 1, but got 1.5/);
  });
});
