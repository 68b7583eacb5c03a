/** The CSV -> prices -> windows pipeline in Node (CPU), on small files whose values are checked by hand. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as gf from 'gradfolio';
import { describe, expect, it } from 'vitest';
import { makeWindows, pricesFromTable, readPrices } from '../src/data.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** `rows` days of two assets whose prices grow by exactly 1% and shrink by 1% a day. */
function datedCSV(rows: number): string {
  const lines = ['date,Up,Down,Note'];
  for (let i = 0; i < rows; i++) {
    const day = new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10);
    lines.push(`${day},${(100 * 1.01 ** i).toFixed(10)},${(50 * 0.99 ** i).toFixed(10)},x${i}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('pricesFromTable', () => {
  it('takes a leading date column as the index and numeric columns as assets', () => {
    const p = pricesFromTable(gf.data.readCSVText(datedCSV(70)));
    expect(p.assets).toEqual(['Up', 'Down']);
    expect(p.labels[0]).toBe('2024-01-01');
    expect(p.labels.at(-1)).toBe('2024-03-10');
    expect(p.series[1]![1]).toBeCloseTo(49.5, 8);
  });

  it("treats R's trailing time column `t` of the bundled EuStockMarkets as the index", async () => {
    const p = await readPrices(readFileSync(join(HERE, '../public/EuStockMarkets.csv'), 'utf8'));
    expect(p.assets).toEqual(['DAX', 'SMI', 'CAC', 'FTSE']);
    expect(p.labels).toHaveLength(1860);
    expect(p.labels[0]).toBe('1991.49615384615');
    expect(p.series[0]![0]).toBe(1628.75);
  });

  it('numbers the rows when there is no index column, and drops rows with a missing price', async () => {
    const p = await readPrices(
      `A,B\n${Array.from({ length: 61 }, (_, i) => (i === 3 ? '1,NA' : `${i + 1},2`)).join('\n')}\n`,
    );
    expect(p.labels).toHaveLength(60);
    expect(p.labels.slice(0, 4)).toEqual(['1', '2', '3', '4']);
    expect(Array.from(p.series[0]!.slice(0, 4))).toEqual([1, 2, 3, 5]);
  });

  it('says what is wrong with an unusable file', () => {
    expect(() => pricesFromTable(gf.data.readCSVText('date,A\n2024-01-01,1\n'))).toThrow(
      /at least 2 numeric/,
    );
    expect(() => pricesFromTable(gf.data.readCSVText('A,B\n1,2\n3,4\n'))).toThrow(/at least 60 rows/);
    const neg = `A,B\n${Array.from({ length: 60 }, (_, i) => `${i === 9 ? -1 : 1},2`).join('\n')}\n`;
    expect(() => pricesFromTable(gf.data.readCSVText(neg))).toThrow(/column 'A', row 10/);
  });
});

describe('makeWindows', () => {
  it('windows of log returns, scaled by the training std, and next-day returns as targets', async () => {
    const p = pricesFromTable(gf.data.readCSVText(datedCSV(71)));
    const w = makeWindows(p, { lookback: 10, trainFraction: 0.8 });
    // 70 returns -> 60 samples: 48 for training, 12 held out.
    expect(w.xTrain.shape).toEqual([48, 10, 2]);
    expect(w.yTrain.shape).toEqual([48, 1, 2]);
    expect(w.xVal.shape).toEqual([12, 10, 2]);
    expect(w.valLabels).toHaveLength(12);
    // The target of the first held-out sample is the return into day 48 + 10 + 1 (0-based).
    expect(w.valLabels[0]).toBe(p.labels[59]);
    const y = (await w.yTrain.data()) as Float32Array;
    expect(y[0]).toBeCloseTo(Math.log(1.01), 6);
    expect(y[1]).toBeCloseTo(Math.log(0.99), 6);
    // Constant returns (std ~1e-13 from rounding): the scale falls back to 1, inputs are the raw returns.
    const x = (await w.xTrain.data()) as Float32Array;
    expect(x[0]).toBeCloseTo(Math.log(1.01), 6);
  });
});
