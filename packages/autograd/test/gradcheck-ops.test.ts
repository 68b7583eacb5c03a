/**
 * Finite differences for every case of fixtures/grads.json: the inputs are rebuilt in float64 (same
 * values and memory layout) and `gradcheck` compares gradfolio's analytical derivatives with central
 * differences; cases with second-order fixtures also run `gradgradcheck`. This checks the derivatives
 * against the forward ops themselves, independently of PyTorch.
 */
import { readFileSync } from 'node:fs';
import { type DType, isFloating, type Tensor } from '@gradfolio/tensor';
import { buildInput, type FixtureInput, type Runner, runners } from '@gradfolio/tensor/testing';
import { describe, expect, it } from 'vitest';
import { gradcheck, gradgradcheck } from '../src/index.js';

/** The fields of a fixtures/grads.json case this suite needs (see fixtures/gen_grads.py). */
interface GradCase {
  readonly id: string;
  readonly op: string;
  readonly call: string;
  readonly inputs: readonly FixtureInput[];
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly wrt: readonly number[];
  readonly second?: unknown;
}

const cases = JSON.parse(
  readFileSync(new URL('../fixtures/grads.json', import.meta.url), 'utf8'),
) as readonly GradCase[];

const DEVICE = 'cpu';

/**
 * Cases whose fixture inputs sit where the function is not differentiable (or where central
 * differences with the default eps cannot resolve it), so finite differences disagree with any
 * one-sided convention: skipped for gradcheck (and gradgradcheck). PyTorch's own gradcheck fails on
 * exactly these (run `fixtures/gen_grads.py --gradcheck`); their gradients are still compared with
 * PyTorch's conventions in fixtures.test.ts.
 */
const KINKS: Readonly<Record<string, string>> = {
  'relu/specials-finite': 'relu at 0 and -0 (kink)',
  'sign/specials-finite': 'sign at 0 and -0 (jump)',
  'floor/specials-finite': 'floor at the integers 0, -0 and 1e7 (jumps)',
  'ceil/specials-finite': 'ceil at the integers 0, -0 and 1e7 (jumps)',
  'trunc/specials-finite': 'trunc at the integer 1e7 (jump)',
  'round/specials-finite': 'round at the halves 0.5, 1.5, 2.5, ... (jumps)',
  'round/halves-f64': 'round at the halves 0.5, 1.5, 2.5, ... (jumps)',
  'leakyRelu/specials-finite': 'leakyRelu at 0 and -0 (kink)',
  'elu/specials-finite': 'elu at 0 and -0 with alpha 1.5 (slopes 1 and 1.5 meet: kink)',
  'softplus/threshold-edge': 'softplus at its threshold 10 (switches to the identity: jump of 4.5e-5)',
  'remainder/f32-signs-finite': 'remainder(-0, 1): 0 is a multiple of the divisor (jump of remainder)',
  'max/ties-first-index': 'ties of max along the dim (the gradient goes to the first index)',
  'max/ties-dim0': 'ties of max along the dim (the gradient goes to the first index)',
  'min/ties-first-index': 'ties of min along the dim (the gradient goes to the first index)',
  'min/ties-dim0': 'ties of min along the dim (the gradient goes to the first index)',
  'sort/stable-ties': 'ties of sort (the sorted values are not differentiable there)',
  'sort/stable-ties-descending': 'ties of sort (the sorted values are not differentiable there)',
  'log/specials-f64-finite': 'log at 1e-30: the pole at 0 is closer than eps',
  'sqrt/specials-f32-finite': 'sqrt at 1e-20: the singularity at 0 is closer than eps',
  'sqrt/specials-f64-finite': 'sqrt at 1e-20: the singularity at 0 is closer than eps',
  'reciprocal/specials-f64-finite': 'reciprocal at 1e-30: the pole at 0 is closer than eps',
  'add/specials-finite': 'add at 1e38: eps is far below the float64 spacing there (~2e22)',
};

/** Cases whose first derivative has a kink at the fixture inputs: skipped for gradgradcheck only. */
const SECOND_ORDER_KINKS: Readonly<Record<string, string>> = {
  'abs/specials-finite': "abs at 0 and -0 (abs' = sign jumps there)",
};

