/**
 * The shared conformance suite (same ops and tolerances as `conformance.test.ts`) in headless Chromium
 * on `navigator.gpu`: esbuild bundles `browser/entry.ts` (the suite, `src/` and the fixtures; `vitest`
 * replaced by `browser/vitest-shim.ts`), a local HTTP server serves it on 127.0.0.1 (a secure context,
 * which WebGPU requires), playwright-core drives the system's chromium, and each case's browser result
 * becomes one test here: passed, skipped with its reason, or failed with the browser's error.
 *
 * Chromium is `/usr/bin/chromium` (Debian's package, which ships SwiftShader) or `GRADFOLIO_CHROMIUM`.
 * Without it this file fails: the browser run is part of the required checks, not optional.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureCases, randomProperties } from '@gradfolio/tensor/testing';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaseResult, REPORT_FUNCTION, RUN_FUNCTION, type RunSummary } from './browser/protocol.js';
import { WEBGPU_OPS } from './conformance-options.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.GRADFOLIO_CHROMIUM ?? '/usr/bin/chromium';
/**
 * `--enable-unsafe-webgpu`: WebGPU is not enabled by default on Linux. `--use-webgpu-adapter=swiftshader`:
 * always the CPU's SwiftShader (Vulkan), also on machines with a GPU, so results do not depend on a
 * driver. Playwright adds `--headless` and `--no-sandbox` (CI runs as root).
 */
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];
/** Bundling, starting chromium and running every case: about 20 s on 2 cores; room for slow CI. */
const RUN_TIMEOUT_MS = 540_000;

const results = new Map<string, CaseResult>();
let summary: RunSummary | undefined;
let browser: Browser | undefined;
let server: Server | undefined;
const browserLog: string[] = [];

async function bundle(): Promise<string> {
  const out = await build({
    entryPoints: [join(HERE, 'browser/entry.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // The workspace packages' TypeScript sources, as vitest resolves them (package.json `source`).
    conditions: ['source'],
    alias: { vitest: join(HERE, 'browser/vitest-shim.ts') },
    sourcemap: 'inline',
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

function serve(js: string): Promise<string> {
  const html = '<!doctype html><meta charset="utf-8"><script type="module" src="/conformance.js"></script>';
  const srv = createServer((req, res) => {
    if (req.url === '/conformance.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(js);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  server = srv;
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/`));
  });
}

async function runInChromium(): Promise<RunSummary> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the browser WebGPU conformance run needs it. Install Debian's ` +
        'chromium (`apt-get install chromium`, as .ci/run does) or set GRADFOLIO_CHROMIUM to a Chromium binary.',
    );
  }
  const url = await serve(await bundle());
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  page.on('console', (m) => browserLog.push(`[${m.type()}] ${m.text()}`));
  const crashed = new Promise<never>((_, reject) => {
    page.on('crash', () => reject(new Error(`the Chromium page crashed\n${browserLog.join('\n')}`)));
    page.on('pageerror', (e) => reject(new Error(`uncaught error in the page: ${e.stack ?? e.message}`)));
  });
  // Rejects only on failure; once the run has settled, a late rejection must not become unhandled.
  crashed.catch(() => {});
  await page.exposeFunction(REPORT_FUNCTION, (r: CaseResult) => {
    results.set(r.name, r);
  });
  await page.goto(url);
  // An error while the bundle loads shows up through `crashed` instead of as a wait that times out.
  await Promise.race([page.waitForFunction((name) => name in globalThis, RUN_FUNCTION), crashed]);
  const run = page.evaluate(
    (name) => (globalThis as unknown as Record<string, () => Promise<RunSummary>>)[name]!(),
    RUN_FUNCTION,
  );
  try {
    return await Promise.race([run, crashed]);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`in ${CHROMIUM} ${CHROMIUM_ARGS.join(' ')}: ${message}`, { cause: e });
  }
}

beforeAll(async () => {
  const t0 = performance.now();
  summary = await runInChromium();
  for (const r of summary.results) results.set(r.name, r);
  const count = (s: CaseResult['status']) => summary!.results.filter((r) => r.status === s).length;
  console.log(
    `Chromium (${summary.adapter}): ${count('pass')} passed, ${count('skip')} skipped, ` +
      `${count('fail')} failed of ${summary.results.length} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}, RUN_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

// One test per case, registered here (collection is synchronous) from the same fixtures and filter as
// the page's suite; the page's results are looked up by case id.
const only = new Set(WEBGPU_OPS);
const byOp = new Map<string, string[]>();
for (const c of fixtureCases) {
  if (!only.has(c.op)) continue;
  byOp.set(c.op, [...(byOp.get(c.op) ?? []), c.id]);
}
const propertyIds = randomProperties.filter((p) => only.has(p.op)).map((p) => p.id);

function check(id: string, ctx: { skip(note?: string): void }): void {
  const r = results.get(id);
  if (r === undefined) throw new Error(`${id}: no result from Chromium (the page did not run it)`);
  if (r.status === 'skip') ctx.skip(r.message);
  else if (r.status === 'fail') throw new Error(`in Chromium: ${r.message}`);
}

describe("conformance on 'webgpu' in headless Chromium (navigator.gpu)", () => {
  for (const [op, ids] of byOp) {
    describe(op, () => {
      for (const id of ids) it(id, (ctx) => check(id, ctx));
    });
  }
  describe('random factories (properties)', () => {
    for (const id of propertyIds) it(id, (ctx) => check(id, ctx));
  });
  it('ran exactly the cases registered here', () => {
    const expected = [...[...byOp.values()].flat(), ...propertyIds].sort();
    expect(summary?.results.map((r) => r.name).sort()).toEqual(expected);
  });
  it('raised no uncaptured WebGPU errors', () => {
    expect(summary?.gpuErrors).toEqual([]);
  });
});
