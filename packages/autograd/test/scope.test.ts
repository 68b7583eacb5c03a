/** Scopes and autograd: a graph keeps what it saved until its backward pass is done. */
import { type GradfolioError, lstmLayer, randn, type Tensor, tidy, zeros } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { zeroGrad } from '../src/index.js';

describe('tidy with autograd', () => {
  it('a loss returned from tidy still backpropagates; saved tensors are freed after backward', () => {
    const w = randn([3, 3]).requiresGrad_();
    const x = randn([4, 3]);
    let hidden: Tensor | undefined;
    const loss = tidy(() => {
      hidden = x.matmul(w).tanh(); // saved by tanh's backward (its output)
      return hidden.pow(2).sum();
    });
    expect(hidden?.isDisposed).toBe(false); // pinned by the graph
    loss.backward();
    expect(hidden?.isDisposed).toBe(true); // released with the graph
    expect(w.grad?.isDisposed).toBe(false);
    // Same gradient as without a scope.
    const w2 = w.detach().requiresGrad_();
    x.matmul(w2).tanh().pow(2).sum().backward();
    expect(Array.from(w.grad!.dataSync())).toEqual(Array.from(w2.grad!.dataSync()));
  });

  it('retainGraph keeps the saved tensors for a second backward', () => {
    const w = randn([2]).requiresGrad_();
    const loss = tidy(() => w.exp().sum());
    loss.backward(undefined, { retainGraph: true });
    loss.backward();
    const e = w.detach().exp();
    expect(Array.from(w.grad!.dataSync())).toEqual(Array.from(e.mul(2).dataSync()));
  });

  it('gradients made inside a scope outlive it; a whole training step fits in tidy', () => {
    const w = randn([5]).requiresGrad_();
    for (let i = 0; i < 3; i++) {
      const l = tidy(() => {
        zeroGrad([w]);
        const loss = w.mul(w).sum();
        loss.backward();
        return loss.detach();
      });
      expect(l.isDisposed).toBe(false);
      expect(w.grad?.isDisposed).toBe(false);
    }
    expect(Array.from(w.grad!.dataSync())).toEqual(Array.from(w.detach().mul(2).dataSync()));
  });

  it("a fused op's workspace (in the node's attributes) survives the scope of the forward", () => {
    const x = randn([4, 2, 3]);
    const h = zeros([2, 5]);
    const w = { wih: randn([20, 3]).requiresGrad_(), whh: randn([20, 5]).requiresGrad_() };
    const out = tidy(() => lstmLayer(x, h, h, w)[0]);
    out.sum().backward();
    expect(w.whh.grad?.shape).toEqual([20, 5]);
  });

  it('a disposed tensor is a DISPOSED error naming the op', () => {
    const t = tidy(() => {
      zeros([1]);
      return zeros([2]);
    });
    const gone = tidy(() => zeros([3]).add(1).mul(2));
    expect(gone.isDisposed).toBe(false);
    const inner: Tensor[] = [];
    tidy(() => {
      inner.push(t.add(1));
    });
    try {
      inner[0]!.add(1);
      expect.unreachable();
    } catch (e) {
      expect((e as GradfolioError).code).toBe('DISPOSED');
    }
  });
});
