import { describe, expect, it } from 'vitest';
import { type Cell, type CellResult, cells } from '../src/cells.js';

/** Runs the cell whose id starts with `id` in `seed`. */
async function run(seed: Cell['seed'], id: string): Promise<CellResult['values']> {
  const cell = cells.find((c) => c.seed === seed && c.id.startsWith(id));
  if (cell === undefined) throw new Error(`no cell ${seed} ${id}`);
  return (await cell.run()).values;
}

function close(actual: unknown, expected: readonly number[], tol: number): void {
  const a = actual as readonly number[];
  expect(a.length).toBe(expected.length);
  for (const [i, v] of a.entries()) expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(tol);
}

describe('seed 001', () => {
  it('In [2] to In [5]: the pipe-separated, headerless BTCUSDT rows', async () => {
    const head = await run('001', 'In [2]');
    expect(head.firstTimestamp).toBe(1502942400);
    expect(head.firstOpen).toBe(4261.48);
    expect(head.firstVolume).toBeCloseTo(1.775183, 6);
    expect(head.thirdClose).toBe(4280.56);
    const dates = await run('001', 'In [3]');
    expect(dates.first).toBe('2017-08-17T04:00:00.000Z');
    expect(dates.last).toBe('2017-08-17T20:39:00.000Z');
    const t = await run('001', 'In [4]');
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([10, 5]);
    expect(t.device).toBe('cpu');
    close(t.row0, [4261.48, 4261.48, 4261.48, 4261.48, 1.775183], 1e-3);
  });

  it('In [6]: shapes of x, w, b', async () => {
    const v = await run('001', 'In [6]');
    expect(v).toEqual({ x: [1, 5], w: [1, 5], b: [1] });
  });

  it('In [8], In [9]: y = x @ w.T + b and its gradients', async () => {
    const v = await run('001', 'In [7]');
    // w and b were printed to 4 decimals: 4 weights x 5e-5 x 4291 bounds the error by 0.86.
    expect(Math.abs((v.y as number) - -2859.0393)).toBeLessThan(0.9);
    expect(v.gradFn).toBe('AddBackward0');
    close(v.wGrad, [4291.3701, 4291.3701, 4291.3701, 4291.3701, 0], 1e-3);
    close(v.bGrad, [1], 0);
  });

  it('In [11]: gradients accumulate over backward calls', async () => {
    const v = await run('001', 'In [11]');
    close(v.wGrad0, [4291.3701, 8582.7402, 12874.1104], 2e-3);
    close(v.bGrad, [1, 2, 3], 0);
  });

  it('In [12]: grad.zero_() resets them', async () => {
    const v = await run('001', 'In [12]');
    close(v.wGrad0, [4291.3701, 4291.3701, 4291.3701], 1e-3);
    close(v.bGrad, [1, 1, 1], 0);
  });

  it('In [13]: config-driven loading', async () => {
    const v = await run('001', 'In [13]');
    expect(v.separator).toBe('|');
    expect(v.trainRows).toBe(1000);
    expect(v.features).toBe('timestamp,open,high,low,close,volume');
    expect(v.firstVolume).toBeCloseTo(1.775183, 6);
  });

  it('In [15] to In [19]: custom loss, second backward error, retain_graph', async () => {
    close((await run('001', 'In [14]')).grad, [0.05], 1e-7);
    const v16 = await run('001', 'In [16]');
    close(v16.grad, [-6], 0);
    expect(v16.error).toMatch(/Trying to backward through the graph a second time/);
    const v18 = await run('001', 'In [18]');
    close(v18.first, [-6], 0);
    close(v18.second, [-12], 0);
  });
});

