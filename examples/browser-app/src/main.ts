/**
 * The page: picks the device (WebGPU, else the CPU with the reason shown), loads the bundled prices or
 * the user's CSV, and trains the portfolio LSTM with live loss and weight charts. The training state
 * is also exposed on `window.gradfolioApp` (the end-to-end test reads it).
 */
import * as gf from 'gradfolio';
import { LossChart, WeightsChart } from './charts.js';
import { disposeWindows, makeWindows, type Prices, readPrices, type Windows } from './data.js';
import { type LossPoint, Trainer } from './model.js';

/** Days of past returns the LSTM sees. */
const LOOKBACK = 20;
/** Steps per click of Train or Resume (each is one full-batch Adam step). */
const STEPS_PER_RUN = 300;
const BUNDLED = { file: 'EuStockMarkets.csv', name: 'EuStockMarkets (DAX, SMI, CAC, FTSE, 1991-1998)' };

/** What the page exposes for scripts and tests. */
export interface AppState {
  device: 'webgpu' | 'cpu' | 'pending';
  /** Why WebGPU is not used (only on the CPU). */
  fallbackReason?: string;
  dataset?: string;
  assets: string[];
  /** Training loss per step of the current run, oldest first. */
  losses: number[];
  /** Held-out loss at the steps where it was evaluated. */
  validation: Array<{ step: number; loss: number }>;
  running: boolean;
  error?: string;
}

declare global {
  interface Window {
    gradfolioApp: AppState;
  }
}

const state: AppState = { device: 'pending', assets: [], losses: [], validation: [], running: false };
window.gradfolioApp = state;

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

const ui = {
  device: $('device'),
  dataset: $('dataset'),
  dataInfo: $('data-info'),
  csv: $<HTMLInputElement>('csv'),
  bundled: $<HTMLButtonElement>('bundled'),
  hidden: $<HTMLSelectElement>('hidden'),
  train: $<HTMLButtonElement>('train'),
  stop: $<HTMLButtonElement>('stop'),
  resume: $<HTMLButtonElement>('resume'),
  status: $('status'),
  error: $('error'),
  lossChart: $('loss-chart'),
  weightsChart: $('weights-chart'),
};

let lossChart: LossChart | undefined;
let weightsChart: WeightsChart | undefined;
let windows: Windows | undefined;
let prices: Prices | undefined;
let trainer: Trainer | undefined;
let runStart = { time: 0, steps: 0 };

function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  state.error = message;
  ui.error.textContent = message;
  ui.error.hidden = false;
  console.error(e);
}

function clearError(): void {
  delete state.error;
  ui.error.hidden = true;
}

function refreshButtons(): void {
  const running = trainer?.isRunning ?? false;
  state.running = running;
  ui.train.disabled = windows === undefined || running;
  ui.stop.disabled = !running;
  ui.resume.disabled = running || trainer === undefined;
  ui.bundled.disabled = running;
  ui.csv.disabled = running;
  ui.hidden.disabled = running;
}

async function chooseDevice(): Promise<void> {
  if (new URLSearchParams(location.search).get('device') === 'cpu') {
    gf.useCPU();
    state.device = 'cpu';
    state.fallbackReason = 'the CPU was requested with ?device=cpu';
  } else {
    const choice = await gf.useWebGPU();
    state.device = choice.device;
    if (choice.reason !== undefined) state.fallbackReason = choice.reason;
  }
  ui.device.dataset.device = state.device;
  if (state.device === 'webgpu') {
    // For display only: which adapter the browser gives (same request as initWebGPU's default).
    const info = (await navigator.gpu.requestAdapter())?.info;
    const what = [info?.vendor, info?.architecture, info?.description].filter((s) => s).join(' ');
    ui.device.textContent = `Device: WebGPU${what ? ` (${what})` : ''}`;
  } else {
    ui.device.textContent = `Device: CPU (fallback: ${state.fallbackReason})`;
  }
}

