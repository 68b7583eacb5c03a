/**
 * The backend's contract with the tensor core: memory pooling, device mismatch, float64, async reads and
 * the coded errors of synchronous APIs.
 */
import {
  add,
  GradfolioError,
  getBackend,
  inverse,
  type Kernel,
  type Tensor,
  type TypedArray,
  tensor,
  zeros,
} from '@gradfolio/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend, webgpuStats } from '../src/index.js';
import { gpuErrors, initTestGPU } from './gpu.js';

beforeAll(initTestGPU);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (GradfolioError.isInstance(e)) return e.code;
    throw e;
  }
  return undefined;
}

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (e) {
    if (GradfolioError.isInstance(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('memory', () => {
  it('keeps bytesInUse flat over 1000 create/compute/dispose iterations and reuses buffers', async () => {
    const data = Float32Array.from({ length: 300 }, (_, k) => k / 7);
    const step = (): Tensor[] => {
      const t = tensor(data, { device: 'webgpu' });
      const u = add(t, t, { alpha: 2 });
      const v = u.view(3, 100); // a view holds its own reference to u's storage
      const s = v.sum(1);
      return [t, u, v, s];
    };
    // Warm up: the first iteration fills the pool's buckets.
    for (const t of step()) t.dispose();
    const base = webgpuStats();
    let maxInUse = 0;
    for (let k = 0; k < 1000; k++) {
      if (k % 250 === 0) {
        // Outside the measured window: make sure the GPU really runs the work.
        const ts = step();
        expect(Array.from(await ts[3]!.data())).toEqual(
          [...[0, 100, 200].map((o) => 3 * data.slice(o, o + 100).reduce((x, y) => x + y, 0))].map((x) =>
            expect.closeTo(x, 2),
          ),
        );
        for (const t of ts) t.dispose();
      }
      // Synchronous window (no finalizer can run inside it): everything allocated is given back.
      const start = webgpuStats();
      const ts = step();
      maxInUse = Math.max(maxInUse, webgpuStats().bytesInUse - start.bytesInUse);
      for (const t of ts) t.dispose();
      const end = webgpuStats();
      expect(end.bytesInUse).toBe(start.bytesInUse);
      expect(end.liveBuffers).toBe(start.liveBuffers);
    }
    const end = webgpuStats();
    expect(maxInUse).toBe(1200 + 1200 + 16); // t, u, s: size classes of 300, 300 and 3 floats
    // Finalizers of older garbage may only lower bytesInUse; nothing stays allocated by the loop.
    expect(end.bytesInUse).toBeLessThanOrEqual(base.bytesInUse);
    // Every allocation of the loop (3000+ storages) came from the pool: no buffer was created.
    expect(end.buffersCreated).toBe(base.buffersCreated);
    expect(gpuErrors).toEqual([]);
  });

  it('accounts allocations in size classes and returns freed buffers to the pool', async () => {
    const before = webgpuStats();
    const t = zeros([1000], { device: 'webgpu' }); // 4000 bytes -> the 4000-byte class
    const during = webgpuStats();
    expect(during.bytesInUse - before.bytesInUse).toBe(4000);
    expect(during.liveBuffers - before.liveBuffers).toBe(1);
    t.dispose();
    const after = webgpuStats();
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.bytesPooled - during.bytesPooled).toBe(4000);
    const big = zeros([5000], { device: 'webgpu' }); // 20000 bytes -> the 20480-byte class (2^14 + 3/8)
    expect(webgpuStats().bytesInUse - after.bytesInUse).toBe(20480);
    big.dispose();
    // Views share storage: disposing the base keeps the buffer until the last view goes.
    const base = zeros([64], { device: 'webgpu' });
    const v = base.narrow(0, 8, 8);
    const live = webgpuStats().liveBuffers;
    base.dispose();
    expect(webgpuStats().liveBuffers).toBe(live);
    expect(Array.from(await v.data())).toEqual(new Array(8).fill(0));
    const live2 = webgpuStats().liveBuffers;
    v.dispose();
    expect(webgpuStats().liveBuffers).toBe(live2 - 1);
  });
});

describe('pool trimming and device limits', () => {
  it('trimPool() destroys the pooled buffers, live tensors keep theirs', async () => {
    const b = await initTestGPU();
    const keep = tensor([1, 2, 3], { device: 'webgpu' });
    zeros([4096], { device: 'webgpu' }).dispose();
    expect(webgpuStats().bytesPooled).toBeGreaterThan(0);
    const live = webgpuStats().liveBuffers;
    b.trimPool();
    expect(webgpuStats().bytesPooled).toBe(0);
    expect(webgpuStats().liveBuffers).toBe(live);
    expect(Array.from(await keep.data())).toEqual([1, 2, 3]);
  });

  it('rejects a device whose compute limits are below what the kernels use', async () => {
    const { device } = await initTestGPU();
    const small = new Proxy(device, {
      get(target, prop) {
        if (prop === 'limits')
          return { maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupSizeX: 128 };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    let err: unknown;
    try {
      createWebGPUBackend(small);
    } catch (e) {
      err = e;
    }
    expect(GradfolioError.isInstance(err) && err.code).toBe('BACKEND_UNAVAILABLE');
    expect(String((err as Error).message)).toMatch(/maxComputeInvocationsPerWorkgroup is 128, needs 256/);
  });
});

describe('devices and dtypes', () => {
  it('mixing devices is a DEVICE_MISMATCH error', () => {
    const c = tensor([1, 2, 3], { dtype: 'float32' });
    const g = c.to('webgpu');
    expect(codeOf(() => add(c, g))).toBe('DEVICE_MISMATCH');
    expect(codeOf(() => g.mul(c))).toBe('DEVICE_MISMATCH');
    expect(codeOf(() => g.view(3, 1).matmul(c.view(1, 3)))).toBe('DEVICE_MISMATCH');
    expect(codeOf(() => g.clone().copy_(c))).toBe('DEVICE_MISMATCH');
  });

  it('float64 on webgpu is a coded error that points at the CPU', () => {
    const catchIt = (fn: () => unknown): GradfolioError => {
      try {
        fn();
      } catch (e) {
        if (GradfolioError.isInstance(e)) return e;
        throw e;
      }
      throw new Error('expected an error');
    };
    for (const err of [
      catchIt(() => tensor([1.5], { dtype: 'float64', device: 'webgpu' })),
      catchIt(() => tensor(new Float64Array([1, 2])).to('webgpu')),
      catchIt(() => zeros([2], { dtype: 'float64', device: 'webgpu' })),
      catchIt(() => tensor([1, 2], { device: 'webgpu' }).to('float64')),
    ]) {
      expect(err.code).toBe('DTYPE_MISMATCH');
      expect(err.message).toMatch(/float64/);
      expect(err.message).toMatch(/CPU/);
    }
    expect(getBackend('webgpu').unsupportedDType?.('float32')).toBeUndefined();
  });

  it('an op whose kernel is missing raises KERNEL_MISSING', () => {
    const kernels = getBackend('webgpu').kernels as Map<string, Kernel>;
    const k = kernels.get('inverse')!;
    kernels.delete('inverse');
    try {
      const a = tensor(
        [
          [4, 1],
          [1, 3],
        ],
        { dtype: 'float32', device: 'webgpu' },
      );
      expect(codeOf(() => inverse(a))).toBe('KERNEL_MISSING');
    } finally {
      kernels.set('inverse', k);
    }
  });

  it('float64 tensors cannot reach the new kernels either (coded error naming the CPU)', () => {
    const g = tensor([1, 2], { dtype: 'float32', device: 'webgpu' });
    for (const fn of [() => g.exp().to('float64'), () => g.cumsum(0).to('float64')]) {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(GradfolioError.isInstance(err) && err.code).toBe('DTYPE_MISMATCH');
      expect(String((err as Error).message)).toMatch(/CPU/);
    }
  });
});

describe('transfers and reads', () => {
  const cases: Array<[string, TypedArray]> = [
    ['float32', Float32Array.from([1.5, -2, Number.NaN, Number.POSITIVE_INFINITY, -0, 3e38])],
    ['int32', Int32Array.from([0, -1, 2 ** 31 - 1, -(2 ** 31), 42])],
    ['bool', Uint8Array.from([1, 0, 0, 1, 1])],
  ];

  it('round-trips every dtype through t.to("webgpu") and await t.data()', async () => {
    for (const [dtype, data] of cases) {
      const c = tensor(data.slice() as TypedArray);
      expect(c.dtype).toBe(dtype);
      const g = c.to('webgpu');
      expect(g.device).toBe('webgpu');
      const back = await g.data();
      expect(back.constructor).toBe(data.constructor);
      expect(Array.from(back)).toEqual(Array.from(data));
      const cpu = await g.toAsync('cpu');
      expect(cpu.device).toBe('cpu');
      expect(Array.from(cpu.dataSync())).toEqual(Array.from(data));
    }
    const m = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]).to('webgpu');
    expect(await m.T.toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(await tensor([true, false]).to('webgpu').toArray()).toEqual([true, false]);
    expect(await tensor(2.5).to('webgpu').item()).toBe(2.5);
    expect(Array.from(await zeros([0, 3], { device: 'webgpu' }).data())).toEqual([]);
  });

  it('synchronous reads throw SYNC_READ_UNAVAILABLE', async () => {
    const g = tensor([1, 2, 3]).to('webgpu');
    expect(codeOf(() => g.dataSync())).toBe('SYNC_READ_UNAVAILABLE');
    expect(codeOf(() => g.toArraySync())).toBe('SYNC_READ_UNAVAILABLE');
    expect(codeOf(() => g.sum().itemSync())).toBe('SYNC_READ_UNAVAILABLE');
    expect(codeOf(() => g.to('cpu'))).toBe('SYNC_READ_UNAVAILABLE');
    expect(g.toString()).toMatch(/on webgpu; use await t.format\(\)/);
    expect(await g.format()).toMatch(/tensor\(\[1, 2, 3\]/);
    expect(await codeOfAsync(() => g.data())).toBeUndefined();
  });

  it('reading a disposed tensor is a DISPOSED error', async () => {
    const g = tensor([1, 2]).to('webgpu');
    g.dispose();
    expect(await codeOfAsync(() => g.data())).toBe('DISPOSED');
  });

  it('sync() waits for queued work', async () => {
    const b = getBackend('webgpu');
    const x = zeros([1 << 16], { device: 'webgpu' }).add(1);
    await b.sync?.();
    expect((await x.sum().item()) as number).toBe(1 << 16);
  });
});
