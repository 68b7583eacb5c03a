import type { Tensor, TypedArray } from '@gradfolio/tensor';
import { expect } from 'vitest';
import { gpuErrors } from './gpu.js';

/** Tolerances for float32 results. */
export interface Tol {
  rtol?: number;
  atol?: number;
}

function close(a: number, b: number, rtol: number, atol: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= atol + rtol * Math.abs(b);
}

/** Asserts that `got` (any device) matches `want` (CPU): dtype, shape and values. */
export async function expectSame(got: Tensor, want: Tensor, tol: Tol = {}): Promise<void> {
  expect(got.dtype).toBe(want.dtype);
  expect([...got.shape]).toEqual([...want.shape]);
  const g: TypedArray = await got.data();
  const w: TypedArray = await want.data();
  expect(g.constructor).toBe(w.constructor);
  expect(g.length).toBe(w.length);
  if (want.dtype !== 'float32' && want.dtype !== 'float64') {
    expect(Array.from(g)).toEqual(Array.from(w));
    return;
  }
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-5;
  for (let i = 0; i < w.length; i++) {
    if (!close(g[i]!, w[i]!, rtol, atol)) {
      throw new Error(
        `element ${i} of shape [${want.shape}]: got ${g[i]}, want ${w[i]} (rtol ${rtol}, atol ${atol})`,
      );
    }
  }
}

/**
 * Runs `fn` on CPU tensors and on their WebGPU copies, and asserts equal results (and that the GPU
 * reported no validation error). Returns the WebGPU result.
 */
export async function checkBoth(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  tol: Tol = {},
): Promise<Tensor> {
  const want = fn(...inputs);
  const gpuInputs = inputs.map((t) => t.to('webgpu'));
  const got = fn(...gpuInputs);
  expect(got.device).toBe('webgpu');
  await expectSame(got, want, tol);
  expect(gpuErrors).toEqual([]);
  return got;
}
