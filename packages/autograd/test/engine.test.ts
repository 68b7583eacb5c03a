import { GradfolioError, getAutogradHook, ones, randn, type Tensor, tensor, zeros } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import {
  backward,
  detectAnomaly,
  enableGrad,
  grad,
  gradcheck,
  gradgradcheck,
  isGradEnabled,
  type Node,
  noGrad,
  setGradEnabled,
  zeroGrad,
} from '../src/index.js';

function vals(t: Tensor | undefined): number[] {
  if (t === undefined) throw new Error('expected a tensor');
  return Array.from(t.dataSync() as Float32Array, Number);
}

function close(t: Tensor | undefined, expected: number[], tol = 1e-5): void {
  const v = vals(t);
  expect(v.length).toBe(expected.length);
  v.forEach((x, i) => {
    expect(Math.abs(x - expected[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected[i]!)));
  });
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (GradfolioError.isInstance(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('expected an error');
}

describe('leaves, gradFn and requiresGrad', () => {
  it('requiresGrad defaults to false; leaves and non-leaves', () => {
    const x = tensor([1.5, 2.5]);
    expect(x.requiresGrad).toBe(false);
    expect(x.isLeaf).toBe(true);
    x.requiresGrad_();
    const y = x.mul(2);
    expect(y.requiresGrad).toBe(true);
    expect(y.isLeaf).toBe(false);
    expect(y.gradFn?.name).toBe('MulBackward0');
    expect(x.add(1).gradFn?.name).toBe('AddBackward0');
    expect(x.reshape(2, 1).matmul(x.reshape(1, 2)).gradFn?.name).toBe('MmBackward0');
    expect(x.sum().gradFn?.name).toBe('SumBackward0');
    expect(x.exp().gradFn?.name).toBe('ExpBackward0');
    expect(y.toString()).toBe('tensor([3., 5.], gradFn=<MulBackward0>)');
  });

  it('ops on tensors that do not require grad are not recorded', () => {
    const x = tensor([1.5, 2.5]);
    const y = x.mul(2);
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeUndefined();
  });

  it('nextFunctions walks the graph down to AccumulateGrad', () => {
    const x = tensor([1.5], { requiresGrad: true });
    const y = x.mul(x).sum();
    const mul = (y.gradFn as Node).nextFunctions[0]![0];
    expect(mul.name).toBe('MulBackward0');
    expect(mul.nextFunctions.map((e) => e?.[0].name)).toEqual(['AccumulateGrad', 'AccumulateGrad']);
    expect(mul.nextFunctions[0]![0]).toBe(mul.nextFunctions[1]![0]);
  });

  it('integer tensors cannot require grad; non-leaves cannot stop requiring it', () => {
    expect(codeOf(() => tensor([1, 2], { dtype: 'int32' }).requiresGrad_())).toMatch(
      /^DTYPE_MISMATCH: .*floating point/,
    );
    const y = tensor([1.5], { requiresGrad: true }).mul(2);
    expect(codeOf(() => y.requiresGrad_(false))).toMatch(/^INVALID_ARGUMENT: .*leaf/);
  });
});

describe('backward', () => {
  it('on a scalar, and on a one-element tensor', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.pow(2).sum().backward();
    close(x.grad, [2, 4, 6]);
    const w = tensor([[2]], { requiresGrad: true });
    w.mul(3).backward();
    close(w.grad, [3]);
  });

  it('a non-scalar needs an explicit gradient', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(2);
    const msg = codeOf(() => y.backward());
    expect(msg).toMatch(/^NOT_SCALAR: backward: grad can be implicitly created only for scalar outputs/);
    expect(msg).toContain('[3]');
    y.backward(tensor([1, 0.5, -1]));
    close(x.grad, [2, 1, -2]);
  });

  it('gradient of the wrong shape and outputs without grad are rejected', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    expect(codeOf(() => x.mul(2).backward(tensor([1, 2], { dtype: 'float32' })))).toMatch(
      /^SHAPE_MISMATCH: .*grad_output\[0\] has a shape of \[2\] and output\[0\] has a shape of \[3\]/,
    );
    expect(codeOf(() => tensor([1.5]).sum().backward())).toMatch(/^NO_GRAD: .*does not require grad/);
  });

  it('accumulates until zeroed; zeroGrad drops or zeroes', () => {
    const x = tensor([2], { requiresGrad: true });
    x.mul(x).sum().backward();
    x.mul(x).sum().backward();
    close(x.grad, [8]);
    const g = x.grad!;
    x.grad!.zero_();
    x.mul(x).sum().backward();
    expect(x.grad).toBe(g); // accumulated in place, like PyTorch
    close(x.grad, [4]);
    zeroGrad([x], { setToNone: false });
    close(x.grad, [0]);
    zeroGrad([x]);
    expect(x.grad).toBeUndefined();
  });

  it('a freed graph fails the second time; retainGraph keeps it', () => {
    const x = tensor([-3], { requiresGrad: true });
    const y = x.pow(2).sum();
    y.backward();
    const msg = codeOf(() => y.backward());
    expect(msg).toMatch(/^GRAPH_FREED: PowBackward0: Trying to backward through the graph a second time/);
    expect(msg).toContain('retainGraph: true');
    const x2 = tensor([-3], { requiresGrad: true });
    const y2 = x2.pow(2).sum();
    y2.backward(undefined, { retainGraph: true });
    close(x2.grad, [-6]);
    y2.backward();
    close(x2.grad, [-12]);
  });

  it('graphs without saved tensors can be walked again, as in PyTorch', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.add(1).sum();
    y.backward();
    y.backward();
    close(x.grad, [2, 2]);
  });

  it('broadcast inputs get gradients summed to their shape and dtype', () => {
    const a = randn([3, 1], { dtype: 'float64' }).requiresGrad_();
    const b = tensor([1, 2, 3, 4], { requiresGrad: true }); // float32
    a.mul(b).sum().backward();
    expect(a.grad!.shape).toEqual([3, 1]);
    expect(a.grad!.dtype).toBe('float64');
    close(a.grad, [10, 10, 10]);
    expect(b.grad!.dtype).toBe('float32');
    const s = vals(a).reduce((p, q) => p + q, 0);
    close(b.grad, [s, s, s, s], 1e-6);
  });

  it('backward with inputs only fills those', () => {
    const x = tensor([1], { requiresGrad: true });
    const w = tensor([3], { requiresGrad: true });
    backward(x.mul(w).sum(), undefined, { inputs: [w] });
    expect(x.grad).toBeUndefined();
    close(w.grad, [1]);
  });

  it('visits a node reused many times once (recurrence)', () => {
    const w = tensor([0.5], { requiresGrad: true });
    let h = tensor([1], { requiresGrad: true });
    const h0 = h;
    let calls = 0;
    const shared = w.mul(1);
    shared.registerHook((g) => {
      calls++;
      return g;
    });
    for (let t = 0; t < 50; t++) h = h.mul(shared).tanh();
    h.sum().backward();
    expect(calls).toBe(1);
    expect(Number.isFinite(vals(w.grad)[0]!)).toBe(true);
    expect(h0.grad).toBeDefined();
  });

  it('deep chains do not overflow the stack', () => {
    const x = tensor([0.5], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 20000; i++) y = y.add(0.0001);
    y.sum().backward();
    close(x.grad, [1]);
  });
});

