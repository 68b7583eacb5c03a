/**
 * Fused elementwise chains (src/kernels/fusion.ts): consecutive pointwise ops become one dispatch. Each
 * case runs with fusion on and off on the same device (results must be bit-identical) and on the CPU,
 * and the buffer-reuse cases check the hazard rules: inputs freed and their buffers handed out again,
 * in-place ops, views of pending outputs, other kernels consuming them.
 */
import '@gradfolio/autograd';
import {
  full,
  manualSeed,
  randint,
  randn,
  type Tensor,
  type TypedArray,
  tensor,
  zeros,
} from '@gradfolio/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { gpuErrors, initTestGPU } from './gpu.js';
import { expectSame } from './helpers.js';

let gpu: WebGPUBackend;

beforeAll(async () => {
  gpu = await initTestGPU();
  manualSeed(99);
  // SwiftShader (CI's adapter) keeps the two paths bit-identical: hold it to that.
  if (gpu.device.adapterInfo.architecture === 'swiftshader') MAX_ULPS = 0;
});

afterEach(() => {
  gpu.context.fusion = true;
  expect(gpuErrors).toEqual([]);
});

/** Bit patterns (NaN payloads included) of a result, so fused and unfused must agree exactly. */
/**
 * Distance in float32 units in the last place (0 for equal values, NaN against NaN, +0 against -0);
 * integers and bools must be equal (distance 0 or Infinity).
 */
function ulps(a: TypedArray, b: TypedArray): number {
  expect(a.length).toBe(b.length);
  if (!(a instanceof Float32Array) || !(b instanceof Float32Array)) {
    return a.every((v, i) => v === b[i]) ? 0 : Number.POSITIVE_INFINITY;
  }
  // Bit patterns mapped to integers in the floats' order, so neighbouring floats differ by 1.
  const ordered = (v: Float32Array) =>
    Array.from(new Int32Array(v.buffer, v.byteOffset, v.length), (i) => (i < 0 ? -2147483648 - i : i));
  const ia = ordered(a);
  const ib = ordered(b);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!) && Number.isNaN(b[i]!)) continue;
    worst = Math.max(worst, Math.abs(ia[i]! - ib[i]!));
  }
  return worst;
}

/**
 * Fused and one-op kernels evaluate the same expressions in the same order: on SwiftShader (CI) the
 * bits are equal (0 ulp is required there, see beforeAll). A driver may still contract a multiply and
 * a following add into one FMA once they sit in one shader (Mesa's llvmpipe on the OpenGL backend
 * does: 1-2 ulp), so elsewhere a few ulp are allowed.
 */
let MAX_ULPS = 4;

/** Fused and unfused results agree: within MAX_ULPS, or (contraction next to cancellation) 1e-6 abs + rel. */
function agree(a: TypedArray, b: TypedArray, ulpBudget = MAX_ULPS): void {
  const d = ulps(a, b);
  if (d <= ulpBudget) return;
  expect(MAX_ULPS, `${d} ulp apart on an adapter held to bit-identity`).toBeGreaterThan(0);
  a.forEach((v, i) => {
    const w = Number(b[i]);
    expect(Math.abs(Number(v) - w)).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(w));
  });
}

/** Runs `fn` on the GPU with fusion on and off, and on the CPU: same values on the GPU (up to MAX_ULPS), close to the CPU. */
async function check(fn: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[]): Promise<void> {
  const gpuIn = inputs.map((t) => t.to('webgpu'));
  await Promise.all(gpuIn.map((t) => t.data()));
  const fused = fn(...gpuIn);
  const fusedData = await fused.data();
  gpu.context.fusion = false;
  const plain = fn(...gpuIn);
  const plainData = await plain.data();
  gpu.context.fusion = true;
  agree(fusedData, plainData);
  await expectSame(fused, fn(...inputs), { rtol: 1e-5, atol: 1e-6 });
}

/** Dispatches recorded while running `fn` and reading its result. */
async function dispatches(fn: () => Tensor): Promise<{ n: number; data: TypedArray }> {
  gpu.startProfile();
  const t = fn();
  const data = await t.data();
  const p = await gpu.endProfile();
  t.dispose();
  return { n: p.dispatches, data };
}

