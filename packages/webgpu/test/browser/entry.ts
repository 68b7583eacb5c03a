/**
 * The browser side of the Chromium conformance run, bundled by esbuild with `vitest` aliased to
 * `vitest-shim.ts`: registers the shared suite exactly as `../conformance.test.ts` does (same ops, same
 * tolerances), and exposes a function that initialises the backend through `navigator.gpu`, runs every
 * registered case one after another, reports each result to Node and resolves to the summary.
 */
import { runConformance } from '@gradfolio/tensor/testing';
import { initWebGPU } from '../../src/index.js';
import { WEBGPU_OPS, webgpuTolerance } from '../conformance-options.js';
import { type CaseResult, REPORT_FUNCTION, RUN_FUNCTION, type RunSummary } from './protocol.js';
import { registeredTests, type ShimTestContext, SkipSignal } from './vitest-shim.js';

/** Per case; Dawn-in-Node's slowest cases take a few seconds on SwiftShader. */
const CASE_TIMEOUT_MS = 60_000;

runConformance({ device: 'webgpu', ops: WEBGPU_OPS, tolerance: webgpuTolerance });

const ctx: ShimTestContext = {
  skip(note = 'skipped'): never {
    throw new SkipSignal(note);
  },
};

function describeError(e: unknown): string {
  if (e instanceof Error) return e.stack?.includes(e.message) ? e.stack : `${e.message}\n${e.stack ?? ''}`;
  return String(e);
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function run(): Promise<RunSummary> {
  const backend = await initWebGPU();
  const info = (backend.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const adapter = info ? `${info.vendor} ${info.architecture} ${info.description}`.trim() : 'unknown';
  const gpuErrors: string[] = [];
  let current = '(before the first case)';
  backend.device.addEventListener('uncapturederror', (e) => {
    gpuErrors.push(`${current}: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  const report = (globalThis as Record<string, unknown>)[REPORT_FUNCTION] as
    | ((r: CaseResult) => Promise<void>)
    | undefined;
  const results: CaseResult[] = [];
  for (const t of registeredTests) {
    current = t.name;
    const t0 = performance.now();
    let result: CaseResult;
    if (t.fn === undefined) {
      result = { name: t.name, path: t.path, status: 'skip', message: t.skipReason ?? 'it.skip', ms: 0 };
    } else {
      const fn = t.fn;
      try {
        await withTimeout(
          Promise.resolve().then(() => fn(ctx)),
          CASE_TIMEOUT_MS,
        );
        result = { name: t.name, path: t.path, status: 'pass', ms: performance.now() - t0 };
      } catch (e) {
        result =
          e instanceof SkipSignal
            ? { name: t.name, path: t.path, status: 'skip', message: e.note, ms: performance.now() - t0 }
            : {
                name: t.name,
                path: t.path,
                status: 'fail',
                message: describeError(e),
                ms: performance.now() - t0,
              };
      }
    }
    results.push(result);
    await report?.(result);
  }
  // Errors of the last submissions arrive asynchronously.
  await backend.device.queue.onSubmittedWorkDone();
  current = '(after the last case)';
  return { adapter, results, gpuErrors };
}

(globalThis as Record<string, unknown>)[RUN_FUNCTION] = run;