describe('grad()', () => {
  it('returns gradients without touching .grad', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const [g] = grad(x.mul(x), x, { gradOutputs: tensor([1, 1], { dtype: 'float32' }) });
    close(g, [2, 4]);
    expect(x.grad).toBeUndefined();
    expect(g!.requiresGrad).toBe(false);
  });

  it('with createGraph gives second derivatives', () => {
    const x = tensor([0.5, 1, 2], { requiresGrad: true });
    const [d1] = grad(x.pow(3).sum(), x, { createGraph: true });
    close(d1, [0.75, 3, 12]);
    expect(d1!.requiresGrad).toBe(true);
    const [d2] = grad(d1!.sum(), x, { createGraph: true });
    close(d2, [3, 6, 12]);
    const [d3] = grad(d2!.sum(), x);
    close(d3, [6, 6, 6]);
  });

  it('a derivative inside a loss backpropagates to weights', () => {
    // u(x) = w * x^2, du/dx = 2 w x; loss = sum((du/dx)^2) = 4 w^2 sum(x^2) -> dloss/dw = 8 w sum(x^2)
    const w = tensor([1.5], { requiresGrad: true });
    const x = tensor([1, 2], { requiresGrad: true });
    const u = w.mul(x.pow(2));
    const [du] = grad(u, x, { gradOutputs: ones([2]), createGraph: true });
    du!.pow(2).sum().backward();
    close(w.grad, [8 * 1.5 * 5]);
  });

  it('unused inputs fail unless allowUnused', () => {
    const x = tensor([1], { requiresGrad: true });
    const z = tensor([1], { requiresGrad: true });
    expect(codeOf(() => grad(x.mul(2).sum(), [x, z]))).toMatch(/^UNUSED_INPUT: .*allowUnused: true/);
    const [gx, gz] = grad(x.mul(2).sum(), [x, z], { allowUnused: true });
    close(gx, [2]);
    expect(gz).toBeUndefined();
  });

  it('inputs must require grad; gradOutputs must match the outputs', () => {
    const x = tensor([1], { requiresGrad: true });
    expect(codeOf(() => grad(x.mul(2).sum(), tensor([1.5])))).toMatch(/^NO_GRAD: grad: input 0/);
    expect(codeOf(() => grad([x.mul(2)], [x], { gradOutputs: [] }))).toMatch(
      /^INVALID_ARGUMENT: .*1 outputs/,
    );
  });

  it('with respect to a non-leaf', () => {
    const x = tensor([3], { requiresGrad: true });
    const y = x.mul(2);
    const [g] = grad(y.pow(2).sum(), y);
    close(g, [12]);
  });
});