describe('seed 002', () => {
  it('In [22] to In [27]: the Sequential, its repr and its weights', async () => {
    const v = await run('002', 'In [22] to');
    expect(v.repr).toBe(
      [
        'Sequential(',
        '  (0): Linear(in_features=1, out_features=10, bias=True)',
        '  (1): Sigmoid()',
        '  (2): Linear(in_features=10, out_features=1, bias=False)',
        ')',
      ].join('\n'),
    );
    expect(v.w1Shape).toEqual([10, 1]);
    expect(v.b1Shape).toEqual([10]);
    expect(v.w2Shape).toEqual([1, 10]);
    expect(v.secondHasBias).toBe(false);
    expect(v.requiresGrad).toBe(true);
    // PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    expect(v.w1MaxAbs).toBeLessThanOrEqual(1);
    expect(v.b1MaxAbs).toBeLessThanOrEqual(1);
    expect(v.w2MaxAbs).toBeLessThanOrEqual(1 / Math.sqrt(10));
  });

  it('In [34] to In [40]: scalar backward', async () => {
    const v = await run('002', 'In [34]');
    expect(v.x).toBe('tensor(2., requiresGrad=true)');
    close(v.grad, [12], 0);
    const v40 = await run('002', 'In [40]');
    expect(v40.y).toBe(32);
    close(v40.wGrad, [10], 0);
    close(v40.bGrad, [1], 0);
    expect(v40.xGrad).toBeNull();
  });

  it('In [41]: my_loss is the MSE', async () => {
    const v = await run('002', 'In [41]');
    expect(v.mine).toBeCloseTo(v.builtin as number, 7);
  });

  it('In [10] to In [12]: L1Loss value and gradient', async () => {
    const v = await run('002', 'In [10]');
    expect(Math.abs((v.output as number) - 1.0261)).toBeLessThan(1e-4);
    expect(v.repr).toBe('L1Loss()');
    close(v.grad, [1 / 6, -1 / 6, -1 / 6, 1 / 6, -1 / 6, 1 / 6], 1e-6);
  });

  it('In [13] to In [17]: torch.autograd.grad with grad_outputs', async () => {
    const v = await run('002', 'In [13]');
    close(v.x, [0, 0.5, 1, 1.5, 2], 1e-6);
    close(v.y, [0, 0.125, 1, 3.375, 8], 1e-6);
    close(v.dydx, [0, 0.75, 3, 6.75, 12], 1e-5);
    expect(v.tupleLength).toBe(1);
    expect(v.scalarError).toMatch(/only for scalar outputs/);
  });

  it('In [18] to In [21]: create_graph derivative of Psi_t', async () => {
    const v = await run('002', 'In [18]');
    expect(v.shape).toEqual([100, 1]);
    expect(v.derivAt0).toBeCloseTo(v.n0 as number, 6);
    expect(v.hasGraph).toBe(true);
    expect(v.weightGradFinite).toBe(true);
  });

  it('Method 1 and Method 2: the Sequential fits y = x^3', async () => {
    const m1 = await run('002', 'In [22], In [23]');
    expect(m1.after as number).toBeLessThan((m1.before as number) / 100);
    const m2 = await run('002', 'In [None]');
    expect(m2.after as number).toBeLessThan((m2.before as number) / 100);
  });
});

describe('seed 004', () => {
  it('In [140] to In [151]: backward, no_grad, detach', async () => {
    const v = await run('004', 'In [140]');
    expect(v.x).toBe('tensor(2., requiresGrad=true)');
    close(v.grad, [7], 0);
    close((await run('004', 'In [144]')).grad, [7, 11, 15], 0);
    const ng = await run('004', 'In [147]');
    expect(ng.y).toBe(40);
    expect(ng.requiresGrad).toBe(false);
    expect(ng.xGrad).toBeNull();
    expect((await run('004', 'In [149]')).requiresGrad).toBe(false);
  });

  it('In [152] to In [157]: accumulation (the 16 is three re-runs) and zero_', async () => {
    const v = await run('004', 'In [152]');
    expect(v.first).toBe(4);
    expect(v.reruns).toEqual([8, 12, 16]);
    expect(v.afterZero).toBe(4);
  });

  it('In [158] to In [162]: chain rule and Jacobian-vector product', async () => {
    close((await run('004', 'In [158]')).grad, [6], 0);
    close((await run('004', 'In [160]')).grad, [2, 4], 0);
  });

  it('In [166]: w.item() is 1.9999994039535522 after two runs of 100 epochs', async () => {
    const v = await run('004', 'In [163]');
    expect(v.after200).toBe(1.9999994039535522);
    expect(v.after100).toBeCloseTo(1.99994433, 7);
  });

  it('In [171], In [172]: the printed inputs', async () => {
    const v = await run('004', 'In [167]');
    close(v.expected, [0.2655, 0.198, 0.1436], 1e-6);
  });

  it('In [175] to In [178]: SGD + clamp + renormalise', async () => {
    const v = await run('004', 'In [173]');
    const notebookRisks = [
      0.04548601806163788, 0.04475940018892288, 0.04402049630880356, 0.04327748343348503, 0.04254036396741867,
      0.04182100668549538, 0.04113326221704483, 0.040492936968803406, 0.039917752146720886,
    ];
    // Epoch 450's line is cut off in the notebook text, so nine of the ten printed risks are compared.
    close((v.risks as number[]).slice(0, 9), notebookRisks, 2e-5);
    close(v.epoch0, [0.3298613131046295, 0.33030465245246887, 0.33983397483825684], 1e-5);
    close(v.final, [0.21484653651714325, 0.5542225241661072, 0.23093098402023315], 5e-5);
    expect(Math.abs((v.ret as number) - 0.1999465823173523)).toBeLessThan(2e-5);
    expect(Math.abs((v.risk as number) - 0.03904213756322861)).toBeLessThan(2e-5);
    // The heuristic stops short of the true long-only minimum-variance portfolio.
    expect(v.minVarRisk as number).toBeLessThan((v.risk as number) - 3e-4);
  });
});
