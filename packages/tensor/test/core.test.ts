/** Core behaviour: creation, dtype promotion, in-place ops, reading data, devices, memory. */
import { describe, expect, it } from 'vitest';
import {
  arange,
  eye,
  full,
  Generator,
  getDefaultDType,
  linspace,
  manualSeed,
  ones,
  rand,
  randn,
  setAutogradHook,
  setDefaultDType,
  Tensor,
  tensor,
  where,
  zeros,
  zerosLike,
} from '../src/index.js';

describe('creation', () => {
  it('infers dtypes like PyTorch (int32 is our default integer type)', () => {
    expect(tensor([1, 2]).dtype).toBe('int32');
    expect(tensor([1.5, 2]).dtype).toBe('float32');
    expect(tensor([true, false]).dtype).toBe('bool');
    expect(tensor(new Float64Array([1, 2])).dtype).toBe('float64');
    expect(tensor(3).shape).toEqual([]);
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[1, 2]], { dtype: 'float64' }).dtype).toBe('float64');
    expect(full([2], 7).dtype).toBe('int32');
    expect(full([2], 0.5).dtype).toBe('float32');
    expect(zeros([3, 3]).toArraySync()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(eye(2, 3).toArraySync()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(arange(1, 2, 0.25).toArraySync()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(linspace(0, 2, 5).toArraySync()).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(zerosLike(ones([2], { dtype: 'int32' })).dtype).toBe('int32');
  });

  it('default dtype switch', () => {
    setDefaultDType('float64');
    try {
      expect(zeros([1]).dtype).toBe('float64');
      expect(tensor([0.5]).dtype).toBe('float64');
    } finally {
      setDefaultDType('float32');
    }
    expect(getDefaultDType()).toBe('float32');
  });

  it('seeded generators reproduce streams', () => {
    manualSeed(7);
    const a = randn([5]).toArraySync();
    manualSeed(7);
    expect(randn([5]).toArraySync()).toEqual(a);
    const g = new Generator().manualSeed(7);
    const state = g.getState();
    const b = rand([4], { generator: g }).toArraySync();
    g.setState(state);
    expect(rand([4], { generator: g }).toArraySync()).toEqual(b);
  });
});

describe('type promotion (PyTorch result_type)', () => {
  const f32 = ones([2]);
  const f64 = ones([2], { dtype: 'float64' });
  const i32 = tensor([1, 2]);
  const b = tensor([true, false]);
  it.each([
    ['int + int', () => i32.add(i32), 'int32'],
    ['int / int is true division', () => i32.div(i32), 'float32'],
    ['int + float scalar', () => i32.add(0.5), 'float32'],
    ['int + int scalar', () => i32.add(2), 'int32'],
    ['float32 + float64', () => f32.add(f64), 'float64'],
    ['float32 + 0-d float64', () => f32.add(tensor(1.5, { dtype: 'float64' })), 'float32'],
    ['int + 0-d float64', () => i32.add(tensor(1.5, { dtype: 'float64' })), 'float64'],
    ['bool + bool', () => b.add(b), 'bool'],
    ['bool + int scalar', () => b.add(1), 'int32'],
    ['comparison', () => f32.lt(i32), 'bool'],
    ['sum of bool', () => b.sum(), 'int32'],
    ['exp of int', () => i32.exp(), 'float32'],
    ['where', () => where(b, i32, 0.5), 'float32'],
  ] as const)('%s', (_name, fn, dtype) => {
    expect(fn().dtype).toBe(dtype);
  });

  it('bool arithmetic saturates like PyTorch', () => {
    expect(b.add(b).toArraySync()).toEqual([true, false]);
  });
  it('int32 arithmetic wraps like C', () => {
    expect(tensor([2147483647]).add(1).toArraySync()).toEqual([-2147483648]);
    expect(tensor([65536]).mul(65536).toArraySync()).toEqual([0]);
  });
});

describe('in-place ops', () => {
  it('write through and bump the version counter', () => {
    const w = zeros([3]);
    const v0 = w.version;
    w.add_(tensor([1, 2, 3]), { alpha: 2 });
    expect(w.toArraySync()).toEqual([2, 4, 6]);
    expect(w.version).toBe(v0 + 1);
    w.mul_(0.5).sub_(1);
    expect(w.toArraySync()).toEqual([0, 1, 2]);
    const t = arange(6, { dtype: 'float32' }).reshape(2, 3);
    t.T.fill_(1); // non-contiguous fill
    expect(t.toArraySync()).toEqual([
      [1, 1, 1],
      [1, 1, 1],
    ]);
    t.index(':', 1).zero_();
    expect(t.toArraySync()).toEqual([
      [1, 0, 1],
      [1, 0, 1],
    ]);
  });
  it('reject results that do not fit the target', () => {
    expect(() => zeros([3]).add_(ones([2, 3]))).toThrow(
      /output with shape \[3\] doesn't match the broadcast shape \[2, 3\]/,
    );
    expect(() => tensor([1, 2]).add_(0.5)).toThrow(
      /result type float32 can't be cast to the desired output type int32/,
    );
  });
  it('advanced index assignment', () => {
    const x = arange(6, { dtype: 'float32' }).reshape(2, 3);
    x.indexPut_([x.gt(3)], -1);
    expect(x.toArraySync()).toEqual([
      [0, 1, 2],
      [3, -1, -1],
    ]);
    x.indexPut_([':', tensor([0, 2])], tensor([7, 8]));
    expect(x.toArraySync()).toEqual([
      [7, 1, 8],
      [7, -1, 8],
    ]);
  });
});

