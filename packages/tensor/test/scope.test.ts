import { describe, expect, it } from 'vitest';
import {
  endScope,
  type GradfolioError,
  keep,
  ones,
  scopeDepth,
  startScope,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';

describe('scopes (tidy, startScope/endScope, keep)', () => {
  it('disposes the temporaries and keeps what is returned', () => {
    const x = ones([3]);
    let tmp: Tensor | undefined;
    const y = tidy(() => {
      tmp = x.mul(2);
      return tmp.add(1);
    });
    expect(tmp?.isDisposed).toBe(true);
    expect(y.isDisposed).toBe(false);
    expect(Array.from(y.dataSync())).toEqual([3, 3, 3]);
    expect(x.isDisposed).toBe(false); // made outside the scope
  });

  it('returned tensors move to the enclosing scope; views keep their storage', () => {
    let inner: Tensor | undefined;
    let view: Tensor | undefined;
    const outer = tidy(() => {
      inner = tidy(() => zeros([2, 2]).add(5));
      expect(inner.isDisposed).toBe(false);
      view = inner.reshape(4);
      return view;
    });
    expect(inner?.isDisposed).toBe(true);
    expect(outer).toBe(view);
    expect(Array.from(outer.dataSync())).toEqual([5, 5, 5, 5]);
  });

  it('collects tensors from arrays, maps and plain objects; keep() survives every scope', () => {
    let kept: Tensor | undefined;
    let lost: Tensor | undefined;
    const r = tidy(() => {
      kept = keep(tensor([1]));
      lost = tensor([2]);
      return { a: [tensor([3])], m: new Map([['b', tensor([4])]]) };
    });
    expect(r.a[0]?.isDisposed).toBe(false);
    expect(r.m.get('b')?.isDisposed).toBe(false);
    expect(kept?.isDisposed).toBe(false);
    expect(lost?.isDisposed).toBe(true);
  });

  it('ends the scope when fn throws, refuses async functions, and checks endScope pairing', () => {
    let t: Tensor | undefined;
    expect(() =>
      tidy(() => {
        t = zeros([1]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(t?.isDisposed).toBe(true);
    expect(scopeDepth()).toBe(0);
    expect(() => tidy(async () => zeros([1]))).toThrow(/tidy needs a synchronous function/);
    expect(scopeDepth()).toBe(0);
    try {
      endScope();
      expect.unreachable();
    } catch (e) {
      expect((e as GradfolioError).code).toBe('INVALID_ARGUMENT');
    }
  });

  it('startScope/endScope around code that awaits', async () => {
    startScope();
    const a = zeros([2]).add(1);
    const v = await a.data();
    const b = a.mul(3);
    endScope(b);
    expect(Array.from(v)).toEqual([1, 1]);
    expect(a.isDisposed).toBe(true);
    expect(b.isDisposed).toBe(false);
  });
});
