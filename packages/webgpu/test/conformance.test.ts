/**
 * The shared PyTorch-fixture conformance suite of `@gradfolio/tensor/testing`, on 'webgpu', for every
 * op of the op table: primitives run on this backend's WGSL kernels, structural, view, composite and
 * creation ops on those kernels. The suite skips by itself (with the reason) the cases this device
 * cannot run at all:
 *
 * - float64 inputs or outputs (WGSL has no 64-bit floats: `unsupportedDType`);
 * - data-dependent result shapes read synchronously (`nonzero`, boolean-mask indexing).
 *
 * Ops and tolerances are in `conformance-options.ts`; `conformance.browser.test.ts` runs the same suite
 * in headless Chromium (`navigator.gpu`).
 */
import { runConformance } from '@gradfolio/tensor/testing';
import { beforeAll } from 'vitest';
import { WEBGPU_OPS, webgpuTolerance } from './conformance-options.js';
import { initTestGPU } from './gpu.js';

beforeAll(initTestGPU);

runConformance({ device: 'webgpu', ops: WEBGPU_OPS, tolerance: webgpuTolerance });
