import { readFileSync } from 'node:fs';
import { noGrad } from '@gradfolio/autograd';
import { Generator, GradfolioError, ones, randn, type Tensor, tensor, zeros } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { LeakyReLU, ReLU, Sigmoid, Tanh } from '../src/activation.js';
import { ModuleDict, ModuleList, Sequential } from '../src/containers.js';
import { Dropout, Flatten, Identity, Linear } from '../src/linear.js';
import { isParameter, Module, parameter } from '../src/module.js';
import { clipGradNorm_, clipGradValue_, parametersToVector, vectorToParameters } from '../src/utils.js';

// Reference names, reprs and values from PyTorch 1.13 (fixtures/gen_nn_basic.py).

interface Enc {
  shape: number[];
  data: Array<number | string>;
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/nn_basic.json', import.meta.url), 'utf8'));
const dec = (e: Enc): Tensor => tensor(e.data.map(Number), { dtype: 'float64' }).reshape(e.shape);

class Net extends Module {
  fc = this.registerModule('fc', new Linear(4, 8));
  body = this.registerModule(
    'body',
    new Sequential(
      new ReLU(),
      new Linear(8, 8),
      new Dropout(0.25),
      new Sequential(new Tanh(), new Linear(8, 2)),
    ),
  );
  heads = this.registerModule('heads', new ModuleList([new Linear(2, 1), new Linear(2, 3, { bias: false })]));
  table = this.registerModule('table', new ModuleDict({ a: new Linear(3, 3), b: new Identity() }));
  flat = this.registerModule('flat', new Flatten());
  act = this.registerModule('act', new LeakyReLU(0.1));
  forward(x: Tensor): Tensor {
    return this.body.call(this.fc.call(x));
  }
}

const seq002 = (): Sequential =>
  new Sequential(new Linear(1, 10), new Sigmoid(), new Linear(10, 1, { bias: false }));

describe('Parameter', () => {
  it('marks leaves that require grad', () => {
    const w = parameter(randn([2, 2]));
    expect(isParameter(w)).toBe(true);
    expect(w.requiresGrad && w.isLeaf).toBe(true);
    expect(isParameter(randn([2]))).toBe(false);
    expect(w.toString().startsWith('Parameter containing:\ntensor(')).toBe(true);
    const frozen = parameter(zeros([2]), false);
    expect(frozen.requiresGrad).toBe(false);
    const nonLeaf = randn([2]).requiresGrad_().mul(2);
    const p = parameter(nonLeaf);
    expect(p).not.toBe(nonLeaf);
    expect(p.isLeaf).toBe(true);
  });
});

describe('Module registration and traversal', () => {
  it("seed 002's repr and state-dict keys are PyTorch's", () => {
    const s = seq002();
    expect(s.toString()).toBe(fx.seq002.repr);
    expect(s.toString()).toBe(
      'Sequential(\n  (0): Linear(in_features=1, out_features=10, bias=True)\n  (1): Sigmoid()\n  (2): Linear(in_features=10, out_features=1, bias=False)\n)',
    );
    expect(Object.keys(s.stateDict())).toEqual(['0.weight', '0.bias', '2.weight']);
    expect(fx.seq002.keys).toEqual(['0.weight', '0.bias', '2.weight']);
  });

  it('nested modules: keys, parameter names, module names and repr equal PyTorch', () => {
    const net = new Net();
    expect(Object.keys(net.stateDict())).toEqual(fx.net.keys);
    expect(net.namedParameters().map(([n]) => n)).toEqual(fx.net.params);
    expect(net.namedModules().map(([n]) => n)).toEqual(fx.net.modules);
    expect(net.toString()).toBe(fx.net.repr);
    expect(net.parameters().length).toBe(fx.net.params.length);
    expect(net.children().length).toBe(6);
    expect(net.namedChildren().map(([n]) => n)).toEqual(['fc', 'body', 'heads', 'table', 'flat', 'act']);
    expect(net.parameters({ recurse: false })).toEqual([]);
    expect(net.getSubmodule('body.3.1')).toBe(
      net.body.at(3) instanceof Sequential ? (net.body.at(3) as Sequential).at(1) : undefined,
    );
    expect(net.getParameter('fc.weight')).toBe(net.fc.weight);
    expect(() => net.getSubmodule('nope')).toThrow(/no attribute 'nope'/);
  });

  it('buffers: persistent ones are in the state dict, non-persistent ones are not', () => {
    class WithBuf extends Module {
      scale = this.registerParameter('scale', ones([2]));
      running = this.registerBuffer('running_mean', zeros([2]));
      cache = this.registerBuffer('cache', zeros([1]), { persistent: false });
      forward(x: Tensor): Tensor {
        return x.mul(this.scale);
      }
    }
    const m = new Sequential(new WithBuf());
    expect(Object.keys(m.stateDict())).toEqual(['0.scale', '0.running_mean']);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['0.running_mean', '0.cache']);
    expect(m.buffers().length).toBe(2);
    expect(isParameter(m.at(0).getParameter('scale'))).toBe(true);
    expect(() => (m.at(0) as WithBuf).registerParameter('cache', ones([1]))).toThrow(/already exists/);
    expect(() => (m.at(0) as WithBuf).registerBuffer('a.b', ones([1]))).toThrow(/without "."/);
  });

  it('shared parameters and modules are listed once', () => {
    const l = new Linear(2, 2);
    const s = new Sequential(l, l);
    expect(s.parameters().length).toBe(2);
    expect(s.modules().length).toBe(2);
    expect(Object.keys(s.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
  });

  it('stateDict tensors are detached and share storage', () => {
    const l = new Linear(2, 2);
    const sd = l.stateDict();
    expect(sd.weight?.requiresGrad).toBe(false);
    expect(sd.weight?.storage).toBe(l.weight.storage);
    expect(l.stateDict({ keepVars: true }).weight).toBe(l.weight);
  });
});

describe('loadStateDict', () => {
  it('copies values in place', () => {
    const a = seq002();
    const b = seq002();
    const w = b.getParameter('0.weight');
    const res = b.loadStateDict(a.stateDict());
    expect(res).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.getParameter('0.weight')).toBe(w);
    expect([...w.dataSync()]).toEqual([...a.getParameter('0.weight').dataSync()]);
    expect(w.isLeaf && w.requiresGrad).toBe(true);
  });

  it("strict errors list missing, unexpected keys and size mismatches like PyTorch's", () => {
    const l = new Linear(3, 2);
    let err: unknown;
    try {
      l.loadStateDict({ weight: zeros([3, 2]), extra: zeros([1]) });
    } catch (e) {
      err = e;
    }
    expect(GradfolioError.isInstance(err)).toBe(true);
    const g = err as GradfolioError;
    expect(g.code).toBe('STATE_DICT_MISMATCH');
    const torchMsg = (fx.loadError as string).replace(/torch\.Size\((\[[^\]]*\])\)/g, '$1');
    expect(g.message).toBe(torchMsg);
    expect(g.details.missingKeys).toEqual(['bias']);
    expect(g.details.unexpectedKeys).toEqual(['extra']);
  });

  it('non-strict returns the lists; size mismatches still throw', () => {
    const l = new Linear(3, 2);
    expect(l.loadStateDict({ weight: zeros([2, 3]), extra: zeros([1]) }, { strict: false })).toEqual({
      missingKeys: ['bias'],
      unexpectedKeys: ['extra'],
    });
    expect([...l.weight.dataSync()]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(() => l.loadStateDict({ weight: zeros([3, 2]) }, { strict: false })).toThrow(
      /size mismatch for weight: copying a param with shape \[3, 2\] from checkpoint, the shape in current model is \[2, 3\]/,
    );
  });
});

describe('modes, grads, devices', () => {
  it('train/eval propagate and toggle Dropout', () => {
    const net = new Net();
    expect(net.training).toBe(true);
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    const x = randn([3, 4]);
    const y1 = net.call(x);
    const y2 = net.call(x);
    expect([...y1.dataSync()]).toEqual([...y2.dataSync()]);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
  });

  it('zeroGrad drops or zeroes grads; requiresGrad_ freezes', () => {
    const l = new Linear(2, 1);
    l.call(randn([4, 2]))
      .sum()
      .backward();
    expect(l.weight.grad).toBeDefined();
    l.zeroGrad({ setToNone: false });
    expect([...(l.weight.grad as Tensor).dataSync()]).toEqual([0, 0]);
    l.zeroGrad();
    expect(l.weight.grad).toBeUndefined();
    l.requiresGrad_(false);
    expect(l.parameters().every((p) => !p.requiresGrad)).toBe(true);
    l.requiresGrad_();
    expect(l.parameters().every((p) => p.requiresGrad)).toBe(true);
  });

  it('to() casts, keeps leaves/parameters, updates properties and names', () => {
    const s = seq002();
    const lin = s.at(0) as Linear;
    s.getParameter('0.weight').requiresGrad_(false);
    s.to('float64');
    expect(lin.weight.dtype).toBe('float64');
    expect(s.getParameter('0.weight')).toBe(lin.weight);
    expect(s.parameters().every((p) => p.isLeaf && isParameter(p) && p.dtype === 'float64')).toBe(true);
    expect(lin.weight.requiresGrad).toBe(false);
    expect(lin.bias?.requiresGrad).toBe(true);
    const same = lin.bias;
    s.to('cpu');
    expect(lin.bias).toBe(same);
    s.to({ device: 'cpu', dtype: 'float64' });
    expect(lin.bias).toBe(same);
    s.float();
    expect(lin.weight.dtype).toBe('float32');
  });

  it('apply visits children before parents; call runs hooks', () => {
    const order: string[] = [];
    seq002().apply((m) => order.push(m.constructor.name));
    expect(order).toEqual(['Linear', 'Sigmoid', 'Linear', 'Sequential']);
    const l = new Linear(2, 2);
    const h = l.registerForwardHook((_m, _a, out) => out.mul(0));
    expect([...l.call(randn([1, 2])).dataSync()].every((v) => v === 0)).toBe(true);
    h.remove();
    expect([...l.call(ones([1, 2])).dataSync()]).not.toEqual([0, 0]);
  });
});

describe('containers', () => {
  it('Sequential indexing, append, insert, pop, slice, named children', () => {
    const s = seq002();
    expect(s.length).toBe(3);
    expect(s.at(-1)).toBe(s.get(2));
    expect(() => s.at(3)).toThrow(/out of range/);
    s.append(new ReLU());
    expect(Object.keys(s.stateDict())).toEqual(['0.weight', '0.bias', '2.weight']);
    expect(s.namedChildren().map(([n]) => n)).toEqual(['0', '1', '2', '3']);
    s.insert(0, new Identity());
    expect(s.at(0)).toBeInstanceOf(Identity);
    expect(Object.keys(s.stateDict())).toEqual(['1.weight', '1.bias', '3.weight']);
    s.pop(0);
    expect(
      s
        .slice(0, 2)
        .namedChildren()
        .map(([n]) => n),
    ).toEqual(['0', '1']);
    expect([...s].length).toBe(4);
    const named = new Sequential({ fc: new Linear(2, 3), act: new ReLU() });
    expect(Object.keys(named.stateDict())).toEqual(['fc.weight', 'fc.bias']);
    expect(named.call(randn([5, 2])).shape).toEqual([5, 3]);
  });

  it('ModuleList and ModuleDict', () => {
    const ml = new ModuleList([new Linear(2, 2)]);
    ml.push(new ReLU(), new Linear(2, 1));
    expect(ml.length).toBe(3);
    expect([...ml].map((m) => m.constructor.name)).toEqual(['Linear', 'ReLU', 'Linear']);
    expect(Object.keys(ml.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(() => ml.forward()).toThrow(/no forward/);
    const md = new ModuleDict({ a: new Linear(1, 1) });
    md.set('b', new ReLU());
    expect(md.keys()).toEqual(['a', 'b']);
    expect([...md]).toEqual(['a', 'b']);
    expect(md.has('b')).toBe(true);
    md.pop('b');
    expect(md.size).toBe(1);
  });
});

describe('utils', () => {
  for (const c of fx.clipGradNorm as Array<Record<string, any>>) {
    it(`clipGradNorm_(maxNorm=${c.maxNorm}, normType=${c.normType}) matches torch`, () => {
      const ps = (c.grads as Enc[]).map((g) => {
        const p = parameter(zeros(g.shape, { dtype: 'float64' }));
        p.grad = dec(g);
        return p;
      });
      const nt = c.normType === 'Infinity' ? Number.POSITIVE_INFINITY : c.normType;
      const total = clipGradNorm_(ps, c.maxNorm, nt);
      expect(Math.abs(Number(total.itemSync()) - c.total)).toBeLessThan(1e-10 * (1 + c.total));
      ps.forEach((p, i) => {
        const want = (c.clipped as Enc[])[i] as Enc;
        const got = (p.grad as Tensor).dataSync();
        want.data.forEach((v, k) => {
          expect(Math.abs((got[k] as number) - Number(v))).toBeLessThan(1e-10);
        });
      });
    });
  }

  it('clipGradNorm_ errorIfNonfinite, no grads', () => {
    const p = parameter(zeros([2]));
    expect(Number(clipGradNorm_([p], 1).itemSync())).toBe(0);
    p.grad = tensor([Number.NaN, 1]);
    expect(() => clipGradNorm_(p, 1, { errorIfNonfinite: true })).toThrow(/non-finite/);
    expect(Number.isNaN(Number(clipGradNorm_(p, 1).itemSync()))).toBe(true);
  });

  it('clipGradValue_, parametersToVector, vectorToParameters', () => {
    const l = new Linear(2, 2);
    l.weight.grad = tensor([
      [-3, 0.5],
      [2, -0.1],
    ]);
    clipGradValue_(l.parameters(), 1);
    expect([...l.weight.grad.dataSync()].map((v) => Math.round(v * 10) / 10)).toEqual([-1, 0.5, 1, -0.1]);
    const v = parametersToVector(l.parameters());
    expect(v.shape).toEqual([6]);
    const w = l.weight;
    vectorToParameters(
      noGrad(() => v.mul(0).add(1)),
      l.parameters(),
    );
    expect(l.weight).toBe(w);
    expect([...l.weight.dataSync(), ...(l.bias as Tensor).dataSync()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(() => vectorToParameters(zeros([5]), l.parameters())).toThrow(/6 elements/);
  });

  it('a seeded Linear is reproducible through the module API', () => {
    const a = new Linear(3, 3, { generator: new Generator().manualSeed(9) });
    const b = new Linear(3, 3, { generator: new Generator().manualSeed(9) });
    expect([...parametersToVector(a.parameters()).dataSync()]).toEqual([
      ...parametersToVector(b.parameters()).dataSync(),
    ]);
  });
});
