/**
 * The WebGPU kernels against the CPU backend, op by op, over the layouts the tensor core hands kernels:
 * contiguous, transposed, sliced with steps, flipped (negative strides), broadcast (stride 0), offset
 * views, 0-d and empty tensors, and sizes that cross the kernels' internal thresholds.
 */
import {
  add,
  full,
  manualSeed,
  mul,
  randint,
  randn,
  registerBackend,
  slice,
  sum,
  tensor,
  zeros,
} from '@gradfolio/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend } from '../src/index.js';
import { gpuErrors, initTestGPU, withLimits } from './gpu.js';
import { checkBoth, expectSame } from './helpers.js';

beforeAll(async () => {
  await initTestGPU();
  manualSeed(1234);
});

const f = (shape: number[]) => randn(shape);
const i = (shape: number[]) => randint(-50, 50, shape);
const b = (shape: number[]) => randint(0, 2, shape).to('bool');

describe('fill', () => {
  it('fills every dtype, including special float values', async () => {
    for (const [value, dtype] of [
      [2.5, 'float32'],
      [Number.NaN, 'float32'],
      [Number.NEGATIVE_INFINITY, 'float32'],
      [-7, 'int32'],
      [1, 'bool'],
      [0, 'bool'],
    ] as const) {
      await expectSame(full([3, 5], value, { dtype, device: 'webgpu' }), full([3, 5], value, { dtype }));
    }
  });

  it('fills in place through a strided view (fill + copy)', async () => {
    await checkBoth(
      (x) => {
        const y = x.clone();
        y.index(slice(null, null, 2), 1).fill_(9);
        return y;
      },
      [f([5, 3])],
    );
  });

  it('zeroes recycled buffers on alloc', async () => {
    const a = full([1000], 7, { device: 'webgpu' });
    a.dispose(); // its buffer goes to the pool...
    const z = zeros([1000], { device: 'webgpu' }); // ...and comes back here, zeroed
    expect(Array.from(await z.data()).every((v) => v === 0)).toBe(true);
  });
});

describe('copy / clone / cast', () => {
  it('clones contiguous tensors of every dtype', async () => {
    for (const x of [f([7, 5]), i([13]), b([4, 4]), f([])]) await checkBoth((t) => t.clone(), [x]);
  });

  it('clones strided views: transposed, stepped, flipped, expanded, offset', async () => {
    const x = f([6, 7, 5]);
    await checkBoth((t) => t.permute(2, 0, 1).contiguous(), [x]);
    await checkBoth((t) => t.index(slice(1, null, 2), slice(null, null, 3)).clone(), [x]);
    await checkBoth((t) => t.flip(0, 2), [x]);
    await checkBoth((t) => t.narrow(1, 2, 3).select(2, -1).clone(), [x]);
    await checkBoth((t) => t.unsqueeze(1).expand(-1, 4, -1, -1).clone(), [f([3, 2, 5])]);
    await checkBoth((t) => t.expand(4, 3).clone(), [f([])]);
  });

  it('casts between float32, int32 and bool like the CPU', async () => {
    const special = tensor([
      0,
      -0,
      1.5,
      -1.5,
      2.9,
      -2.9,
      1e10,
      -3e9,
      2 ** 31,
      Number.NaN,
      Infinity,
      -Infinity,
    ]);
    for (const to of ['int32', 'bool', 'float32'] as const) {
      await checkBoth((t) => t.to(to), [special]);
      await checkBoth((t) => t.to(to), [i([5, 4])]);
      await checkBoth((t) => t.to(to), [b([9])]);
      await checkBoth((t) => t.T.to(to), [f([3, 4])]);
    }
  });

  it('copies into strided destinations (copy_), including overlapping self-copies', async () => {
    await checkBoth(
      (x, y) => {
        const d = x.clone();
        d.T.copy_(y);
        return d;
      },
      [f([4, 6]), f([6, 4])],
    );
    await checkBoth(
      (x) => {
        const d = x.clone();
        d.narrow(0, 0, 5).copy_(d.narrow(0, 1, 5)); // overlapping source and destination
        return d;
      },
      [f([6, 3])],
    );
    await checkBoth(
      (x) => {
        const d = x.clone();
        d.copy_(d.flip(0)); // in-place reverse
        return d;
      },
      [i([9])],
    );
  });
});