async function useData(p: Prices, name: string): Promise<void> {
  await trainer?.stop();
  trainer = undefined;
  const w = makeWindows(p, { lookback: LOOKBACK });
  if (windows !== undefined) disposeWindows(windows);
  windows = w;
  prices = p;
  state.dataset = name;
  state.assets = [...p.assets];
  state.losses = [];
  state.validation = [];
  ui.dataset.textContent = name;
  const nTrain = w.xTrain.shape[0]!;
  const nVal = w.xVal.shape[0]!;
  ui.dataInfo.textContent =
    `${p.assets.length} assets (${p.assets.join(', ')}), ${p.labels.length} rows (${p.labels[0]} .. ` +
    `${p.labels.at(-1)}): ${nTrain} training windows, ${nVal} held-out windows of ${LOOKBACK} daily log returns.`;
  weightsChart = await WeightsChart.create(ui.weightsChart, p.assets, w.valLabels);
  await lossChart?.clear();
  ui.lossChart.dataset.points = '0';
  ui.status.textContent = 'Ready: press Train.';
  refreshButtons();
}

async function onLoss(p: LossPoint): Promise<void> {
  state.losses.push(p.train);
  if (p.validation !== undefined) state.validation.push({ step: p.step, loss: p.validation });
  await lossChart?.add(p);
  ui.lossChart.dataset.points = String(state.losses.length);
  const msPerStep = (performance.now() - runStart.time) / Math.max(1, p.step - runStart.steps);
  const speed =
    msPerStep < 1000 ? `${(1000 / msPerStep).toFixed(1)} steps/s` : `${(msPerStep / 1000).toFixed(1)} s/step`;
  const last = state.validation.at(-1);
  ui.status.textContent =
    `step ${p.step}: train loss ${p.train.toFixed(3)}` +
    (last === undefined ? '' : `, held-out ${last.loss.toFixed(3)} (step ${last.step})`) +
    ` · ${speed} on ${state.device === 'webgpu' ? 'WebGPU' : 'the CPU'}`;
}

async function run(): Promise<void> {
  if (trainer === undefined) return;
  runStart = { time: performance.now(), steps: trainer.steps };
  const done = trainer.run(STEPS_PER_RUN);
  refreshButtons();
  try {
    await done;
    ui.status.textContent += trainer.isRunning ? '' : ' · stopped';
  } catch (e) {
    showError(e);
  }
  refreshButtons();
}

ui.train.addEventListener('click', () => {
  if (windows === undefined || prices === undefined) return;
  clearError();
  state.losses = [];
  state.validation = [];
  ui.lossChart.dataset.points = '0';
  void lossChart?.clear();
  const chart = weightsChart;
  trainer = new Trainer(windows, prices.assets, {
    hidden: Number(ui.hidden.value),
    onLoss: (p) => {
      void onLoss(p);
    },
    onWeights: (w) => chart?.update(w),
  });
  void run();
});

ui.stop.addEventListener('click', () => {
  void trainer?.stop().then(refreshButtons);
});

ui.resume.addEventListener('click', () => {
  clearError();
  void run();
});

async function load(what: () => Promise<Prices>, name: string): Promise<void> {
  clearError();
  ui.train.disabled = true;
  try {
    await useData(await what(), name);
  } catch (e) {
    showError(e);
    refreshButtons();
  }
}

ui.csv.addEventListener('change', () => {
  const file = ui.csv.files?.[0];
  if (file !== undefined) void load(() => readPrices(file), file.name);
});

async function fetchBundled(): Promise<Prices> {
  const res = await fetch(`${import.meta.env.BASE_URL}${BUNDLED.file}`);
  if (!res.ok) throw new Error(`could not load the bundled ${BUNDLED.file}: HTTP ${res.status}`);
  return readPrices(res);
}

ui.bundled.addEventListener('click', () => {
  void load(fetchBundled, BUNDLED.name);
});

async function start(): Promise<void> {
  try {
    lossChart = await LossChart.create(ui.lossChart);
    await chooseDevice();
  } catch (e) {
    showError(e);
    return;
  }
  await load(fetchBundled, BUNDLED.name);
}

void start();