/**
 * Cases whose gradgradcheck is too slow for the suite (gradgradcheck differentiates the gradient with
 * respect to the inputs and the gradOutputs, one double backward per element).
 */
const SLOW_SECOND_ORDER: Record<string, string> = {};

/** Calls whose runner is asynchronous, replaced by their synchronous equivalent on the CPU. */
const SYNC_RUNNERS: Readonly<Record<string, Runner>> = {
  'to.device': (i, a) =>
    i[0]!.to(a.dtype === undefined ? { device: DEVICE } : { device: DEVICE, dtype: a.dtype as DType }),
};

/** Calls that write into their first input (a destination that does not require grad). */
const IN_PLACE = new Set(['copy_']);

/** The inputs in float64 (same values and layout), the `wrt` ones requiring grad. */
function float64Inputs(c: GradCase): Tensor[] {
  const inputs = c.inputs.map((spec) =>
    buildInput(spec.dtype === 'float32' ? { ...spec, dtype: 'float64' } : spec, DEVICE),
  );
  for (const i of c.wrt) inputs[i]!.requiresGrad_();
  return inputs;
}

/** The case as a function of all its inputs returning its floating outputs, computed in float64. */
function caseFunction(c: GradCase): (...xs: Tensor[]) => Tensor[] {
  const runner = SYNC_RUNNERS[c.call] ?? runners[c.call];
  if (runner === undefined) throw new Error(`${c.id}: no runner for call '${c.call}'`);
  // casts to float32 would round the perturbed inputs: keep float64 (cast/to then copy)
  const attrs = c.attrs.dtype === 'float32' ? { ...c.attrs, dtype: 'float64' } : { ...c.attrs };
  return (...xs) => {
    const args = [...xs];
    // the destination of copy_ is written: give every evaluation a fresh one
    if (IN_PLACE.has(c.call)) args[0] = args[0]!.detach().clone();
    // cholesky reads one triangle only, so perturbing the other does nothing while its (symmetric)
    // gradient is split between both: differentiate A -> cholesky((A + A^T) / 2) instead
    if (c.op === 'cholesky') args[0] = args[0]!.add(args[0]!.mT).mul(0.5);
    const out = runner(args, { ...attrs }, DEVICE);
    if (out instanceof Promise) throw new Error(`${c.id}: runner '${c.call}' is asynchronous`);
    return (Array.isArray(out) ? out : [out]).filter((o) => isFloating(o.dtype));
  };
}

describe("gradcheck on 'cpu' for every gradient fixture case (float64)", () => {
  const byOp = new Map<string, GradCase[]>();
  for (const c of cases) {
    const list = byOp.get(c.op);
    if (list === undefined) byOp.set(c.op, [c]);
    else list.push(c);
  }
  for (const [op, list] of byOp) {
    describe(op, () => {
      for (const c of list) {
        const skip = KINKS[c.id];
        if (skip !== undefined) {
          it.skip(`${c.id} (skipped: ${skip})`, () => {});
          continue;
        }
        it(`${c.id} gradcheck`, () => {
          expect(gradcheck(caseFunction(c), float64Inputs(c))).toBe(true);
        });
        if (c.second === undefined) continue;
        const skip2 = SECOND_ORDER_KINKS[c.id] ?? SLOW_SECOND_ORDER[c.id];
        if (skip2 !== undefined) it.skip(`${c.id} gradgradcheck (skipped: ${skip2})`, () => {});
        else
          it(`${c.id} gradgradcheck`, () => {
            expect(gradgradcheck(caseFunction(c), float64Inputs(c))).toBe(true);
          });
      }
    });
  }

  it('every skipped case names a case of grads.json', () => {
    const ids = new Set(cases.map((c) => c.id));
    const listed = [KINKS, SECOND_ORDER_KINKS, SLOW_SECOND_ORDER].flatMap((m) => Object.keys(m));
    const unknown = listed.filter((id) => !ids.has(id));
    expect(unknown).toEqual([]);
  });
});
