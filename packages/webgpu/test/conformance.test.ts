/**
 * The shared PyTorch-fixture conformance suite of `@gradfolio/tensor/testing`, on 'webgpu', restricted
 * to the ops this backend runs: its kernels (fill, copy, add, mul, sum, matmul) and every structural,
 * view and creation op built only on them. float64 cases skip themselves (unsupportedDType).
 */
import { runConformance } from '@gradfolio/tensor/testing';
import { beforeAll } from 'vitest';
import { initTestGPU } from './gpu.js';

beforeAll(initTestGPU);

/** Ops whose every case runs on this backend's kernels. */
export const WEBGPU_OPS = [
  // kernels
  'fill',
  'copy',
  'add',
  'mul',
  'sum',
  'matmul',
  // structural (copy/fill) and transfers
  'cast',
  'to',
  'clone',
  'cat',
  'flip',
  'pad',
  'diag',
  // views (read back through copy)
  'reshape',
  'permute',
  'expand',
  'slice',
  'select',
  'diagonal',
  // composites of the above
  'stack',
  'split',
  'repeat',
  // creation
  'tensor',
  'zeros',
  'ones',
  'full',
  'empty',
  'arange',
  'linspace',
  'eye',
];

runConformance({
  device: 'webgpu',
  ops: WEBGPU_OPS,
  // reflect / replicate / circular padding gathers with indexSelect, which has no WebGPU kernel yet.
  skip: (id) =>
    /^pad\/(reflect|replicate|circular)/.test(id) ? 'uses indexSelect (no WebGPU kernel)' : undefined,
});
