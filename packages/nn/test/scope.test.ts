/** Modules and scopes: parameters and buffers outlive the scope a module is built or moved in. */
import '@gradfolio/autograd';
import { randn, tidy } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, LSTM, mseLoss } from '../src/index.js';

describe('modules built inside tidy', () => {
  it('keep their parameters and buffers, and train afterwards', () => {
    const { lstm, bn } = tidy(() => ({ lstm: new LSTM(3, 4), bn: new BatchNorm1d(4) }));
    for (const p of lstm.parameters()) expect(p.isDisposed).toBe(false);
    for (const b of bn.buffers()) expect(b.isDisposed).toBe(false);
    const x = randn([5, 2, 3]);
    const loss = tidy(() => {
      const [out] = lstm.forward(x);
      const l = mseLoss(bn.forward(out.select(0, -1)), randn([2, 4]));
      l.backward();
      return l.detach();
    });
    expect(Number.isFinite(loss.itemSync() as number)).toBe(true);
    for (const p of lstm.parameters()) expect(p.grad?.isDisposed).toBe(false);
  });
});
