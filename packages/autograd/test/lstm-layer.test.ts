/**
 * The fused `lstmLayer` op: the CPU kernels (forward and backward) against the composite definition
 * (ordinary ops, differentiated by the engine), finite differences in float64, and gradients of
 * gradients (which run the derivative's composite formulas).
 */
import {
  createCPUBackend,
  type DType,
  Generator,
  GradfolioError,
  type LSTMLayerWeights,
  lstmLayer,
  lstmLayerComposite,
  randn,
  registerBackend,
  type Tensor,
} from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { grad, gradcheck, gradgradcheck } from '../src/index.js';

interface Args {
  x: Tensor;
  h0: Tensor;
  c0: Tensor;
  w: LSTMLayerWeights;
}

function makeArgs(T: number, B: number, H: number, dtype: DType, bias: boolean, seed: number, I = 3): Args {
  const g = new Generator().manualSeed(seed);
  const r = (shape: number[], s = 1): Tensor => randn(shape, { dtype, generator: g }).mul(s).requiresGrad_();
  return {
    x: r([T, B, I]),
    h0: r([B, H], 0.5),
    c0: r([B, H], 0.5),
    w: {
      wih: r([4 * H, I], 0.5),
      whh: r([4 * H, H], 0.4),
      bih: bias ? r([4 * H], 0.3) : undefined,
      bhh: bias ? r([4 * H], 0.3) : undefined,
    },
  };
}

function list(a: Args): Tensor[] {
  const l = [a.x, a.h0, a.c0, a.w.wih, a.w.whh];
  return a.w.bih === undefined ? l : [...l, a.w.bih, a.w.bhh as Tensor];
}

function fromList(xs: Tensor[]): [Tensor, Tensor, Tensor, LSTMLayerWeights] {
  return [xs[0]!, xs[1]!, xs[2]!, { wih: xs[3]!, whh: xs[4]!, bih: xs[5], bhh: xs[6] }];
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().itemSync() as number;
}

/** A loss that weighs every output element differently, so each gradient entry is checked. */
function loss(out: Tensor, hN: Tensor, cN: Tensor, seed: number): Tensor {
  const g = new Generator().manualSeed(seed);
  const w1 = randn(out.shape as number[], { dtype: out.dtype, generator: g });
  const w2 = randn(cN.shape as number[], { dtype: out.dtype, generator: g });
  return out.mul(w1).sum().add(cN.mul(w2).sum()).add(hN.pow(2).sum());
}

const CONFIGS: Array<[string, number, number, number, boolean, boolean, number?]> = [
  ['T5 B3 H4 bias', 5, 3, 4, true, false],
  ['T5 B3 H4 bias reverse', 5, 3, 4, true, true],
  ['T4 B2 H3 no bias', 4, 2, 3, false, false],
  ['T1 B1 H2', 1, 1, 2, true, true],
  ['T7 B16 H4 (seed 000)', 7, 16, 4, true, false],
  ['T12 B9 H37 (float32: scalar JS path, H % 4 != 0)', 12, 9, 37, true, true],
  ['T6 B5 H64 I8 bias (float32: wasm SIMD path, dx in the module)', 6, 5, 64, true, false, 8],
  ['T6 B5 H64 reverse no bias (float32: wasm SIMD path)', 6, 5, 64, false, true],
];

