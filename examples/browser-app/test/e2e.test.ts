/**
 * End to end: builds the page with Vite's API, serves the build on 127.0.0.1 (a secure context, which
 * WebGPU needs), opens it in headless Chromium with WebGPU on SwiftShader, checks the bundled data
 * loaded, picks a CSV through the file input, presses Train and waits until the loss chart has several
 * points and the loss has fallen; then Stop and Resume; saves a screenshot to test-results/screenshot.png.
 *
 * SwiftShader runs WebGPU's shaders on the CPU, slower than gradfolio's own CPU backend (about 20 s per
 * full-batch step on the bundled 1,471 training windows on 2 cores), so the training run uses the
 * first 160 rows of the bundled file, given to the page as a user's CSV (which also tests the picker).
 *
 * Chromium is `/usr/bin/chromium` (Debian's package, which ships SwiftShader) or `GRADFOLIO_CHROMIUM`.
 * Without it this file fails: the browser run is part of the required checks, not optional.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppState } from '../src/main.js';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(APP, 'test-results');
const CHROMIUM = process.env.GRADFOLIO_CHROMIUM ?? '/usr/bin/chromium';
/** WebGPU is off by default on Linux; SwiftShader makes the adapter the same on every machine. */
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];
/** Training steps the loss chart must show before the loss is compared with the first step's. */
const MIN_STEPS = 5;
/**
 * How long the loss may take to fall. Alone on 2 cores the 5 steps take about 6 s; in CI the other
 * packages' SwiftShader tests share those cores and one run needed more than 90 s.
 */
const TRAIN_WAIT_MS = 240_000;
/** Rows of the bundled prices used for the training run (header + 160 rows: 100 training windows). */
const TRAIN_ROWS = 160;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
};

let outDir: string | undefined;
let server: Server | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
const browserLog: string[] = [];

function serve(root: string): Promise<string> {
  const srv = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const file = normalize(join(root, path === '/' ? 'index.html' : decodeURIComponent(path)));
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' })
      .end(readFileSync(file));
  });
  server = srv;
  return new Promise((ok, fail) => {
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/`));
  });
}

const appState = (p: Page): Promise<AppState> => p.evaluate(() => window.gradfolioApp);

/** Waits for `predicate` on the page's state; fails early (with the page's log) on a page error. */
async function waitForState(p: Page, predicate: string, timeout: number): Promise<void> {
  try {
    await p.waitForFunction(
      (src) => {
        const s = window.gradfolioApp;
        if (s?.error !== undefined) throw new Error(`the page reported: ${s.error}`);
        return s !== undefined && (new Function('s', `return ${src}`) as (s: AppState) => boolean)(s);
      },
      predicate,
      { timeout, polling: 200 },
    );
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // What the page had got to (steps and losses so far) tells a slow machine from a loss that won't fall.
    const snapshot = await appState(p).then(
      (s) => JSON.stringify({ running: s.running, losses: s.losses, device: s.device }),
      (err: unknown) => `unreadable (${err instanceof Error ? err.message : String(err)})`,
    );
    throw new Error(
      `waiting for ${predicate}: ${message}\npage state: ${snapshot}\nbrowser log:\n${browserLog.join('\n')}`,
      { cause: e },
    );
  }
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the browser-app end-to-end test needs it. Install Debian's ` +
        'chromium (`apt-get install chromium`, as CI does) or set GRADFOLIO_CHROMIUM to a Chromium binary.',
    );
  }
  outDir = mkdtempSync(join(tmpdir(), 'gradfolio-browser-app-'));
  await build({ root: APP, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const url = await serve(outDir);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  page.on('console', (m) => browserLog.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => browserLog.push(`[pageerror] ${e.stack ?? e.message}`));
  await page.goto(url);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
  if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
});

