/**
 * First- and second-order gradients of every differentiable op against PyTorch 1.13
 * (fixtures/grads.json, written by fixtures/gen_grads.py from the op cases of @gradfolio/tensor's
 * fixtures/gen_ops.py), replayed on the CPU, plus the coverage rule that makes a differentiable op
 * without a gradient fixture fail CI.
 */
import { readFileSync } from 'node:fs';
import { type DType, isFloating, opTable, type Tensor } from '@gradfolio/tensor';
import {
  buildInput,
  compareTensor,
  defaultTolerance,
  type FixtureInput,
  type FixtureTensor,
  fixtureCases,
  runners,
  type Tolerance,
} from '@gradfolio/tensor/testing';
import { describe, expect, it } from 'vitest';
import { grad } from '../src/index.js';

/** One case of fixtures/grads.json (see the docstring of fixtures/gen_grads.py). */
interface GradCase {
  readonly id: string;
  readonly op: string;
  readonly call: string;
  readonly inputs: readonly FixtureInput[];
  readonly attrs: Readonly<Record<string, unknown>>;
  /** Indices of the inputs that require grad. */
  readonly wrt: readonly number[];
  /** One per output of the call; null for non-floating outputs (indices). */
  readonly gradOutputs: readonly (FixtureInput | null)[];
  /** One per `wrt` entry; null where PyTorch returned None (input unused). */
  readonly grads: readonly (FixtureTensor | null)[];
  /** Gradients of `sum_i (grads_i * vectors_i).sum()` with respect to the `wrt` inputs. */
  readonly second?: {
    readonly vectors: readonly (FixtureInput | null)[];
    readonly grads: readonly (FixtureTensor | null)[];
  };
  /** Set on cases that keep the finite positions of an element-wise special-value case. */
  readonly derived?: string;
}

const cases = JSON.parse(
  readFileSync(new URL('../fixtures/grads.json', import.meta.url), 'utf8'),
) as readonly GradCase[];

const DEVICE = 'cpu';

/** Op kinds whose differentiable ops must all have a gradient fixture. */
const RECORDED_KINDS = new Set(['primitive', 'structural', 'view', 'composite']);

function maxTol(a: Tolerance, b: Tolerance): Tolerance {
  return { rtol: Math.max(a.rtol, b.rtol), atol: Math.max(a.atol, b.atol) };
}

/**
 * Cases whose float32 gradients lose more digits than the rule below allows, with why.
 * `var`/`std` of `offset-mean`: the inputs are x + 1000 in float32, so x - mean cancels ~3 of the ~7
 * float32 digits (ulp(1000) = 6e-5 against deviations of ~1) in PyTorch's float32 backward; gradfolio
 * rounds differently, so the results agree to ~1e-4 relative only.
 */
const CASE_TOLERANCE: Readonly<Record<string, Tolerance>> = {
  'var/offset-mean': { rtol: 1e-3, atol: 1e-4 },
  'std/offset-mean': { rtol: 1e-3, atol: 1e-4 },
};

/**
 * Tolerance of a gradient of `op` computed in `dtype`: the forward suite's {@link defaultTolerance},
 * widened to what a backward formula accumulates (a gradient is a chain of several roundings, broadcast
 * reductions sum over many elements; PyTorch computes float32 backward formulas in float32 with its own
 * operation order, gradfolio's CPU kernels in float64 with one rounding per kernel). Second-order
 * gradients chain twice as many operations and get the next decade.
 */
function gradTolerance(c: GradCase, dtype: DType, order: 1 | 2): Tolerance {
  const base = defaultTolerance(c.op, dtype);
  const own = CASE_TOLERANCE[c.id];
  if (dtype === 'float32') {
    const rule = maxTol(base, order === 1 ? { rtol: 1e-4, atol: 1e-5 } : { rtol: 1e-3, atol: 1e-4 });
    return own === undefined ? rule : maxTol(rule, own);
  }
  return maxTol(base, order === 1 ? { rtol: 1e-9, atol: 1e-11 } : { rtol: 1e-8, atol: 1e-10 });
}

/**
 * The dtype a gradient is computed in: float32 when the gradient itself or any floating output is
 * float32 (the gradient of a float64 operand of a float32 result, e.g. `add(f32[4], f64 0-d)`, is a
 * float32 sum cast to float64), else float64.
 */
function computeDType(c: GradCase, gradDType: DType): DType {
  if (gradDType === 'float32' || c.gradOutputs.some((g) => g?.dtype === 'float32')) return 'float32';
  return gradDType;
}

function asList(r: Tensor | Tensor[]): Tensor[] {
  return Array.isArray(r) ? r : [r];
}

function allZero(data: ArrayLike<number>): boolean {
  for (let k = 0; k < data.length; k++) if (data[k] !== 0) return false;
  return true;
}

function fixtureAllZero(t: FixtureTensor): boolean {
  return t.data.every((v) => v === 0);
}

/**
 * Compares gradients with PyTorch's. An unused input (PyTorch's None, gradfolio's undefined) and an
 * all-zero gradient are the same derivative: PyTorch itself returns zeros or None for it depending on
 * the formula (relu's second derivative is a zeros tensor, expandAs's second operand None).
 */