describe('add / mul', () => {
  it('computes same-shape, broadcast and scalar operands for each dtype', async () => {
    for (const op of [add, mul]) {
      await checkBoth((x, y) => op(x, y), [f([5, 6]), f([5, 6])]);
      await checkBoth((x, y) => op(x, y), [f([5, 6]), f([6])]);
      await checkBoth((x, y) => op(x, y), [f([5, 1, 3]), f([4, 1])]);
      await checkBoth((x, y) => op(x, y), [i([7, 3]), i([3])]);
      await checkBoth((x, y) => op(x, y), [b([4, 5]), b([4, 5])]);
      await checkBoth((x) => op(x, 3), [f([4])]);
      await checkBoth((x) => op(x, 2.5), [i([4])]); // promotes to float32
      await checkBoth((x, y) => op(x, y), [f([]), f([])]);
      await checkBoth((x, y) => op(x, y), [f([0, 3]), f([3])]);
    }
  });

  it('applies alpha', async () => {
    await checkBoth((x, y) => add(x, y, { alpha: -0.5 }), [f([3, 4]), f([3, 4])]);
    await checkBoth((x, y) => add(x, y, { alpha: 3 }), [i([3, 4]), i([4])]);
  });

  it('reads transposed, flipped and offset inputs', async () => {
    await checkBoth((x, y) => x.T.add(y.flip(1)), [f([6, 5]), f([5, 6])]);
    await checkBoth((x, y) => x.narrow(0, 2, 3).mul(y.index(slice(null, null, -1))), [f([6, 4]), f([4])]);
  });

  it('wraps int32 overflow like the CPU', async () => {
    const big = tensor([2 ** 31 - 1, -(2 ** 31), 123456789], { dtype: 'int32' });
    await checkBoth((x) => add(x, x), [big]);
    await checkBoth((x) => mul(x, x), [big]);
  });

  it('updates in place (add_, mul_) where input and output share a buffer', async () => {
    await checkBoth(
      (x, y) => {
        const d = x.clone();
        d.add_(y, { alpha: 2 });
        d.mul_(d);
        return d;
      },
      [f([4, 5]), f([5])],
    );
  });
});

