/**
 * The CPU backend against PyTorch 1.13 (fixtures/ops.json, written by fixtures/gen_ops.py), plus the
 * coverage rules that make a new op without fixtures fail CI.
 */
import { describe, expect, it } from 'vitest';
import { type Backend, createCPUBackend, opTable, registerBackend } from '../src/index.js';
import {
  buildInput,
  deviceSkipReason,
  fixtureCases,
  NOT_FROM_TORCH,
  randomProperties,
  runConformance,
  runners,
} from '../src/testing/index.js';

runConformance({ device: 'cpu' });

/**
 * A test double of a GPU backend: the CPU kernels behind a device without synchronous reads, without
 * float64 and without the cpu-only `cholesky` kernel. Running the suite on it checks that the suite
 * itself works for asynchronous backends (reads with `await t.data()`, skips what the device cannot do).
 */
function createAsyncDouble(): Backend {
  const { readSync: _readSync, kernels, ...cpu } = createCPUBackend();
  const without = new Map(kernels);
  without.delete('cholesky');
  return {
    ...cpu,
    name: 'cpu-async',
    kernels: without,
    unsupportedDType: (dtype) => (dtype === 'float64' ? 'float64 is not supported on cpu-async' : undefined),
  };
}
registerBackend(createAsyncDouble());
runConformance({ device: 'cpu-async' });

const isRandom = (name: string): boolean => {
  const def = opTable.get(name);
  return def !== undefined && def.kind === 'creation' && def.tags.includes('random');
};

describe('fixture coverage', () => {
  it('every op of the op table has PyTorch fixtures (random factories: property tests)', () => {
    const covered = new Set(fixtureCases.map((c) => c.op));
    const missing = [...opTable.keys()].filter((name) => !isRandom(name) && !covered.has(name));
    expect(missing, 'ops without fixtures: add cases to fixtures/gen_ops.py and re-run it').toEqual([]);
  });

  it('random creation ops are in NOT_FROM_TORCH, have property tests and no fixtures', () => {
    const random = [...opTable.keys()].filter(isRandom).sort();
    expect([...NOT_FROM_TORCH.keys()].sort()).toEqual(random);
    const withProps = new Set(randomProperties.map((p) => p.op));
    expect(random.filter((name) => !withProps.has(name))).toEqual([]);
    expect(fixtureCases.filter((c) => NOT_FROM_TORCH.has(c.op)).map((c) => c.id)).toEqual([]);
  });

  it('every alias of the op table is exercised by some fixture call', () => {
    const calls = new Set(fixtureCases.map((c) => c.call));
    const missing: string[] = [];
    for (const def of opTable.values()) {
      for (const alias of def.aliases ?? []) if (!calls.has(alias)) missing.push(`${def.name}.${alias}`);
    }
    expect(missing).toEqual([]);
  });

  it('every fixture names a known op and runner, with a unique id', () => {
    const unknownOps = fixtureCases.filter((c) => !opTable.has(c.op)).map((c) => c.id);
    const unknownCalls = fixtureCases.filter((c) => runners[c.call] === undefined).map((c) => c.id);
    expect(unknownOps).toEqual([]);
    expect(unknownCalls).toEqual([]);
    const ids = fixtureCases.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(randomProperties.map((p) => p.id)).size).toBe(randomProperties.length);
  });

  it('skips what a device cannot run (never on the CPU)', () => {
    const byId = (id: string) => fixtureCases.find((c) => c.id === id)!;
    for (const id of [
      'exp/f64',
      'cholesky/lower-f32',
      'nonzero/f32',
      'index/bool-mask-full',
      'matmul/2d-2d-f32',
    ]) {
      expect(deviceSkipReason(byId(id), 'cpu')).toBeUndefined();
    }
    expect(deviceSkipReason(byId('exp/f64'), 'cpu-async')).toMatch(/float64/);
    expect(deviceSkipReason(byId('cholesky/lower-f32'), 'cpu-async')).toMatch(/cpu-only/);
    expect(deviceSkipReason(byId('nonzero/f32'), 'cpu-async')).toMatch(/synchronously/);
    expect(deviceSkipReason(byId('index/bool-mask-full'), 'cpu-async')).toMatch(/synchronously/);
    expect(deviceSkipReason(byId('solve/matrix-f32'), 'cpu-async')).toBeUndefined();
    expect(deviceSkipReason(byId('matmul/2d-2d-f32'), 'cpu-async')).toBeUndefined();
  });

  it('rebuilds every layout as a view with the same logical values', () => {
    const data = [1, 2, 3, 4, 5, 6];
    const base = { data, shape: [2, 3], dtype: 'float32' } as const;
    const t = buildInput({ ...base, layout: 'transposed' }, 'cpu');
    expect(t.isContiguous()).toBe(false);
    expect(t.stride()).toEqual([1, 2]);
    expect(t.toArraySync()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const s = buildInput({ ...base, dtype: 'int32', layout: 'strided' }, 'cpu');
    expect(s.stride()).toEqual([6, 2]);
    expect(s.dtype).toBe('int32');
    expect(s.toArraySync()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const o = buildInput({ ...base, layout: 'offset' }, 'cpu');
    expect(o.offset).toBe(3);
    expect(o.toArraySync()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const e = buildInput(
      { data: [7, 8, 9, 7, 8, 9], shape: [2, 3], dtype: 'float64', layout: 'expanded', dim: 0 },
      'cpu',
    );
    expect(e.stride()).toEqual([0, 1]);
    expect(e.toArraySync()).toEqual([
      [7, 8, 9],
      [7, 8, 9],
    ]);
    const z = buildInput({ data: ['nan'], shape: [], dtype: 'float32', layout: 'offset' }, 'cpu');
    expect(z.shape).toEqual([]);
    expect(Number.isNaN(z.itemSync())).toBe(true);
  });
});
