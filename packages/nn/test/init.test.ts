import { readFileSync } from 'node:fs';
import '@gradfolio/autograd';
import { empty, Generator, type Tensor, zeros } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import {
  calculateFanInAndFanOut,
  calculateGain,
  constant_,
  eye_,
  kaimingNormal_,
  kaimingUniform_,
  type Nonlinearity,
  normal_,
  ones_,
  orthogonal_,
  truncNormal_,
  uniform_,
  xavierNormal_,
  xavierUniform_,
  zeros_,
} from '../src/init.js';
import { parameter } from '../src/module.js';

// Gains and fans from PyTorch 1.13 (fixtures/gen_nn_basic.py); distributions checked statistically.

const fx = JSON.parse(readFileSync(new URL('../fixtures/nn_basic.json', import.meta.url), 'utf8'));
const gen = (seed: number): Generator => new Generator().manualSeed(seed);

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const d = [...t.dataSync()];
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  const std = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (d.length - 1));
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of d) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { mean, std, min, max };
}

describe('gains and fans equal torch', () => {
  for (const c of fx.gains as Array<{ nonlinearity: Nonlinearity; param: number | null; gain: number }>) {
    it(`calculateGain(${c.nonlinearity}, ${c.param})`, () => {
      expect(calculateGain(c.nonlinearity, c.param ?? undefined)).toBeCloseTo(c.gain, 14);
    });
  }
  for (const c of fx.fans as Array<{ shape: number[]; fanIn: number; fanOut: number }>) {
    it(`fans of ${JSON.stringify(c.shape)}`, () => {
      expect(calculateFanInAndFanOut(empty(c.shape))).toEqual([c.fanIn, c.fanOut]);
      expect(calculateFanInAndFanOut(c.shape)).toEqual([c.fanIn, c.fanOut]);
    });
  }
  it('errors', () => {
    expect(() => calculateFanInAndFanOut([3])).toThrow(/fewer than 2 dimensions/);
    expect(() => calculateGain('nope' as Nonlinearity)).toThrow(/Unsupported nonlinearity nope/);
  });
});

describe('distributions', () => {
  const N = [400, 250];

  it('uniform_ bounds, mean, std; seeded reproducibility', () => {
    const t = uniform_(empty(N), -2, 3, { generator: gen(1) });
    const s = stats(t);
    expect(s.min).toBeGreaterThanOrEqual(-2);
    expect(s.max).toBeLessThanOrEqual(3);
    expect(s.mean).toBeCloseTo(0.5, 1);
    expect(s.std).toBeCloseTo(5 / Math.sqrt(12), 1);
    const u = uniform_(empty(N), -2, 3, { generator: gen(1) });
    expect([...u.dataSync()]).toEqual([...t.dataSync()]);
  });

  it('normal_ mean and std', () => {
    const s = stats(normal_(empty(N), 1, 0.5, { generator: gen(2) }));
    expect(s.mean).toBeCloseTo(1, 2);
    expect(s.std).toBeCloseTo(0.5, 2);
  });

  it('truncNormal_ stays in bounds', () => {
    const s = stats(truncNormal_(empty([20000]), { std: 1, a: -1, b: 1.5, generator: gen(3) }));
    expect(s.min).toBeGreaterThanOrEqual(-1);
    expect(s.max).toBeLessThanOrEqual(1.5);
  });

  it('constant_, zeros_, ones_, eye_', () => {
    expect([...constant_(empty([3]), 0.25).dataSync()]).toEqual([0.25, 0.25, 0.25]);
    expect([...zeros_(empty([2])).dataSync()]).toEqual([0, 0]);
    expect([...ones_(empty([2])).dataSync()]).toEqual([1, 1]);
    expect([...eye_(empty([2, 3])).dataSync()]).toEqual([1, 0, 0, 0, 1, 0]);
  });

  it('xavier uniform / normal use gain * sqrt(2 / (fanIn + fanOut))', () => {
    const shape = [300, 200];
    const std = 2 * Math.sqrt(2 / 500);
    const u = stats(xavierUniform_(empty(shape), { gain: 2, generator: gen(4) }));
    expect(u.max).toBeLessThanOrEqual(Math.sqrt(3) * std);
    expect(u.min).toBeGreaterThanOrEqual(-Math.sqrt(3) * std);
    expect(u.std / std).toBeCloseTo(1, 1);
    const n = stats(xavierNormal_(empty(shape), { gain: 2, generator: gen(5) }));
    expect(n.std / std).toBeCloseTo(1, 1);
    expect(Math.abs(n.mean)).toBeLessThan(0.01);
  });

  it('kaiming uniform / normal follow torch gain and fan rules', () => {
    const shape = [64, 32, 3, 3]; // fanIn 288, fanOut 576
    const a = Math.sqrt(5);
    const bound = calculateGain('leaky_relu', a) * Math.sqrt(3 / 288);
    const u = stats(kaimingUniform_(empty(shape), { a, generator: gen(6) }));
    expect(u.max).toBeLessThanOrEqual(bound);
    expect(u.min).toBeGreaterThanOrEqual(-bound);
    expect(u.max).toBeGreaterThan(bound * 0.99);
    const n = stats(
      kaimingNormal_(empty(shape), { mode: 'fan_out', nonlinearity: 'relu', generator: gen(7) }),
    );
    expect(n.std / Math.sqrt(2 / 576)).toBeCloseTo(1, 1);
    expect(() => kaimingUniform_(empty([3, 3]), { mode: 'bad' as 'fan_in' })).toThrow(/not supported/);
    expect(kaimingUniform_(empty([0, 3])).shape).toEqual([0, 3]);
  });

  it('orthogonal_ gives (semi-)orthogonal rows or columns, times gain, seeded', () => {
    for (const [r, c] of [
      [6, 4],
      [4, 6],
      [5, 5],
    ] as Array<[number, number]>) {
      const t = orthogonal_(empty([r, c], { dtype: 'float64' }), { gain: 2, generator: gen(8) });
      const q = t.div(2);
      const gram = r >= c ? q.T.matmul(q) : q.matmul(q.T);
      const k = Math.min(r, c);
      const d = gram.dataSync();
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++)
          expect(Math.abs((d[i * k + j] as number) - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
      const again = orthogonal_(empty([r, c], { dtype: 'float64' }), { gain: 2, generator: gen(8) });
      expect([...again.dataSync()]).toEqual([...t.dataSync()]);
    }
    expect(orthogonal_(empty([3, 2, 2])).shape).toEqual([3, 2, 2]);
    expect(() => orthogonal_(empty([3]))).toThrow(/2 or more dimensions/);
  });

  it('initialisers work on parameters without recording grad', () => {
    const p = parameter(zeros([3, 4]));
    kaimingUniform_(p);
    expect(p.isLeaf && p.requiresGrad).toBe(true);
    expect(p.gradFn).toBeUndefined();
  });
});
