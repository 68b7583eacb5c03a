/**
 * The fused LSTM kernels (`lstmLayer`, `lstmLayerBackward`) on WebGPU against the CPU's fused kernels:
 * outputs, final states and every gradient through autograd, over both recurrence paths (the
 * whole-sequence dispatch and one dispatch per step), plus the shared conformance fixtures of both ops.
 */
import { grad } from '@gradfolio/autograd';
import { getBackend, type Kernel, lstmLayer, manualSeed, randn, type Tensor } from '@gradfolio/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lstmTuning } from '../src/kernels/lstm.js';
import { gpuErrors, initTestGPU } from './gpu.js';

beforeAll(async () => {
  await initTestGPU();
  manualSeed(3);
});

const defaultMaxH = lstmTuning.wholeSequenceMaxH;
afterEach(() => {
  lstmTuning.wholeSequenceMaxH = defaultMaxH;
});

interface Shape {
  T: number;
  B: number;
  I: number;
  H: number;
  reverse?: boolean;
  bias?: boolean;
}

const NAMES = ['out', 'hN', 'cN', 'dx', 'dh0', 'dc0', 'dWih', 'dWhh', 'dbih', 'dbhh'];

/** Largest `|got - want| / max(1, |want|)` over all elements. */
function maxErr(got: Float32Array, want: Float32Array): number {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!));
    // NaN must fail, not vanish in Math.max.
    m = Number.isNaN(e) ? Number.POSITIVE_INFINITY : Math.max(m, e);
  }
  return m;
}

/** Runs the layer and its gradients on `device`; returns the outputs and gradients, in NAMES order. */
async function runLayer(
  s: Shape,
  leaves: Tensor[],
  gos: Tensor[],
  device: 'cpu' | 'webgpu',
): Promise<{ values: Float32Array[]; out: Tensor; cN: Tensor }> {
  const ls = leaves.map((t) => t.detach().to(device).requiresGrad_());
  const [x, h0, c0, wih, whh, bih, bhh] = ls as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?, Tensor?];
  const [out, hN, cN] = lstmLayer(x, h0, c0, { wih, whh, bih, bhh }, { reverse: s.reverse === true });
  const grads = grad([out, hN, cN], ls, { gradOutputs: gos.map((g) => g.to(device)) });
  const all = [out, hN, cN, ...grads];
  const values = await Promise.all(
    all.map(async (t) => {
      if (t === undefined) throw new Error('missing gradient');
      return (await t.data()) as Float32Array;
    }),
  );
  return { values, out, cN };
}

function makeCase(s: Shape): { leaves: Tensor[]; gos: Tensor[] } {
  const { T, B, I, H } = s;
  // Weights at PyTorch's init scale (1/sqrt(H)) keep the gates away from saturation.
  const k = 1 / Math.sqrt(H);
  const leaves = [
    randn([T, B, I]),
    randn([B, H]).mul(0.5),
    randn([B, H]).mul(0.5),
    randn([4 * H, I]).mul(k),
    randn([4 * H, H]).mul(k),
  ];
  if (s.bias !== false) leaves.push(randn([4 * H]).mul(k), randn([4 * H]).mul(k));
  const gos = [randn([T, B, H]), randn([B, H]), randn([B, H])];
  return { leaves, gos };
}

/** Counts the calls of the webgpu backend's `name` kernel while `f` runs. */
async function counting<R>(name: string, f: () => Promise<R>): Promise<{ result: R; calls: number }> {
  const kernels = getBackend('webgpu').kernels as Map<string, Kernel>;
  const kernel = kernels.get(name)!;
  let calls = 0;
  kernels.set(name, (i, o, a) => {
    calls++;
    kernel(i, o, a);
  });
  try {
    return { result: await f(), calls };
  } finally {
    kernels.set(name, kernel);
  }
}

const TOL = 2e-4;

async function check(s: Shape): Promise<void> {
  const { leaves, gos } = makeCase(s);
  const want = await runLayer(s, leaves, gos, 'cpu');
  const { result: got, calls } = await counting('lstmLayerBackward', () =>
    counting('lstmLayer', () => runLayer(s, leaves, gos, 'webgpu')),
  );
  expect(calls).toBe(1);
  expect(got.calls).toBe(1);
  // One node for the whole sequence: out and cN come from the same LstmLayerBackward0.
  expect(got.result.out.gradFn?.name).toBe('LstmLayerBackward0');
  expect(got.result.cN.gradFn).toBe(got.result.out.gradFn);
  const errs: Record<string, number> = {};
  got.result.values.forEach((v, i) => {
    errs[NAMES[i]!] = maxErr(v, want.values[i]!);
  });
  const worst = Math.max(...Object.values(errs));
  console.log(
    `lstm ${JSON.stringify(s)} path=${s.H <= lstmTuning.wholeSequenceMaxH ? 'whole' : 'per-step'} max rel err ${worst.toExponential(2)}`,
  );
  for (const [name, e] of Object.entries(errs)) expect(e, name).toBeLessThanOrEqual(TOL);
  expect(gpuErrors).toEqual([]);
}

const SHAPES: Shape[] = [
  { T: 5, B: 3, I: 4, H: 8 },
  { T: 5, B: 3, I: 4, H: 8, reverse: true },
  { T: 4, B: 2, I: 3, H: 6, bias: false },
  { T: 4, B: 2, I: 3, H: 5, reverse: true, bias: false },
  { T: 1, B: 2, I: 3, H: 7 },
  { T: 6, B: 1, I: 2, H: 3 },
  { T: 3, B: 2, I: 1, H: 33 },
];

describe('fused lstmLayer on webgpu vs the CPU (values and gradients)', () => {
  for (const s of SHAPES) {
    it(`whole-sequence dispatch: ${JSON.stringify(s)}`, () => check(s));
  }
  for (const s of SHAPES.slice(0, 5)) {
    it(`one dispatch per step: ${JSON.stringify(s)}`, async () => {
      lstmTuning.wholeSequenceMaxH = 0;
      await check(s);
    });
  }
  it('H above a workgroup (per-step, two workgroups per batch row): T 3, B 2, I 3, H 300', () =>
    check({ T: 3, B: 2, I: 3, H: 300, reverse: true }));
  it("seed 003's size: T 50, B 64, I 8, H 64", () => check({ T: 50, B: 64, I: 8, H: 64 }));
});

// The shared PyTorch fixtures of both fused ops (the suite's default tolerance for them).
