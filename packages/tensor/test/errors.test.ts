/** Every error code of the tensor core, produced by a real call, with its message checked. */
import { describe, expect, it } from 'vitest';
import {
  type Backend,
  cat,
  cholesky,
  createCPUBackend,
  GradfolioError,
  getBackend,
  inverse,
  ones,
  randn,
  registerBackend,
  solve,
  tensor,
  zeros,
} from '../src/index.js';

function codeOf(fn: () => unknown): { code: string; message: string; err: GradfolioError } {
  try {
    fn();
  } catch (e) {
    if (!GradfolioError.isInstance(e)) throw e;
    return { code: e.code, message: e.message, err: e };
  }
  throw new Error('expected an error');
}

// A second CPU-like device, one with a missing kernel and one that cannot read synchronously.
const cpu = createCPUBackend();
registerBackend({ ...cpu, name: 'cpu2' });
const partialKernels = new Map(cpu.kernels);
partialKernels.delete('exp');
registerBackend({ ...cpu, name: 'partial', kernels: partialKernels });
const asyncOnly: Backend = { ...cpu, name: 'asynconly' };
delete (asyncOnly as { readSync?: unknown }).readSync;
registerBackend(asyncOnly);

describe('error codes', () => {
  it('SHAPE_MISMATCH names the op and both shapes', () => {
    const e = codeOf(() => randn([2, 3]).add(randn([4, 3])));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toBe(
      'add: shapes [2, 3] and [4, 3] cannot be broadcast together: size 2 does not match size 4 at dimension -2',
    );
    expect(e.err.op).toBe('add');
    expect(e.err.shapes).toEqual([
      [2, 3],
      [4, 3],
    ]);
    const m = codeOf(() => randn([2, 3]).matmul(randn([4, 5])));
    expect(m.message).toBe(
      'matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5); full shapes [2, 3] and [4, 5]',
    );
    expect(codeOf(() => cat([zeros([2, 3]), zeros([2, 4])], 0)).message).toContain(
      'cat: sizes of tensors must match except in dimension 0',
    );
    expect(codeOf(() => tensor([[1, 2], [3]])).message).toContain('nested arrays must be rectangular');
  });

  it('DTYPE_MISMATCH', () => {
    const e = codeOf(() => tensor([1, 2]).requiresGrad_());
    expect(e.code).toBe('DTYPE_MISMATCH');
    expect(e.message).toBe(
      'requiresGrad: only tensors of floating point dtype can require gradients (got int32)',
    );
    const m = codeOf(() => randn([2, 2]).matmul(randn([2, 2], { dtype: 'float64' })));
    expect(m.code).toBe('DTYPE_MISMATCH');
    expect(m.message).toContain('expected both operands to have the same dtype, but got float32 and float64');
    expect(codeOf(() => tensor([1, 2]).mean()).message).toContain('mean: could not infer output dtype');
  });

  it('DEVICE_MISMATCH names both devices', () => {
    const a = randn([3]);
    const b = randn([3]).to('cpu2');
    expect(b.device).toBe('cpu2');
    const e = codeOf(() => a.add(b));
    expect(e.code).toBe('DEVICE_MISMATCH');
    expect(e.message).toBe(
      "add: expected all tensors to be on the same device, but found at least two devices, cpu and cpu2. Move them with .to('cpu') first.",
    );
  });

  it('NOT_SCALAR (seed 000: item() on 16 elements)', () => {
    const e = codeOf(() => randn([16]).itemSync());
    expect(e.code).toBe('NOT_SCALAR');
    expect(e.message).toBe('item: a Tensor with 16 elements cannot be converted to Scalar (shape [16])');
  });

  it('BACKEND_UNAVAILABLE says how to get the backend', () => {
    const e = codeOf(() => zeros([2], { device: 'webgpu' }));
    expect(e.code).toBe('BACKEND_UNAVAILABLE');
    expect(e.message).toContain("no backend is registered for device 'webgpu'");
    expect(e.message).toContain('initWebGPU');
  });

  it('KERNEL_MISSING names the op and the device', () => {
    const e = codeOf(() => randn([2]).to('partial').exp());
    expect(e.code).toBe('KERNEL_MISSING');
    expect(e.message).toBe(
      "exp: the 'partial' backend has no kernel for this op. Move the tensors to the CPU with await t.toAsync('cpu') to run it there.",
    );
  });

  it('INVALID_ARGUMENT', () => {
    const e = codeOf(() => randn([2, 3]).clamp());
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe("clamp: at least one of 'min' or 'max' must not be None");
    expect(codeOf(() => randn([2, 3]).sum([0, 0])).message).toBe(
      'sum: dim 0 appears multiple times in the list of dims',
    );
  });

  it('INDEX_OUT_OF_RANGE', () => {
    const e = codeOf(() => randn([2, 3]).sum(2));
    expect(e.code).toBe('INDEX_OUT_OF_RANGE');
    expect(e.message).toBe('sum: dimension out of range (expected to be in range of [-2, 1], but got 2)');
    expect(codeOf(() => randn([2, 3]).index(5)).message).toBe(
      'select: index 5 is out of bounds for dimension 0 with size 2',
    );
    expect(codeOf(() => randn([2, 3]).index(0, 0, 0)).message).toBe(
      'index: too many indices for tensor of dimension 2 (got 3, shape [2, 3])',
    );
  });

  it('NOT_VIEWABLE names shape and strides and suggests reshape', () => {
    const e = codeOf(() => randn([2, 3]).T.view(6));
    expect(e.code).toBe('NOT_VIEWABLE');
    expect(e.message).toContain('size [3, 2], stride [1, 3], requested [6]');
    expect(e.message).toContain('Use .reshape(...) instead.');
  });

  it('SYNC_READ_UNAVAILABLE points at the async API', async () => {
    const t = randn([2]).to('asynconly');
    const e = codeOf(() => t.dataSync());
    expect(e.code).toBe('SYNC_READ_UNAVAILABLE');
    expect(e.message).toBe(
      "dataSync: the 'asynconly' backend cannot read synchronously; use 'await t.data()' instead",
    );
    expect(codeOf(() => t.to('cpu')).message).toContain("await t.toAsync('cpu')");
    expect((await t.toAsync('cpu')).device).toBe('cpu');
  });

  it('DISPOSED', () => {
    const t = ones([2, 2]);
    t.dispose();
    const e = codeOf(() => t.add(1));
    expect(e.code).toBe('DISPOSED');
    expect(e.message).toBe('add: the tensor of shape [2, 2] was disposed');
  });

  it('LINALG_ERROR', () => {
    const notPd = tensor(
      [
        [1, 2],
        [2, 1],
      ],
      { dtype: 'float64' },
    );
    const e = codeOf(() => cholesky(notPd));
    expect(e.code).toBe('LINALG_ERROR');
    expect(e.message).toContain('not positive-definite');
    const singular = tensor(
      [
        [1, 2],
        [2, 4],
      ],
      { dtype: 'float64' },
    );
    expect(codeOf(() => inverse(singular)).code).toBe('LINALG_ERROR');
    expect(codeOf(() => solve(singular, ones([2], { dtype: 'float64' }))).message).toContain('singular');
  });

  it('UNSUPPORTED: backward without autograd installed', () => {
    const e = codeOf(() => randn([2], { requiresGrad: true }).sum().backward());
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toContain("import '@gradfolio/autograd'");
  });

  it('isInstance works across copies through the Symbol.for marker', () => {
    const foreign = Object.assign(new Error('x'), {
      [Symbol.for('gradfolio.error')]: true,
      code: 'SHAPE_MISMATCH',
    });
    expect(GradfolioError.isInstance(foreign)).toBe(true);
    expect(GradfolioError.isInstance(new Error('x'))).toBe(false);
    expect(getBackend('cpu').name).toBe('cpu');
  });
});