describe('fused chains: fused, unfused and CPU agree', () => {
  it('unary and binary ops with scalar operands', async () => {
    await check((x) => x.mul(2).add(1).exp().neg(), [randn([5, 7])]);
    await check((x) => x.sub(0.5).abs().sqrt().log().mul(3).tanh().sigmoid(), [randn([33])]);
    await check(
      (x, y) => x.mul(y).add(x, { alpha: 0.5 }).div(y.abs().add(1)).relu(),
      [randn([300]), randn([300])],
    );
    await check((x) => x.mul(1.0001).add(1e-3).mul(0.999).sub(1e-3).mul(1.7).add(0.25), [randn([257])]);
  });

  it('broadcasting inputs and 0-d tensors', async () => {
    await check((a, b, c) => a.add(b).mul(c).exp().sub(a), [randn([4, 1]), randn([1, 6]), randn([])]);
    await check((a, b) => a.mul(b).add(b).neg(), [randn([2, 3, 4]), randn([4])]);
    await check((a) => a.mul(2).add(1), [randn([])]);
  });

  it('dtype changes: comparisons to bool, then where and mul; int32 arithmetic', async () => {
    await check((x, y) => x.mul(2).where(x.gt(0), y.neg()).add(1), [randn([6, 5]), randn([6, 5])]);
    await check((x) => x.gt(0.1).logicalAnd(x.lt(1)).mul(x.exp()), [randn([40])]);
    await check((x) => x.gt(0).float().mul(3).int().add(1), [randn([17])]);
    await check(
      (i, j) => i.mul(3).add(j).remainder(7).mul(i).sub(2),
      [randint(-50, 50, [9, 4]), randint(1, 9, [9, 4])],
    );
    await check((i) => i.eq(3).logicalOr(i.lt(-10)), [randint(-20, 20, [64])]);
  });

  it('fill and casting copies join a chain', async () => {
    await check((x) => full([3, 4], 2.5, { device: x.device }).mul(x).add(1), [randn([3, 4])]);
    await check((x) => x.transpose(0, 1).contiguous().mul(2).add(x.transpose(0, 1)), [randn([4, 4])]);
  });

  it('many distinct inputs: more than the bindings of one dispatch', async () => {
    const xs = Array.from({ length: 11 }, () => randn([50]));
    await check((...v) => v.reduce((acc, t, k) => acc.mul(1.01).add(t, { alpha: k + 1 })), xs);
  });
});

describe('dispatch counts', () => {
  it('x.mul(2).add(1).exp().neg() is one dispatch fused, four unfused, same values', async () => {
    const x = randn([1000]).to('webgpu');
    await x.data();
    const fused = await dispatches(() => x.mul(2).add(1).exp().neg());
    gpu.context.fusion = false;
    const plain = await dispatches(() => x.mul(2).add(1).exp().neg());
    expect(fused.n).toBe(1);
    expect(plain.n).toBe(4);
    agree(fused.data, plain.data);
    x.dispose();
  });

  it('a 40-op chain is split at the binding limit; a shape change starts a new group', async () => {
    const x = randn([64]).to('webgpu');
    await x.data();
    const chain = () => {
      let y = x;
      for (let k = 0; k < 40; k++) {
        const z = y.mul(1.01);
        if (y !== x) y.dispose();
        y = z;
      }
      return y;
    };
    const long = await dispatches(chain);
    gpu.context.fusion = false;
    const longPlain = await dispatches(chain);
    gpu.context.fusion = true;
    expect(longPlain.n).toBe(40);
    // Each scalar operand is a buffer of its own, so the binding limit (8) splits the chain before
    // the node limit does: a few dispatches, not 40.
    expect(long.n).toBeLessThanOrEqual(10);
    agree(long.data, longPlain.data, MAX_ULPS * 10);
    const shapes = await dispatches(() => x.mul(2).reshape(8, 8).add(x.reshape(8, 8)).exp());
    expect(shapes.n).toBe(2);
    x.dispose();
  });
});

describe('intermediates', () => {
  it('an intermediate of the chain that is read is stored and correct', async () => {
    const xc = randn([100]);
    const x = xc.to('webgpu');
    const a = x.mul(2);
    const b = a.add(1).exp();
    const c = b.neg();
    await expectSame(a, xc.mul(2));
    await expectSame(b, xc.mul(2).add(1).exp());
    await expectSame(c, xc.mul(2).add(1).exp().neg());
  });

  it('intermediates disposed before the read: the result is still right', async () => {
    const xc = randn([100]);
    const x = xc.to('webgpu');
    const a = x.mul(2);
    const b = a.add(1);
    a.dispose();
    const c = b.exp();
    b.dispose();
    await expectSame(c, xc.mul(2).add(1).exp());
  });

  it('a chain whose outputs are all disposed records nothing', async () => {
    const x = randn([100]).to('webgpu');
    await x.data();
    gpu.startProfile();
    const a = x.mul(2);
    const b = a.add(1);
    a.dispose();
    b.dispose();
    const p = await gpu.endProfile();
    expect(p.dispatches).toBe(0);
  });
});