async function compareGrads(
  label: string,
  c: GradCase,
  order: 1 | 2,
  got: readonly (Tensor | undefined)[],
  want: readonly (FixtureTensor | null)[],
  problems: string[],
): Promise<void> {
  if (got.length !== want.length) {
    problems.push(`${label}: ${got.length} gradients, expected ${want.length}`);
    return;
  }
  for (let k = 0; k < want.length; k++) {
    const g = got[k];
    const w = want[k] ?? null;
    const where = `${label} of input ${c.wrt[k]}`;
    if (g === undefined) {
      if (w !== null && !fixtureAllZero(w)) problems.push(`${where}: undefined (unused), expected values`);
      continue;
    }
    const data = await g.data();
    if (w === null) {
      if (!allZero(data)) problems.push(`${where}: got non-zero values, PyTorch says the input is unused`);
      continue;
    }
    const tol = gradTolerance(c, computeDType(c, w.dtype), order);
    const p = compareTensor(data, g.shape, g.dtype, w, tol, true);
    if (p !== undefined) problems.push(`${where}: ${p}`);
  }
}

async function runGradCase(c: GradCase): Promise<void> {
  const runner = runners[c.call];
  if (runner === undefined) throw new Error(`${c.id}: no runner for call '${c.call}'`);
  const inputs = c.inputs.map((spec) => buildInput(spec, DEVICE));
  const wrtInputs = c.wrt.map((i) => inputs[i]!.requiresGrad_());
  const outputs = asList(await runner(inputs, { ...c.attrs }, DEVICE));
  if (outputs.length !== c.gradOutputs.length) {
    throw new Error(`${c.id}: ${outputs.length} outputs, expected ${c.gradOutputs.length}`);
  }
  const floatOutputs: Tensor[] = [];
  const gradOutputs: Tensor[] = [];
  outputs.forEach((o, k) => {
    const spec = c.gradOutputs[k];
    if (spec === null || spec === undefined) {
      if (isFloating(o.dtype))
        throw new Error(`${c.id}: output ${k} is ${o.dtype}, expected an index output`);
      return;
    }
    floatOutputs.push(o);
    gradOutputs.push(buildInput(spec, DEVICE));
  });
  const hasSecond = c.second !== undefined;
  const grads = grad(floatOutputs, wrtInputs, { gradOutputs, createGraph: hasSecond, allowUnused: true });
  const problems: string[] = [];
  await compareGrads('grad', c, 1, grads, c.grads, problems);
  if (c.second !== undefined) {
    let total: Tensor | undefined;
    c.second.vectors.forEach((spec, k) => {
      const g = grads[k];
      if (spec === null || g === undefined) return;
      const term = g.mul(buildInput(spec, DEVICE)).sum();
      total = total === undefined ? term : total.add(term);
    });
    if (total === undefined || !total.requiresGrad) {
      // The first-order gradients carry no graph: gradfolio found them independent of the inputs (relu's
      // mask, a reflection pad's index map). PyTorch records such formulas anyway and differentiates
      // them to zeros, which is the same second derivative.
      if (!c.second.grads.every((g) => g === null || fixtureAllZero(g))) {
        problems.push(
          'second order: the first-order gradients carry no graph, expected non-zero derivatives',
        );
      }
    } else {
      const second = grad(total, wrtInputs, { allowUnused: true });
      await compareGrads('second-order grad', c, 2, second, c.second.grads, problems);
    }
  }
  if (problems.length > 0) throw new Error(`${c.id} (${c.call}):\n${problems.join('\n')}`);
}

describe("gradients on 'cpu' against PyTorch 1.13 (fixtures/grads.json)", () => {
  const byOp = new Map<string, GradCase[]>();
  for (const c of cases) {
    const list = byOp.get(c.op);
    if (list === undefined) byOp.set(c.op, [c]);
    else list.push(c);
  }
  for (const [op, list] of byOp) {
    describe(op, () => {
      for (const c of list) it(c.id, () => runGradCase(c));
    });
  }
});

describe('gradient fixture coverage', () => {
  it('every differentiable op of the op table has a grad fixture case', () => {
    const covered = new Set(cases.map((c) => c.op));
    const missing = [...opTable.values()]
      .filter((d) => d.differentiable && RECORDED_KINDS.has(d.kind) && !covered.has(d.name))
      .map((d) => d.name);
    expect(missing).toEqual([]);
  });

  it('every grad fixture case is of a differentiable op and has a runner', () => {
    const wrong = cases
      .filter((c) => opTable.get(c.op)?.differentiable !== true || runners[c.call] === undefined)
      .map((c) => c.id);
    expect(wrong).toEqual([]);
  });

  it('the cases replay the inputs of @gradfolio/tensor fixtures/ops.json (regenerate both together)', () => {
    const ops = new Map(fixtureCases.map((c) => [c.id, c]));
    const stale = cases
      .filter((c) => c.derived === undefined)
      .filter((c) => {
        const f = ops.get(c.id);
        return (
          f === undefined ||
          f.call !== c.call ||
          JSON.stringify(f.inputs) !== JSON.stringify(c.inputs) ||
          JSON.stringify(f.attrs) !== JSON.stringify(c.attrs)
        );
      })
      .map((c) => c.id);
    expect(stale).toEqual([]);
  });
});
