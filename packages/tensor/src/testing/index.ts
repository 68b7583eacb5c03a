/**
 * `@gradfolio/tensor/testing`: the PyTorch-fixture conformance suite every backend re-runs.
 *
 * ```ts
 * // webgpu.test.ts
 * import { runConformance } from '@gradfolio/tensor/testing';
 * runConformance({ device: 'webgpu', skip: (id) => (id.includes('f64') ? 'no float64 on WebGPU' : undefined) });
 * ```
 *
 * @packageDocumentation
 */

import { describe, it } from 'vitest';
import { getBackend } from '../backend.js';
import type { DType } from '../dtype.js';
import { opTable } from '../ops/table.js';
import type { Tensor } from '../tensor.js';
import { checkOutputs, defaultTolerance, type Tolerance } from './compare.js';
import { buildInput, type FixtureCase, fixtureCases } from './fixtures.js';
import { randomProperties } from './random.js';
import { type RunnerResult, runners } from './runners.js';

export { checkOutputs, compareTensor, defaultTolerance, type Tolerance } from './compare.js';
export {
  buildInput,
  decodeNumber,
  type FixtureCase,
  type FixtureInput,
  type FixtureLayout,
  type FixtureNumber,
  type FixtureTensor,
  fixtureCases,
  NOT_FROM_TORCH,
} from './fixtures.js';
export { type RandomProperty, randomProperties } from './random.js';
export { type Runner, type RunnerResult, runners } from './runners.js';

/**
 * Options of {@link runConformance}.
 *
 * - `device`: where inputs are created and ops run (`'cpu'`, `'webgpu'`, ...).
 * - `ops`: only run the cases of these op-table names (random properties included by op name).
 * - `tolerance`: per op and output dtype (default {@link defaultTolerance}).
 * - `skip`: return a reason to skip a case (or a random property) by id. Cases a device cannot run at
 *   all are skipped without it (see {@link deviceSkipReason}).
 *
 * @example
 * ```ts
 * const options: ConformanceOptions = { device: 'webgpu', ops: ['add', 'matmul'] };
 * ```
 */
export interface ConformanceOptions {
  device: string;
  ops?: readonly string[];
  tolerance?: (op: string, dtype: DType) => { rtol: number; atol: number };
  skip?: (caseId: string) => string | undefined;
}

function flatten(r: RunnerResult): Tensor[] {
  return Array.isArray(r) ? r : [r];
}

/**
 * Runs one fixture case on `device`: rebuilds the inputs there, calls the case's runner, reads every
 * output back with `await t.data()` and compares shapes, dtypes and values (throws on a difference).
 * Inputs and outputs are disposed afterwards.
 *
 * @example
 * ```ts
 * await runCase(fixtureCases.find((c) => c.id === 'matmul/batched-f32')!, 'cpu');
 * ```
 */
export async function runCase(
  c: FixtureCase,
  device: string,
  tolerance: (op: string, dtype: DType) => Tolerance = defaultTolerance,
): Promise<void> {
  const runner = runners[c.call];
  if (runner === undefined) throw new Error(`${c.id}: no runner for call '${c.call}'`);
  const inputs = c.inputs.map((spec) => buildInput(spec, device));
  let outputs: Tensor[] = [];
  try {
    outputs = flatten(await runner(inputs, { ...c.attrs }, device));
    for (const o of outputs) {
      if (o.device !== device) throw new Error(`${c.id}: output on '${o.device}', expected '${device}'`);
    }
    await checkOutputs(c, outputs, tolerance);
  } finally {
    for (const t of [...outputs, ...inputs]) t.dispose();
  }
}

/**
 * Why `device` cannot run case `c` at all, or `undefined`: a dtype its backend does not support
 * (`unsupportedDType`, e.g. float64 on WebGPU), a `cpu-only` primitive it has no kernel for, a fused
 * kernel without composite fallback it lacks, or a
 * `syncRead` case (data-dependent shapes) on a backend without synchronous reads. Never skips on the
 * CPU, which must run everything. `runConformance` applies it after the `skip` option.
 *
 * @example
 * ```ts
 * deviceSkipReason(fixtureCases[0]!, 'cpu'); // undefined
 * ```
 */
export function deviceSkipReason(c: FixtureCase, device: string): string | undefined {
  if (device === 'cpu') return undefined;
  const backend = getBackend(device);
  for (const t of [...c.inputs, ...c.expected]) {
    const reason = backend.unsupportedDType?.(t.dtype);
    if (reason !== undefined) return reason;
  }
  const def = opTable.get(c.op);
  if (def?.kind === 'primitive' && def.tags.includes('cpu-only') && !backend.kernels.has(c.op)) {
    return `'${c.op}' is a cpu-only op and '${device}' has no kernel for it`;
  }
  if (def?.kind === 'fused' && def.compositeFallback !== true && !backend.kernels.has(c.op)) {
    return `'${c.op}' is a fused kernel '${device}' does not have (its callers run ordinary ops there)`;
  }
  if (c.syncRead === true && backend.readSync === undefined) {
    return `the result shape depends on the data, read synchronously, which '${device}' cannot do`;
  }
  return undefined;
}

/**
 * Registers the conformance suite with vitest (`describe`/`it`): one test per PyTorch fixture case of
 * `fixtures/ops.json`, grouped by op, plus the property tests of the random factories. Call it at the
 * top level of a test file (the backend may be registered later, e.g. in `beforeAll`); inputs are made
 * on `options.device` and results read with `await t.data()`, so asynchronous GPU backends work. Cases
 * the device cannot run at all are skipped with the reason ({@link deviceSkipReason}).
 *
 * @example
 * ```ts
 * import { runConformance } from '@gradfolio/tensor/testing';
 * runConformance({ device: 'cpu' });
 * ```
 */
export function runConformance(options: ConformanceOptions): void {
  const { device } = options;
  const only = options.ops === undefined ? undefined : new Set(options.ops);
  const tolerance = options.tolerance ?? defaultTolerance;
  const byOp = new Map<string, FixtureCase[]>();
  for (const c of fixtureCases) {
    if (only !== undefined && !only.has(c.op)) continue;
    const list = byOp.get(c.op);
    if (list === undefined) byOp.set(c.op, [c]);
    else list.push(c);
  }
  const props = randomProperties.filter((p) => only === undefined || only.has(p.op));
  describe(`conformance on '${device}' (PyTorch 1.13 fixtures)`, () => {
    for (const [op, list] of byOp) {
      describe(op, () => {
        for (const c of list) {
          const reason = options.skip?.(c.id);
          if (reason !== undefined) it.skip(`${c.id} (skipped: ${reason})`, () => {});
          else
            it(c.id, (ctx) => {
              const auto = deviceSkipReason(c, device);
              if (auto !== undefined) ctx.skip(auto);
              return runCase(c, device, tolerance);
            });
        }
      });
    }
    if (props.length > 0) {
      describe('random factories (properties; values differ from PyTorch by design)', () => {
        for (const p of props) {
          const reason = options.skip?.(p.id);
          if (reason !== undefined) it.skip(`${p.id} (skipped: ${reason})`, () => {});
          else it(p.id, () => p.run(device));
        }
      });
    }
  });
}