describe('buffer reuse hazards', () => {
  it('an input of a pending chain is freed and its buffer handed out again (upload, zeros, kernels)', async () => {
    for (const reuse of ['upload', 'zeros', 'kernel', 'chain'] as const) {
      const xc = randn([64]);
      const x = xc.to('webgpu');
      await x.data();
      const y = x.mul(2).add(1).exp();
      x.dispose(); // the pending chain still reads x's buffer
      let other: Tensor;
      if (reuse === 'upload') other = tensor(new Float32Array(64).fill(7)).to('webgpu');
      else if (reuse === 'zeros') other = zeros([64], { device: 'webgpu' });
      else if (reuse === 'kernel') other = y.sum().add(zeros([64], { device: 'webgpu' }));
      else other = full([64], 3, { device: 'webgpu' }).mul(2);
      await expectSame(y, xc.mul(2).add(1).exp());
      const want = { upload: 7, zeros: 0, kernel: Number.NaN, chain: 6 }[reuse];
      if (!Number.isNaN(want)) expect(Array.from(await other.data())).toEqual(new Array(64).fill(want));
      y.dispose();
      other.dispose();
    }
  });

  it('a disposed intermediate whose buffer is reused by the next op of the chain', async () => {
    const xc = randn([64]);
    const x = xc.to('webgpu');
    const a = x.mul(2);
    const b = a.exp();
    a.dispose(); // dead: not stored; its buffer may back the next output
    const c = b.add(tensor(new Float32Array(64).fill(1)).to('webgpu'));
    const d = c.mul(b);
    await expectSame(d, xc.mul(2).exp().add(1).mul(xc.mul(2).exp()));
    await expectSame(b, xc.mul(2).exp());
  });

  it('in-place ops in the middle of a chain, and on an input of a pending chain', async () => {
    await check(
      (x) => {
        const a = x.mul(2);
        a.add_(1);
        return a.exp().neg();
      },
      [randn([30])],
    );
    const xc = randn([30]);
    const x = xc.to('webgpu');
    const y = x.mul(2).add(1);
    x.add_(5); // must not be seen by the pending chain
    await expectSame(y, xc.mul(2).add(1));
    await expectSame(x, xc.add(5));
  });

  it('views of a pending output consumed by the next op are read after it is stored', async () => {
    await check(
      (x) => {
        const a = x.mul(2).add(1);
        return a.transpose(0, 1).mul(3).add(a);
      },
      [randn([5, 5])],
    );
    await check(
      (x) => {
        const a = x.mul(2);
        return a
          .narrow(0, 1, 2)
          .add(a.narrow(0, 0, 2))
          .exp();
      },
      [randn([3, 4])],
    );
    await check(
      (x) => {
        const a = x.exp();
        return a.flip(0).sub(a);
      },
      [randn([16])],
    );
  });

  it('a matmul and a reduction consume pending outputs', async () => {
    await check((a, b) => a.mul(2).add(1).matmul(b.exp()).neg(), [randn([6, 5]), randn([5, 3])]);
    await check((x) => x.mul(x).add(1).sum(1).sqrt(), [randn([7, 9])]);
  });
});

describe('autograd through fused chains', () => {
  it('gradients with fusion on and off agree', async () => {
    const xc = randn([8, 6]);
    const wc = randn([6]);
    const grads = async (fusion: boolean): Promise<TypedArray[]> => {
      gpu.context.fusion = fusion;
      const x = xc.to('webgpu').requiresGrad_();
      const w = wc.to('webgpu').requiresGrad_();
      const loss = x.mul(w).add(1).tanh().mul(x.sigmoid()).sub(w.exp()).pow(2).mean();
      loss.backward();
      return [await (x.grad as Tensor).data(), await (w.grad as Tensor).data()];
    };
    const on = await grads(true);
    const off = await grads(false);
    // Equal bits on SwiftShader; a few ulp where a driver contracts multiply-adds (see MAX_ULPS).
    agree(on[0]!, off[0]!, 4 * MAX_ULPS);
    agree(on[1]!, off[1]!, 4 * MAX_ULPS);
  });
});