describe('grad mode', () => {
  it('noGrad, the scope form, enableGrad and setGradEnabled', () => {
    const x = tensor([5], { requiresGrad: true });
    const y = noGrad(() => x.pow(2).add(x.mul(3)));
    expect(y.requiresGrad).toBe(false);
    close(y, [40]);
    {
      using _ = noGrad();
      expect(isGradEnabled()).toBe(false);
      expect(x.mul(2).requiresGrad).toBe(false);
      expect(enableGrad(() => x.mul(2)).requiresGrad).toBe(true);
    }
    expect(isGradEnabled()).toBe(true);
    setGradEnabled(false);
    try {
      expect(x.mul(2).requiresGrad).toBe(false);
    } finally {
      setGradEnabled(true);
    }
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
  });

  it('detach shares storage and cuts the graph; detach_ in place', () => {
    const x = tensor([5], { requiresGrad: true });
    const y = x.pow(2);
    const z = y.detach();
    expect(z.requiresGrad).toBe(false);
    expect(z.storage).toBe(y.storage);
    const w = x.mul(3);
    w.detach_();
    expect(w.requiresGrad).toBe(false);
    expect(w.gradFn).toBeUndefined();
    const loss = y.add(z).sum();
    loss.backward();
    close(x.grad, [10]);
  });

  it('retainGrad keeps a non-leaf gradient', () => {
    const x = tensor([2], { requiresGrad: true });
    const y = x.mul(3);
    y.retainGrad();
    const z = x.mul(5);
    y.mul(y).sum().backward();
    close(y.grad, [12]);
    expect(z.grad).toBeUndefined();
    expect(codeOf(() => tensor([1.5]).retainGrad())).toMatch(/^NO_GRAD/);
  });
});