describe('reading data', () => {
  it('async and sync reads agree', async () => {
    const t = randn([2, 3]);
    expect(await t.toArray()).toEqual(t.toArraySync());
    expect(Array.from(await t.data())).toEqual(Array.from(t.dataSync()));
    expect(await tensor([[2.5]]).item()).toBe(2.5);
    expect(tensor(true).itemSync()).toBe(true);
  });
});

describe('the autograd hook', () => {
  it('receives recorded ops with user-visible inputs and attrs', () => {
    const seen: string[] = [];
    setAutogradHook({
      isGradEnabled: () => true,
      record: (r) => {
        seen.push(`${r.op}:${r.inputs.map((t) => t.shape.join('x')).join(',')}:${JSON.stringify(r.attrs)}`);
        for (const o of r.outputs) o._setRequiresGrad(true);
      },
      beforeInplace: () => {},
      afterInplace: () => {},
    });
    try {
      const w = randn([4, 3], { requiresGrad: true });
      const x = randn([2, 3]);
      const y = x.matmul(w.T).sum(1);
      expect(y.requiresGrad).toBe(true);
      expect(seen).toEqual([
        'permute:4x3:{"dims":[1,0]}',
        'matmul:2x3,3x4:{}',
        'sum:2x4:{"dims":[1],"keepdim":false}',
      ]);
    } finally {
      setAutogradHook(undefined);
    }
  });
});

describe('memory', () => {
  it('views share storage and keep it alive after the base is disposed', () => {
    const base = arange(6, { dtype: 'float32' });
    const v = base.view(2, 3);
    expect(v.storage).toBe(base.storage);
    expect(base.storage.refs).toBe(2);
    base.dispose();
    expect(v.storage.refs).toBe(1);
    expect(v.toArraySync()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(v instanceof Tensor).toBe(true);
  });
});

describe('every pointwise op has an in-place variant matching the out-of-place result', () => {
  const unaryOps = [
    'abs',
    'sign',
    'neg',
    'exp',
    'log',
    'log1p',
    'expm1',
    'sqrt',
    'rsqrt',
    'reciprocal',
    'sin',
    'cos',
    'tanh',
    'sigmoid',
    'relu',
    'floor',
    'ceil',
    'round',
    'trunc',
    'square',
  ] as const;
  it.each(unaryOps)('%s_', (op) => {
    const x = tensor([0.25, 1.5, 2.5, 3.75], { dtype: 'float64' });
    const expected = (x[op] as () => Tensor).call(x).toArraySync();
    const y = x.clone();
    const v = y.version;
    const r = (y[`${op}_`] as () => Tensor).call(y);
    expect(r).toBe(y);
    expect(y.toArraySync()).toEqual(expected);
    expect(y.version).toBe(v + 1);
  });
  const binaryOps = ['add', 'sub', 'mul', 'div', 'pow', 'remainder', 'atan2'] as const;
  it.each(binaryOps)('%s_ (broadcast operand, strided target)', (op) => {
    const base = arange(12, { dtype: 'float64' }).add(1).reshape(3, 4);
    const target = base.T; // non-contiguous: takes the copy-back path
    const other = tensor([1.5, -2, 0.5], { dtype: 'float64' });
    const expected = (target[op] as (o: Tensor) => Tensor).call(target, other).toArraySync();
    (target[`${op}_`] as (o: Tensor) => Tensor).call(target, other);
    expect(target.toArraySync()).toEqual(expected);
    expect(base.T.toArraySync()).toEqual(expected);
  });
});

describe('in-place ops whose operand aliases the target', () => {
  it('x.add_(x.T) and x.add_(x[0]) read the operand before writing (PyTorch raises here; we compute it)', () => {
    const x = arange(4, { dtype: 'float32' }).reshape(2, 2);
    x.add_(x.T);
    expect(x.toArraySync()).toEqual([
      [0, 3],
      [3, 6],
    ]);
    const y = arange(6, { dtype: 'float32' }).reshape(3, 2);
    y.add_(y.index(0));
    expect(y.toArraySync()).toEqual([
      [0, 2],
      [2, 4],
      [4, 6],
    ]);
  });
  it('x.copy_(x.T) and x.copy_(x.flip) through views', () => {
    const x = arange(4, { dtype: 'float32' }).reshape(2, 2);
    x.copy_(x.T);
    expect(x.toArraySync()).toEqual([
      [0, 2],
      [1, 3],
    ]);
    const v = arange(5, { dtype: 'float32' });
    v.copy_(v.index('::-1'));
    expect(v.toArraySync()).toEqual([4, 3, 2, 1, 0]);
    const w = arange(5, { dtype: 'float32' });
    w.indexPut_(['1:'], w.index(':4'));
    expect(w.toArraySync()).toEqual([0, 0, 1, 2, 3]);
  });
});
