import * as autograd from '@gradfolio/autograd';
import * as data from '@gradfolio/data';
import * as finance from '@gradfolio/finance';
import * as nn from '@gradfolio/nn';
import * as optim from '@gradfolio/optim';
import * as tensor from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import * as gf from '../src/index.js';

// The umbrella only wires: every name must be the package's own object, not a copy or a wrapper.
describe('gradfolio namespaces are the packages themselves', () => {
  it('re-exports every @gradfolio/tensor export at the top level', () => {
    const names = Object.keys(tensor);
    expect(names.length).toBeGreaterThan(100);
    for (const name of names)
      expect((gf as Record<string, unknown>)[name], name).toBe((tensor as Record<string, unknown>)[name]);
  });

  it('exposes nn, optim, data, finance and autograd as namespaces with every export', () => {
    const pairs: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['nn', gf.nn, nn],
      ['optim', gf.optim, optim],
      ['data', gf.data, data],
      ['finance', gf.finance, finance],
      ['autograd', gf.autograd, autograd],
    ];
    for (const [label, ns, pkg] of pairs) {
      expect(Object.keys(ns).sort(), label).toEqual(Object.keys(pkg).sort());
      for (const name of Object.keys(pkg)) expect(ns[name], `${label}.${name}`).toBe(pkg[name]);
    }
    expect(gf.noGrad).toBe(autograd.noGrad);
    expect(gf.grad).toBe(autograd.grad);
    expect(gf.zeroGrad).toBe(autograd.zeroGrad);
  });

  it('device() follows setDefaultDevice and useCPU', () => {
    gf.useCPU();
    expect(gf.device()).toBe('cpu');
    expect(gf.getDefaultDevice()).toBe('cpu');
    expect(gf.randn([2, 3]).device).toBe('cpu');
  });
});