describe('in-place safety', () => {
  it('modifying a tensor saved for backward fails naming the op', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(1);
    const z = y.exp(); // saves its output
    z.add_(1);
    const msg = codeOf(() => z.sum().backward());
    expect(msg).toMatch(
      /^INPLACE_ERROR: one of the variables needed for gradient computation has been modified by an inplace operation/,
    );
    expect(msg).toContain("'exp'");
    expect(msg).toContain('version 1; expected version 0');
  });

  it('in place on a leaf that requires grad fails; inside noGrad it works', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(codeOf(() => w.add_(1))).toMatch(/^INPLACE_ERROR: add_: a leaf tensor that requires grad/);
    expect(codeOf(() => w.narrow(0, 0, 1).mul_(2))).toMatch(/^INPLACE_ERROR: mul_: a view of a leaf tensor/);
    noGrad(() => w.sub_(0.5));
    close(w, [0.5, 1.5]);
    expect(w.requiresGrad).toBe(true);
  });

  it('in place on a non-leaf is recorded', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    y.mul_(3).add_(1);
    expect(y.gradFn?.name).toBe('AddBackward0');
    y.sum().backward();
    close(x.grad, [6, 6]);
    close(y, [7, 13]);
  });

  it('in place on a view of a non-leaf rebases the base (CopySlices)', () => {
    const x = tensor([1, 2, 3, 4], { requiresGrad: true });
    const w = tensor([10], { requiresGrad: true });
    const y = x.mul(1);
    y.narrow(0, 1, 2).mul_(w);
    expect(y.gradFn?.name).toBe('CopySlices');
    close(y, [1, 20, 30, 4]);
    y.mul(tensor([1, 2, 3, 4], { dtype: 'float32' }))
      .sum()
      .backward();
    close(x.grad, [1, 20, 30, 4]);
    close(w.grad, [2 * 2 + 3 * 3]);
  });

  it('views taken before an in-place op on their base follow its new history', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const h = x.mul(1);
    const v = h.narrow(0, 0, 2);
    h.mul_(2);
    close(v, [2, 4]);
    v.sum().backward();
    close(x.grad, [2, 2, 0]);
    // an in-place op through one view, then another view of the same base
    const x2 = tensor([1, 2, 3], { requiresGrad: true });
    const h2 = x2.mul(1);
    const a = h2.narrow(0, 0, 1);
    const b = h2.narrow(0, 1, 2);
    a.mul_(5);
    h2.add_(1);
    b.mul(a).sum().backward(); // (x1 + 1, x2 + 1) * (5 x0 + 1)
    close(x2.grad, [5 * (2 + 1 + 3 + 1), 5 + 1, 5 + 1]);
    // the base overwritten with constants: the old view carries no gradient any more
    const x3 = tensor([1, 2], { requiresGrad: true });
    const h3 = x3.mul(1);
    const v3 = h3.narrow(0, 0, 1);
    h3.fill_(7);
    expect(v3.mul(x3).sum().requiresGrad).toBe(true);
    v3.mul(x3).sum().backward();
    close(x3.grad, [7, 7]); // not [7 + 2, 7]: v3 is a constant now
  });

  it('copy_ of a tracked source into a view; fill_ masks the region', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const s = tensor([7], { requiresGrad: true });
    const y = x.mul(1);
    y.narrow(0, 0, 2).copy_(s);
    close(y, [7, 7, 3]);
    y.sum().backward();
    close(x.grad, [0, 0, 1]);
    close(s.grad, [2]);
    const x2 = tensor([1, 2, 3], { requiresGrad: true });
    const y2 = x2.mul(2);
    y2.narrow(0, 2, 1).fill_(0);
    y2.sum().backward();
    close(x2.grad, [2, 2, 0]);
  });
});

describe('hooks and anomaly mode', () => {
  it('hooks see and replace gradients; remove() unregisters', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const seen: number[][] = [];
    const h = x.registerHook((g) => {
      seen.push(vals(g));
      return g.mul(10);
    });
    x.mul(3).sum().backward();
    close(x.grad, [30, 30]);
    expect(seen).toEqual([[3, 3]]);
    h.remove();
    x.grad = undefined;
    x.mul(3).sum().backward();
    close(x.grad, [3, 3]);
    const y = x.mul(2);
    y.registerHook((g) => g.mul(0));
    y.sum().backward();
    close(x.grad, [3, 3]);
    expect(codeOf(() => tensor([1.5]).registerHook((g) => g))).toMatch(/^NO_GRAD/);
  });

  it('detectAnomaly names the forward op whose derivative gave NaN', () => {
    const x = tensor([0, 1], { requiresGrad: true });
    const msg = codeOf(() => detectAnomaly(() => x.sqrt().mul(0).sum().backward()));
    expect(msg).toMatch(
      /^ANOMALY: Function 'SqrtBackward0' returned nan values in its 0th output \(the derivative of the forward op 'sqrt'\)/,
    );
    expect(msg).toContain('The forward op was created at');
    // Without anomaly mode the NaN goes through silently, as in PyTorch.
    const x2 = tensor([0, 1], { requiresGrad: true });
    x2.sqrt().mul(0).sum().backward();
    expect(Number.isNaN(vals(x2.grad)[0]!)).toBe(true);
  });
});

describe('memory', () => {
  it('10,000 forward/backward iterations of a small model hold memory flat', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'tests run with --expose-gc').toBeTypeOf('function');
    const w1 = randn([4, 8], { dtype: 'float32' }).mul(0.3).requiresGrad_();
    const b1 = zeros([8]).requiresGrad_();
    const w2 = randn([8, 1]).mul(0.3).requiresGrad_();
    const x = randn([16, 4]);
    const target = randn([16, 1]);
    const refs: WeakRef<Tensor>[] = [];
    let heapAt1000 = 0;
    for (let i = 0; i < 10_000; i++) {
      const loss = x.matmul(w1).add(b1).tanh().matmul(w2).sub(target).pow(2).mean();
      loss.backward();
      noGrad(() => {
        for (const p of [w1, b1, w2]) p.sub_(p.grad!.mul(0.01));
      });
      zeroGrad([w1, b1, w2]);
      if (i % 1000 === 999) refs.push(new WeakRef(loss));
      if (i === 999) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        gc!();
        heapAt1000 = process.memoryUsage().heapUsed;
      }
    }
    // WeakRef targets stay alive until the current job ends: yield to the event loop first.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc!();
    // Every sampled loss (and with it its whole graph) was collected except possibly the last one.
    const alive = refs.slice(0, -1).filter((r) => r.deref() !== undefined).length;
    expect(alive).toBe(0);
    const growth = process.memoryUsage().heapUsed - heapAt1000;
    expect(growth).toBeLessThan(4 * 1024 * 1024);
  });
});