describe('browser-app in headless Chromium', () => {
  it('loads the bundled data and picks WebGPU (SwiftShader) or says why not', async () => {
    const p = page!;
    await waitForState(p, 's.device !== "pending" && s.assets.length > 0', TRAIN_WAIT_MS);
    await expect.poll(() => p.locator('#train').isEnabled(), { timeout: 10_000 }).toBe(true);
    const s = await appState(p);
    expect(s.assets).toEqual(['DAX', 'SMI', 'CAC', 'FTSE']);
    const label = await p.locator('#device').textContent();
    console.log(
      `browser-app device: ${s.device}${s.fallbackReason ? ` (${s.fallbackReason})` : ''}; UI: ${label}`,
    );
    // Chromium with these flags has a SwiftShader adapter (the webgpu package's browser conformance
    // run relies on the same); the CPU here would mean the WebGPU path went untested.
    expect(s.device, `fell back to the CPU: ${s.fallbackReason}`).toBe('webgpu');
    expect(label).toContain('WebGPU');
  });

  it('reads a CSV from the file picker', async () => {
    const p = page!;
    const lines = readFileSync(join(APP, 'public/EuStockMarkets.csv'), 'utf8').split('\n');
    const csv = `${lines.slice(0, TRAIN_ROWS + 1).join('\n')}\n`;
    await p.setInputFiles('#csv', {
      name: 'eu-first-rows.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(csv),
    });
    await waitForState(p, 's.dataset === "eu-first-rows.csv"', TRAIN_WAIT_MS);
    await expect.poll(() => p.locator('#train').isEnabled(), { timeout: 10_000 }).toBe(true);
    expect((await appState(p)).assets).toEqual(['DAX', 'SMI', 'CAC', 'FTSE']);
    expect(await p.locator('#data-info').textContent()).toContain(`${TRAIN_ROWS} rows`);
  });

  it('Train: the loss chart fills in and the loss falls', async () => {
    const p = page!;
    const t0 = performance.now();
    await p.locator('#train').click();
    await waitForState(
      p,
      `s.losses.length >= ${MIN_STEPS} && Math.max(...s.losses.slice(-3)) < s.losses[0]`,
      TRAIN_WAIT_MS,
    );
    const s = await appState(p);
    const first = s.losses[0]!;
    const last = s.losses.at(-1)!;
    console.log(
      `browser-app: ${s.losses.length} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
        `loss ${first.toFixed(4)} -> ${last.toFixed(4)}`,
    );
    expect(s.losses.every(Number.isFinite)).toBe(true);
    expect(last).toBeLessThan(first);
    // A negative Sharpe ratio: annualised values of this data are around -1 to -3.
    expect(first).toBeGreaterThan(-10);
    expect(first).toBeLessThan(10);
    // The chart's DOM: one symbol per training point (plus held-out ones) and a line.
    const points = Number(await p.locator('#loss-chart').getAttribute('data-points'));
    expect(points).toBeGreaterThanOrEqual(MIN_STEPS);
    const symbols = await p.locator('#loss-chart svg .mark-symbol path').count();
    expect(symbols).toBeGreaterThanOrEqual(MIN_STEPS);
    expect(await p.locator('#loss-chart svg .mark-line path').count()).toBeGreaterThan(0);
    // The weights chart drew the held-out allocation (one area per asset).
    expect(await p.locator('#weights-chart svg .mark-area path').count()).toBe(4);
    expect(s.validation.length).toBeGreaterThan(0);
  });

  it('Stop halts training and Resume continues it', async () => {
    const p = page!;
    await p.locator('#stop').click();
    await waitForState(p, '!s.running', TRAIN_WAIT_MS);
    const stopped = (await appState(p)).losses.length;
    await p.waitForTimeout(500);
    expect((await appState(p)).losses.length).toBe(stopped);
    await expect.poll(() => p.locator('#resume').isEnabled(), { timeout: 5_000 }).toBe(true);
    await p.locator('#resume').click();
    await waitForState(p, `s.losses.length >= ${stopped + 2}`, TRAIN_WAIT_MS);
    await p.locator('#stop').click();
    await waitForState(p, '!s.running', TRAIN_WAIT_MS);
    mkdirSync(RESULTS, { recursive: true });
    await p.screenshot({ path: join(RESULTS, 'screenshot.png'), fullPage: true });
  });
});