describe('sum', () => {
  const tolFor = (count: number) => ({ rtol: 1e-5, atol: 1e-5 * Math.sqrt(count) * 4 });

  it('reduces all dims, one dim, several dims, with keepdim', async () => {
    const x = f([4, 5, 6]);
    await checkBoth((t) => t.sum(), [x]);
    for (const d of [0, 1, 2, -1]) await checkBoth((t) => t.sum(d), [x]);
    await checkBoth((t) => t.sum([0, 2]), [x]);
    await checkBoth((t) => t.sum([1], { keepdim: true }), [x]);
    await checkBoth((t) => sum(t, [0, 1, 2], { keepdim: true }), [x]);
  });

  it('reduces strided inputs: transposed, flipped, stepped, expanded', async () => {
    const x = f([9, 70, 3]);
    await checkBoth((t) => t.permute(2, 0, 1).sum(2), [x], tolFor(70));
    await checkBoth((t) => t.flip(1).sum([0, 1]), [x], tolFor(630));
    await checkBoth((t) => t.index(slice(null, null, 2), slice(1, null, 3)).sum(1), [x], tolFor(70));
    await checkBoth((t) => t.unsqueeze(1).expand(-1, 100, -1, -1).sum(1), [x], tolFor(100));
  });

  it('sums int32 and bool to int32', async () => {
    await checkBoth((t) => t.sum(1), [i([6, 300])]);
    await checkBoth((t) => t.sum(), [i([1000, 30])]);
    await checkBoth((t) => t.sum(0), [b([500, 3])]);
    await checkBoth((t) => t.sum(), [b([20000])]);
  });

  it('covers the serial, one-chunk tree and two-pass tree strategies', async () => {
    // reduced extent 64 (serial), 65 and 8192 (one workgroup per output), 8193 and 1e6 (two passes)
    for (const n of [64, 65, 8192, 8193]) await checkBoth((t) => t.sum(1), [f([3, n])], tolFor(n));
    await checkBoth((t) => t.sum(), [f([1_000_000])], tolFor(1e6));
    await checkBoth((t) => t.sum(0), [f([20000, 5])], tolFor(20000));
    await checkBoth((t) => t.sum(1), [f([200, 9000])], tolFor(9000));
  });

  it('covers the column strategy (kept dims innermost), split into chunks', async () => {
    await checkBoth((t) => t.sum(0), [f([500, 40])], tolFor(500)); // 7 chunks, then a serial pass
    await checkBoth((t) => t.sum(0), [f([1000, 1000])], tolFor(1000));
    await checkBoth((t) => t.sum([0, 1]), [f([50, 70, 40])], tolFor(3500));
    await checkBoth((t) => t.T.sum(1), [f([300, 64])], tolFor(300)); // transposed: kept stride 1
    await checkBoth((t) => t.flip(0, 1).sum(0), [f([200, 33])], tolFor(200)); // negative strides
    await checkBoth((t) => t.sum(0), [i([700, 50])]);
    await checkBoth((t) => t.sum(0, { keepdim: true }), [b([100, 64])]);
  });

  it('sums 0-d and empty tensors', async () => {
    await checkBoth((t) => t.sum(), [f([])]);
    await checkBoth((t) => t.sum(), [f([0])]);
    await checkBoth((t) => t.sum(1), [f([3, 0])]);
    await checkBoth((t) => t.sum(0), [f([0, 4])]);
  });

  it('is exact on large integer sums (tree reduction is not a single loop)', async () => {
    const n = 3_000_000;
    const x = full([n], 3, { dtype: 'int32', device: 'webgpu' });
    expect(await x.sum().item()).toBe(3 * n);
    x.dispose();
  });
});

describe('matmul', () => {
  const tol = { rtol: 1e-4, atol: 1e-4 };

  it('multiplies small, large, skinny and tile-edge matrices', async () => {
    for (const [m, k, n] of [
      [2, 3, 4],
      [1, 1, 1],
      [17, 33, 15],
      [65, 70, 129],
      [129, 16, 64],
      [1, 300, 1],
      [300, 5, 2],
      [3, 200, 70],
    ] as const) {
      await checkBoth((a, c) => a.matmul(c), [f([m, k]), f([k, n])], tol);
    }
  });

  it('handles vectors (dot, matrix-vector, vector-matrix)', async () => {
    await checkBoth((a, c) => a.matmul(c), [f([50]), f([50])], tol);
    await checkBoth((a, c) => a.matmul(c), [f([7, 50]), f([50])], tol);
    await checkBoth((a, c) => a.matmul(c), [f([50]), f([50, 9])], tol);
  });

  it('reads transposed and strided operands', async () => {
    await checkBoth((a, c) => a.T.matmul(c.T), [f([40, 33]), f([45, 40])], tol);
    await checkBoth(
      (a, c) => a.flip(0).matmul(c.index(slice(null, null, 2))),
      [f([20, 30]), f([60, 24])],
      tol,
    );
    await checkBoth((a, c) => a.narrow(1, 3, 10).matmul(c.narrow(0, 1, 10)), [f([8, 20]), f([12, 5])], tol);
  });

  it('batches, with broadcast batch dims (stride 0)', async () => {
    await checkBoth((a, c) => a.matmul(c), [f([5, 33, 17]), f([5, 17, 40])], tol);
    await checkBoth((a, c) => a.matmul(c), [f([2, 1, 8, 9]), f([3, 9, 4])], tol);
    await checkBoth((a, c) => a.matmul(c), [f([4, 6, 7]), f([7, 3])], tol);
    await checkBoth((a, c) => a.mT.matmul(c), [f([3, 2, 9, 6]), f([3, 2, 9, 5])], tol);
  });

  it('multiplies int32 exactly (wrapping) and handles K = 0', async () => {
    await checkBoth((a, c) => a.matmul(c), [i([9, 40]), i([40, 70])]);
    await checkBoth((a, c) => a.matmul(c), [f([3, 0]), f([0, 4])]);
  });
});