describe('more error paths', () => {
  it('a hook returning the wrong shape', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.registerHook(() => tensor([1, 2, 3], { dtype: 'float32' }));
    expect(codeOf(() => x.mul(2).sum().backward())).toMatch(
      /^SHAPE_MISMATCH: hook: a tensor hook returned a gradient of shape \[3\] for a tensor of shape \[2\]/,
    );
  });

  it('recording an op without a derivative', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const out = x.mul(1);
    expect(
      codeOf(() => getAutogradHook()!.record({ op: 'noSuchOp', inputs: [x], outputs: [out], attrs: {} })),
    ).toMatch(/^DERIVATIVE_MISSING: noSuchOp: no derivative is registered/);
  });

  it('backward inputs must require grad', () => {
    const x = tensor([1], { requiresGrad: true });
    expect(
      codeOf(() =>
        x
          .mul(2)
          .sum()
          .backward(undefined, { inputs: [tensor([1.5])] }),
      ),
    ).toMatch(/^NO_GRAD: backward: an input of shape \[1\] does not require grad/);
  });

  it('in place on a view whose base is not dense', () => {
    const b = randn([3, 4]).T.detach(); // a strided tensor that is its own base
    const w = tensor([5], { requiresGrad: true });
    expect(codeOf(() => b.narrow(0, 0, 1).copy_(w.expand(1, 3)))).toMatch(
      /^UNSUPPORTED: .*contiguous; clone\(\) it first/,
    );
  });

  it('gradcheck reports a wrong derivative, float32 inputs and nothing to check', () => {
    const x = randn([3], { dtype: 'float64' }).requiresGrad_();
    const wrong = (t: Tensor) => {
      const y = t.mul(2);
      y.registerHook((g) => g.mul(1.5)); // corrupts the analytical gradient
      return y;
    };
    expect(codeOf(() => gradcheck(wrong, [x]))).toMatch(
      /^GRADCHECK_FAILED: gradcheck: Jacobian mismatch for output 0 with respect to input 0, at output element 0 and input element 0: numerical (1\.9999|2\.0000)\d*, analytical 3 /,
    );
    expect(gradcheck(wrong, [x], { raiseException: false })).toBe(false);
    expect(gradcheck((t: Tensor) => t.mul(2), [x])).toBe(true);
    expect(codeOf(() => gradcheck((t: Tensor) => t.mul(2), [randn([2]).requiresGrad_()]))).toMatch(
      /^DTYPE_MISMATCH: gradcheck: input 0 requires grad but is float32/,
    );
    expect(codeOf(() => gradgradcheck((t: Tensor) => t.mul(2), [randn([2], { dtype: 'float64' })]))).toMatch(
      /^INVALID_ARGUMENT: gradgradcheck: no input requires grad/,
    );
    expect(gradgradcheck((t: Tensor) => t.pow(3).sin(), [x])).toBe(true);
  });
});

describe('derivatives with zeros', () => {
  it('cumprod and prod are exact with zeros (first and second order)', () => {
    const x = tensor(
      [
        [2, 0, 3, 0.5, 5],
        [1.5, -2, 0, 0, 4],
        [0, 0.7, 1.1, -1.3, 2],
      ],
      { dtype: 'float64' },
    ).requiresGrad_();
    expect(gradcheck((t: Tensor) => t.cumprod(1), [x])).toBe(true);
    expect(gradgradcheck((t: Tensor) => t.cumprod(1), [x])).toBe(true);
    expect(gradcheck((t: Tensor) => t.cumprod(0), [x])).toBe(true);
    expect(gradcheck((t: Tensor) => t.prod(1), [x])).toBe(true);
    expect(gradgradcheck((t: Tensor) => t.prod(), [x])).toBe(true);
  });
});
