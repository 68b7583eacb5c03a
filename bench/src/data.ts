/**
 * Data cases of `pnpm bench`: parsing a generated 1,000,000-row file in seed 001's BTCUSDT format
 * (pipe-separated, no header, unix-second timestamp + open/high/low/close/volume) into a float32
 * `[N, 5]` tensor, next to `pandas.read_csv(sep='|', header=None, usecols, names)` +
 * `.to_numpy(np.float32)` (the system's pandas through `/usr/bin/python3`, `pandas_csv.py`; skipped with
 * a note when it is missing), and building lookback-50 windows over the result.
 *
 * gradfolio is timed on two paths: `readNumericCSVFile` (the hand-written scanner straight into a
 * Float32Array) and, outside `--quick`, the general path `readCSVFile` (arquero table, typed columns,
 * missing-value policy) + `tableToTensor`. Both include reading the file, as pandas' figure does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Types only: the values come from '@gradfolio/data' at run time (see loadData).
import type * as CsvModule from '../../packages/data/src/csv.js';
import type * as WindowsModule from '../../packages/data/src/windows.js';
import { type BenchResult, measure, record } from './harness.js';

const PYTHON = '/usr/bin/python3';
const NAMES = ['timestamp', 'open', 'high', 'low', 'close', 'volume'];
const USECOLS = [1, 2, 3, 4, 5];

type DataModule = Partial<typeof CsvModule & typeof WindowsModule>;

/** `@gradfolio/data`'s CSV and window functions (undefined ones are not exported yet). */
async function loadData(): Promise<DataModule> {
  return (await import('@gradfolio/data')) as unknown as DataModule;
}

/**
 * Seed 001's format: 1-minute bars from 1502942400, a seeded random walk for the price (2 decimals),
 * high >= open/close >= low, volume with 6 decimals. Written in 64k-row chunks.
 */
function writeSeedFile(path: string, rows: number): number {
  let state = 0x9e3779b9;
  const rand = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  let price = 4261.48;
  let bytes = 0;
  writeFileSync(path, '');
  for (let start = 0; start < rows; start += 65536) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(rows, start + 65536); i++) {
      const open = price;
      const close = Math.max(1, open + (rand() - 0.5) * 8);
      const high = Math.max(open, close) + rand() * 3;
      const low = Math.min(open, close) - rand() * 3;
      const volume = rand() < 0.1 ? 0 : rand() * 5;
      price = Math.round(close * 100) / 100;
      lines.push(
        `${1502942400 + 60 * i}|${open.toFixed(2)}|${high.toFixed(2)}|${low.toFixed(2)}|${price.toFixed(2)}|${volume.toFixed(6)}`,
      );
    }
    const chunk = `${lines.join('\n')}\n`;
    bytes += chunk.length;
    writeFileSync(path, chunk, { flag: 'a' });
  }
  return bytes;
}

interface PandasOutput {
  ms: number;
  runs: number;
  version: string;
  shape: number[];
  sum: number;
}

function runPandas(input: unknown): PandasOutput | string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const probe = spawnSync(PYTHON, ['-c', 'import pandas, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return `pandas is not installed for ${PYTHON}`;
  const script = fileURLToPath(new URL('./pandas_csv.py', import.meta.url));
  const r = spawnSync(PYTHON, [script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  if (r.error !== undefined) return `${PYTHON} failed to start: ${r.error.message}`;
  if (r.status !== 0) {
    const err = r.stderr.trim().split('\n');
    return `${PYTHON} ${script} exited with ${r.status}: ${err[err.length - 1] ?? ''}`;
  }
  try {
    return JSON.parse(r.stdout) as PandasOutput;
  } catch {
    return `could not parse the pandas script's output: ${r.stdout.slice(0, 200)}`;
  }
}

function sum(data: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i]!;
  return s;
}

/** Runs the data cases; `quick` uses 200,000 rows and skips the general (arquero) path. */
export async function benchData(quick: boolean): Promise<void> {
  const data = await loadData();
  const { readNumericCSVFile, readCSVFile, tableToTensor, slidingWindows } = data;
  if (readNumericCSVFile === undefined || readCSVFile === undefined || tableToTensor === undefined) {
    console.error(
      '  data: @gradfolio/data does not export readNumericCSVFile/readCSVFile/tableToTensor yet; skipped',
    );
    return;
  }
  const rows = quick ? 200_000 : 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'gradfolio-bench-csv-'));
  try {
    const path = join(dir, 'BTCUSDT.csv');
    const bytes = writeSeedFile(path, rows);
    const params = { rows, cols: USECOLS.length, mb: Number((bytes / 2 ** 20).toFixed(1)), dtype: 'float32' };
    console.error(`  data: ${rows} rows, ${params.mb} MiB in seed 001's format`);
    const opts = { sep: '|', usecols: USECOLS, names: NAMES, header: false } as const;
    const fast = await measure(
      'read-csv-to-tensor',
      'gradfolio-cpu',
      params,
      () => readNumericCSVFile(path, opts),
      {
        runs: quick ? 5 : 7,
        warmup: 1,
      },
    );
    const x = await readNumericCSVFile(path, opts);
    const ours = sum(x.dataSync());
    console.error(
      `  gradfolio readNumericCSVFile: ${fast.ms} ms (${(bytes / 2 ** 20 / (fast.ms / 1e3)).toFixed(0)} MiB/s), shape [${x.shape.join(', ')}]`,
    );
    let general: BenchResult | undefined;
    if (!quick) {
      general = await measure(
        'read-csv-to-tensor',
        'gradfolio-arquero',
        params,
        async () =>
          tableToTensor(
            await readCSVFile(path, { sep: '|', header: false, usecols: USECOLS, names: NAMES.slice(1) }),
            {
              dtype: 'float32',
            },
          ),
        { runs: 3, warmup: 1 },
      );
      console.error(`  gradfolio readCSVFile + tableToTensor (arquero table): ${general.ms} ms`);
    }
    const pd = runPandas({ path, sep: '|', usecols: USECOLS, names: NAMES, warmup: 1, runs: quick ? 3 : 5 });
    if (typeof pd === 'string') {
      console.error(`  pandas skipped: ${pd}`);
    } else {
      record('read-csv-to-tensor', 'pandas', params, pd.ms, pd.runs);
      const agree = Math.abs(pd.sum - ours) <= 1e-9 * Math.abs(ours);
      console.error(
        `  pandas ${pd.version} read_csv + to_numpy(float32): ${pd.ms.toFixed(1)} ms; gradfolio/pandas time ${(fast.ms / pd.ms).toFixed(2)} (goal <= 2); sums ${agree ? 'agree' : `DIFFER: ${ours} vs ${pd.sum}`}`,
      );
    }
    if (slidingWindows === undefined) {
      console.error('  windows skipped: @gradfolio/data does not export slidingWindows yet');
    } else {
      const wparams = { rows, features: USECOLS.length, lookback: 50, horizon: 1 };
      const w = await measure('windows-lookback-50', 'gradfolio-cpu', wparams, () => {
        const { X, y } = slidingWindows(x, { lookback: 50, horizon: 1, targetColumns: [3] });
        return [X, y];
      });
      const { X, y, xIsView } = slidingWindows(x, { lookback: 50, horizon: 1, targetColumns: [3] });
      console.error(
        `  slidingWindows lookback 50: ${w.ms} ms, X [${X.shape.join(', ')}] (${xIsView ? 'a view, no copy' : 'copied'}), y [${y.shape.join(', ')}]`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