describe('dispatch grid', () => {
  it('splits work over a 2-D grid when a dimension limit is exceeded', async () => {
    // A second backend on the same device whose device reports at most 7 workgroups per dimension,
    // so every kernel below needs (and exercises) the 2-D grid and its out-of-range guard.
    const real = await initTestGPU();
    const device = real.device;
    const small = withLimits(device, { maxComputeWorkgroupsPerDimension: 7 });
    registerBackend(createWebGPUBackend(small));
    try {
      await checkBoth((x, y) => add(x, y, { alpha: 2 }), [f([100, 129]), f([129])]); // 51 workgroups
      await checkBoth((x) => x.T.clone(), [i([77, 41])]);
      await checkBoth((x) => x.sum(1), [f([60, 500])], { atol: 1e-3 }); // 60 tree workgroups
      await checkBoth((x) => x.sum(), [f([200_000])], { atol: 1e-2 }); // 49 tree chunks, then a serial pass
      await checkBoth((x) => x.sum(0), [f([3, 3000])]); // 12 serial workgroups
      await checkBoth((x) => x.sum(0), [f([3000, 40])], { atol: 1e-3 }); // column: 46 chunks, 8 workgroups
      await checkBoth((a, c) => a.matmul(c), [f([9, 20, 3]), f([9, 3, 70])], { atol: 1e-4 }); // 18 tiles
      await checkBoth((a, c) => a.matmul(c), [f([130, 8]), f([8, 140])], { atol: 1e-4 }); // 9 tiles
    } finally {
      registerBackend(real);
    }
  });

  it('handles more elements than one real dispatch dimension holds', async () => {
    const n = 65535 * 256 + 1000;
    const x = full([n], 1, { dtype: 'int32', device: 'webgpu' });
    const y = add(x, x, { alpha: 2 });
    expect(await y.sum().item()).toBe(3 * n);
    expect(Array.from(await y.narrow(0, n - 3, 3).data())).toEqual([3, 3, 3]);
    x.dispose();
    y.dispose();
    expect(gpuErrors).toEqual([]);
  });
});

describe('pipeline cache', () => {
  it('compiles each (kernel, dtypes, rank) once', async () => {
    const { device } = await initTestGPU();
    let compiled = 0;
    const create = device.createComputePipeline.bind(device);
    device.createComputePipeline = (d) => {
      compiled++;
      return create(d);
    };
    try {
      const x = randn([40, 40]).to('webgpu');
      const step = () => x.matmul(x).add(x.T, { alpha: 0.5 }).mul(x).sum(1);
      await step().data();
      const afterFirst = compiled;
      for (let k = 0; k < 10; k++) await step().data();
      expect(compiled).toBe(afterFirst);
      // A layout no test used before (rank-5 copy that cannot be coalesced) compiles exactly once.
      const y = randn([2, 3, 2, 3, 2]).to('webgpu').permute(4, 2, 0, 3, 1);
      await y.clone().data();
      expect(compiled).toBe(afterFirst + 1);
      await y.flip(0).clone().data();
      expect(compiled).toBe(afterFirst + 1);
    } finally {
      Reflect.deleteProperty(device, 'createComputePipeline');
    }
    expect(gpuErrors).toEqual([]);
  });
});