describe('lstmLayer: fused CPU kernels vs the composite definition', () => {
  for (const [name, T, B, H, bias, reverse, I] of CONFIGS) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`${name} ${dtype}: outputs, states and every gradient`, () => {
        const a = makeArgs(T, B, H, dtype, bias, T * 100 + H, I);
        const opts = { reverse };
        const fused = lstmLayer(a.x, a.h0, a.c0, a.w, opts);
        const comp = lstmLayerComposite(a.x, a.h0, a.c0, a.w, opts);
        expect(fused[0].gradFn?.name).toBe('LstmLayerBackward0');
        const tol = dtype === 'float64' ? 1e-12 : 2e-6;
        for (let k = 0; k < 3; k++) expect(maxAbsDiff(fused[k]!, comp[k]!)).toBeLessThan(tol);
        // hN is the output row of the last processed step.
        expect(maxAbsDiff(fused[1], fused[0].select(0, reverse ? 0 : T - 1))).toBe(0);
        const gf = grad(loss(...fused, 7), list(a));
        const gc = grad(loss(...comp, 7), list(a));
        for (let k = 0; k < gf.length; k++) {
          const scale = Math.max(1, gc[k]!.abs().max().itemSync() as number);
          expect(maxAbsDiff(gf[k]!, gc[k]!) / scale, `gradient ${k}`).toBeLessThan(
            dtype === 'float64' ? 1e-12 : 2e-5,
          );
        }
      });
    }
  }

  it('is one autograd node per direction (the composite records ~15 per step)', () => {
    const a = makeArgs(6, 2, 3, 'float64', true, 1);
    const [out] = lstmLayer(a.x, a.h0, a.c0, a.w);
    expect(out.gradFn?.name).toBe('LstmLayerBackward0');
    const names = (
      out.gradFn as unknown as { nextFunctions: Array<[{ name: string } | undefined, number]> }
    ).nextFunctions.map(([n]) => n?.name);
    expect(names).toEqual(Array(7).fill('AccumulateGrad'));
  });

  it('gradcheck and gradgradcheck in float64 (both directions, with and without bias)', () => {
    for (const [bias, reverse] of [
      [true, false],
      [false, true],
    ] as const) {
      const a = makeArgs(3, 2, 2, 'float64', bias, 5, 2);
      const fn = (...xs: Tensor[]): Tensor[] => {
        const [out, hN, cN] = lstmLayer(...fromList(xs), { reverse });
        return [out, hN, cN];
      };
      expect(gradcheck(fn, list(a))).toBe(true);
      expect(gradgradcheck(fn, list(a))).toBe(true);
    }
  });

  it('falls back to the composite on a backend without the fused kernels', () => {
    const cpu = createCPUBackend();
    const kernels = new Map(cpu.kernels);
    kernels.delete('lstmLayer');
    kernels.delete('lstmLayerBackward');
    registerBackend({ ...cpu, name: 'cpu-nofused', kernels });
    const a = makeArgs(4, 2, 3, 'float64', true, 9);
    const moved = list(a).map((t) => t.detach().to('cpu-nofused').requiresGrad_());
    const [out, hN, cN] = lstmLayer(...fromList(moved));
    expect(out.gradFn?.name).not.toBe('LstmLayerBackward0');
    const ref = lstmLayer(a.x, a.h0, a.c0, a.w);
    expect(maxAbsDiff(cN.to('cpu'), ref[2])).toBeLessThan(1e-12);
    expect(maxAbsDiff(hN.to('cpu'), ref[1])).toBeLessThan(1e-12);
  });

  it('names the shapes and dtypes of bad arguments', () => {
    const a = makeArgs(2, 3, 4, 'float64', true, 2);
    expect(() => lstmLayer(a.x, a.h0.narrow(1, 0, 3), a.c0, a.w)).toThrow(
      /lstmLayer: inconsistent sizes: x \[2, 3, 3\], h0 \[3, 3\]/,
    );
    expect(() => lstmLayer(a.x, a.h0, a.c0, { ...a.w, bhh: a.w.bhh?.narrow(0, 0, 8) })).toThrow(
      /bhh must be \[16\], got \[8\]/,
    );
    expect(() => lstmLayer(a.x, a.h0, a.c0, { ...a.w, bih: undefined })).toThrow(/both biases/);
    try {
      lstmLayer(a.x.float(), a.h0, a.c0, a.w);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GradfolioError);
      expect((e as GradfolioError).code).toBe('DTYPE_MISMATCH');
    }
  });
});
