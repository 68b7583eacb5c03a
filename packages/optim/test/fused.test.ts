/**
 * The fused CPU update kernels (`adamUpdate`, `sgdUpdate`) against the same optimizers run as ordinary
 * ops (a CPU backend without those kernels): bit-identical in float32 and float64.
 */
import {
  createCPUBackend,
  type DType,
  Generator,
  randn,
  registerBackend,
  type Tensor,
} from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { Adam, AdamW, type Optimizer, SGD } from '../src/index.js';

const cpu = createCPUBackend();
const kernels = new Map(cpu.kernels);
kernels.delete('adamUpdate');
kernels.delete('sgdUpdate');
registerBackend({ ...cpu, name: 'cpu-unfused', kernels });

function run(device: string, dtype: DType, make: (ps: Tensor[]) => Optimizer<object>): number[][] {
  const g = new Generator().manualSeed(3);
  const ps = [randn([7, 5], { dtype, generator: g }), randn([13], { dtype, generator: g })].map((p) =>
    p.to(device).requiresGrad_(),
  );
  const opt = make(ps);
  for (let step = 0; step < 6; step++) {
    opt.zeroGrad();
    for (const p of ps)
      p.grad = randn(p.shape as number[], { dtype, generator: g })
        .mul(step % 2 ? 0.1 : 3)
        .to(device);
    opt.step();
  }
  return ps.map((p) => Array.from(p.to('cpu').dataSync() as Float32Array));
}

const CASES: Array<[string, (ps: Tensor[]) => Optimizer<object>]> = [
  ['Adam', (ps) => new Adam(ps, { lr: 0.01 })],
  [
    'Adam amsgrad + weight decay + maximize',
    (ps) => new Adam(ps, { lr: 0.01, amsgrad: true, weightDecay: 0.1, maximize: true }),
  ],
  ['AdamW', (ps) => new AdamW(ps, { lr: 0.01 })],
  ['SGD', (ps) => new SGD(ps, { lr: 0.1 })],
  ['SGD momentum dampening', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.2 })],
  ['SGD nesterov', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true })],
];

describe('fused update kernels equal the op-by-op update', () => {
  for (const [name, make] of CASES) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${name} ${dtype}`, () => {
        const fused = run('cpu', dtype, make);
        const plain = run('cpu-unfused', dtype, make);
        expect(fused).toEqual(plain);
        expect(fused[0]).not.toEqual(run('cpu', dtype, (ps) => new SGD(ps, { lr: 0 }))[0]);
      });
    }
  }
});
