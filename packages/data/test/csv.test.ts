import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GradfolioError, tensor } from '@gradfolio/tensor';
import * as aq from 'arquero';
import { describe, expect, it } from 'vitest';
import {
  readCSV,
  readCSVFile,
  readCSVText,
  readNumericCSV,
  readNumericCSVFile,
  tableToTensor,
  tensorToTable,
} from '../src/csv.js';

const SAMPLE = fileURLToPath(new URL('./data/btcusdt_sample.csv', import.meta.url));
const SPI = fileURLToPath(new URL('./data/SPISECTOR.csv', import.meta.url));
const NAMES = ['timestamp', 'open', 'high', 'low', 'close', 'volume'];
const SEED_OPTS = {
  sep: '|',
  nrows: 1000,
  header: false,
  usecols: [0, 1, 2, 3, 4, 5],
  names: NAMES,
} as const;

/** Runs `fn`, expects a GradfolioError with `code`, and returns it. */
function caught(fn: () => unknown, code: string): GradfolioError {
  try {
    fn();
  } catch (e) {
    expect(GradfolioError.isInstance(e)).toBe(true);
    const err = e as GradfolioError;
    expect(err.code).toBe(code);
    return err;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

async function caughtAsync(p: Promise<unknown>, code: string): Promise<GradfolioError> {
  try {
    await p;
  } catch (e) {
    expect(GradfolioError.isInstance(e)).toBe(true);
    expect((e as GradfolioError).code).toBe(code);
    return e as GradfolioError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('readCSV: seed 001 format', () => {
  it("reads the pipe-separated file like read_csv(sep='|', header=None, usecols, names, nrows)", async () => {
    const t = await readCSVFile(SAMPLE, SEED_OPTS);
    expect(t.columnNames()).toEqual(NAMES);
    expect(t.numRows()).toBe(10);
    expect(Array.from(t.array('timestamp') as ArrayLike<number>).slice(0, 2)).toEqual([
      1502942400, 1502942460,
    ]);
    expect(t.get('volume', 0)).toBeCloseTo(1.775183, 9);
    expect(t.get('high', 9)).toBe(4303.18);
    expect(t.get('low', 9)).toBe(4262.53);
  });

  it('nrows limits the rows read', () => {
    const t = readCSVText(readFileSync(SAMPLE, 'utf8'), { ...SEED_OPTS, nrows: 3 });
    expect(t.numRows()).toBe(3);
    expect(t.get('open', 2)).toBe(4280.56);
  });

  it('usecols by index, in any order, with names per selected column', () => {
    const t = readCSVText(readFileSync(SAMPLE, 'utf8'), {
      sep: '|',
      usecols: [7, 4],
      names: ['trades', 'close'],
    });
    expect(t.columnNames()).toEqual(['trades', 'close']);
    expect(t.get('trades', 9)).toBe(9);
    expect(t.get('close', 9)).toBe(4303.18);
  });

  it('without header or names, columns are named 0..n-1', () => {
    const t = readCSVText('1|2\n3|4\n', { sep: '|', header: false });
    expect(t.columnNames()).toEqual(['0', '1']);
    expect(t.get('1', 1)).toBe(4);
  });

  it('unix-second timestamps become Dates and the seed timestamps are sorted', () => {
    const t = readCSVText(readFileSync(SAMPLE, 'utf8'), {
      ...SEED_OPTS,
      dateColumns: { timestamp: 'unix-s' },
      checkSorted: 'timestamp',
    });
    const d = t.get('timestamp', 0) as Date;
    expect(d).toBeInstanceOf(Date);
    expect(d.toISOString()).toBe('2017-08-17T04:00:00.000Z');
    expect((t.get('timestamp', 9) as Date).toISOString()).toBe('2017-08-17T20:39:00.000Z');
  });

  it('unix-ms and ISO dates', () => {
    const t = readCSVText('ms,iso\n1502942400000,2017-08-17T04:00:00Z\n', {
      dateColumns: { ms: 'unix-ms', iso: 'iso' },
    });
    expect((t.get('ms', 0) as Date).getTime()).toBe(1502942400000);
    expect((t.get('iso', 0) as Date).getTime()).toBe(1502942400000);
  });

  it('header with names replaces the header; usecols by name', () => {
    const t = readCSVText('a,b,c\n1,2,3\n', { header: true, names: ['x', 'y', 'z'], usecols: ['z', 'x'] });
    expect(t.columnNames()).toEqual(['z', 'x']);
    expect(t.get('z', 0)).toBe(3);
  });

  it('TSV, quoted fields, CRLF, typed parsing', () => {
    const t = readCSVText('name\tqty\tok\tf\r\n"a\tb ""q"""\t7\ttrue\t0.1\r\nc\t-2\tFALSE\t1e3\r\n', {
      sep: '\t',
      dtypes: { qty: 'int32', ok: 'boolean', f: 'float32' },
    });
    expect(t.get('name', 0)).toBe('a\tb "q"');
    expect(t.column('qty')).toBeInstanceOf(Int32Array);
    expect(Array.from(t.array('qty') as Int32Array)).toEqual([7, -2]);
    expect(t.array('ok')).toEqual([true, false]);
    expect(t.column('f')).toBeInstanceOf(Float32Array);
    expect(t.get('f', 0)).toBeCloseTo(0.1, 6);
  });

  it('string columns are inferred from their first value; numeric ones stay strict', () => {
    const t = readCSVText('d,v\n2020-01-01,1\n2020-01-02,2\n');
    expect(t.get('d', 0)).toBe('2020-01-01');
    expect(t.column('v')).toBeInstanceOf(Float64Array);
    const e = caught(() => readCSVText('d,v\n2020-01-01,1\n2020-01-02,x\n'), 'PARSE_ERROR');
    expect(e.details).toMatchObject({ line: 3, column: 'v', reason: 'bad-cell' });
  });
});

describe('readCSV: sources', () => {
  const text = readFileSync(SAMPLE, 'utf8');
  it('bytes, Blob/File, Response and ReadableStream give the same table', async () => {
    const ref = readCSVText(text, SEED_OPTS).objects();
    const bytes = new TextEncoder().encode(text);
    expect((await readCSV(bytes, SEED_OPTS)).objects()).toEqual(ref);
    expect((await readCSV(new Blob([text]), SEED_OPTS)).objects()).toEqual(ref);
    expect((await readCSV(new File([text], 'b.csv'), SEED_OPTS)).objects()).toEqual(ref);
    expect((await readCSV(new Response(text), SEED_OPTS)).objects()).toEqual(ref);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 37) c.enqueue(bytes.subarray(i, i + 37));
        c.close();
      },
    });
    expect((await readCSV(stream, SEED_OPTS)).objects()).toEqual(ref);
  });

  it('a stream with nrows stops early and still parses the rows it needs', async () => {
    const bytes = new TextEncoder().encode(text);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 10) c.enqueue(bytes.subarray(i, i + 10));
        c.close();
      },
    });
    const t = await readCSV(stream, { ...SEED_OPTS, nrows: 2 });
    expect(t.numRows()).toBe(2);
  });

  it('a failed Response is an error', async () => {
    await caughtAsync(readCSV(new Response('nope', { status: 404 })), 'INVALID_ARGUMENT');
  });
});

describe('readCSV: missing values on SPISECTOR.csv', () => {
  const text = readFileSync(SPI, 'utf8');

  it('has 17 NA cells', () => {
    let count = 0;
    for (const line of text.split('\n')) for (const cell of line.split(',')) if (cell === 'NA') count++;
    expect(count).toBe(17);
    // Reading with NA kept as text shows the same count.
    const t = readCSVText(text, {
      naValues: [],
      dtypes: Object.fromEntries(['SPI', 'BASI'].map((c) => [c, 'string'])),
    });
    const spi = t.array('SPI') as string[];
    const basi = t.array('BASI') as string[];
    expect(spi.filter((v) => v === 'NA').length + basi.filter((v) => v === 'NA').length).toBe(17);
  });

  it("policy 'error' (default) names the line, row and column of the first NA", () => {
    const e = caught(() => readCSVText(text), 'MISSING_VALUE');
    expect(e.details).toMatchObject({ line: 523, row: 521, column: 'BASI', value: 'NA' });
    expect(e.message).toContain('line 523');
    expect(e.message).toContain("'BASI'");
  });

  it("policy 'drop' drops the 17 rows that hold an NA", () => {
    const t = readCSVText(text, { missing: 'drop' });
    expect(t.numRows()).toBe(2216 - 17);
    expect(t.array('date')).not.toContain('2002-01-29');
    expect(t.array('date')).not.toContain('2008-09-02');
  });

  it("policy 'ffill' carries the previous value forward (also across consecutive NAs)", () => {
    const t = readCSVText(text, { missing: 'ffill', dateColumns: { date: 'iso' }, checkSorted: 'date' });
    expect(t.numRows()).toBe(2216);
    // Line 523 (row 521): BASI was NA, the row before has 867.03.
    expect(t.get('BASI', 521)).toBe(867.03);
    expect(t.get('BASI', 520)).toBe(867.03);
    // Line 2184 (row 2182): SPI NA, previous 1205.33.
    expect(t.get('SPI', 2182)).toBe(1205.33);
    // Lines 2190 and 2191 are both NA: both take line 2189's 1198.07.
    expect(t.get('SPI', 2188)).toBe(1198.07);
    expect(t.get('SPI', 2189)).toBe(1198.07);
    const x = tableToTensor(t, { columns: ['SPI', 'BASI'], dtype: 'float64' });
    expect(x.shape).toEqual([2216, 2]);
    expect(Array.from(x.dataSync()).some(Number.isNaN)).toBe(false);
  });

  it('numeric NA markers (like -999) are checked before parsing; drop with typed columns', () => {
    const t = readCSVText('a,b\n1,-999\n2,5\n-999,6\n', {
      naValues: ['-999'],
      missing: 'drop',
      dtypes: { a: 'int32' },
    });
    expect(Array.from(t.column('a') as Int32Array)).toEqual([2]);
    expect(t.get('b', 0)).toBe(5);
    const e = caught(() => readCSVText('a\n1\n-999\n', { naValues: ['-999'] }), 'MISSING_VALUE');
    expect(e.details).toMatchObject({ line: 3, row: 1, column: 'a' });
  });

  it("'ffill' with nothing before the first missing cell is an error", () => {
    const e = caught(() => readCSVText('a,b\nNA,1\n2,3\n', { missing: 'ffill' }), 'MISSING_VALUE');
    expect(e.details).toMatchObject({ line: 2, column: 'a' });
  });
});

describe('readCSV: bad input gives coded errors with line numbers', () => {
  it('ragged rows', () => {
    const e = caught(() => readCSVText('a,b,c\n1,2,3\n4,5\n6,7,8\n'), 'PARSE_ERROR');
    expect(e.details).toMatchObject({ reason: 'ragged', line: 3, expected: 3, actual: 2 });
    expect(e.message).toContain('line 3');
    caught(() => readCSVText('1|2\n3|4|5\n', { sep: '|', header: false }), 'PARSE_ERROR');
  });

  it('a blank line inside the data is not skipped silently', () => {
    const e = caught(() => readCSVText('a,b\n1,2\n\n3,4\n'), 'PARSE_ERROR');
    expect(e.details).toMatchObject({ reason: 'ragged', line: 3 });
    // Trailing blank lines are fine.
    expect(readCSVText('a,b\n1,2\n\n\n').numRows()).toBe(1);
  });

  it('non-numeric cells in numeric columns', () => {
    const e = caught(() => readCSVText('1|2.5\n3|abc\n', { sep: '|', names: ['t', 'v'] }), 'PARSE_ERROR');
    expect(e.details).toMatchObject({ line: 2, column: 'v', value: 'abc' });
    caught(() => readCSVText('v\n1\n 2\n', {}), 'PARSE_ERROR');
    caught(() => readCSVText('v\n1\n0x10\n', {}), 'PARSE_ERROR');
    const d = caught(() => readCSVText('v\n1.5\n', { dtypes: { v: 'int32' } }), 'PARSE_ERROR');
    expect(d.details).toMatchObject({ line: 2, column: 'v' });
  });

  it('empty input', () => {
    const e = caught(() => readCSVText(''), 'PARSE_ERROR');
    expect(e.details).toMatchObject({ reason: 'empty', line: 1 });
    caught(() => readCSVText('\n\n'), 'PARSE_ERROR');
    caught(() => readNumericCSV(''), 'PARSE_ERROR');
  });

  it('unknown columns', () => {
    caught(() => readCSVText('a,b\n1,2\n', { usecols: ['c'] }), 'UNKNOWN_COLUMN');
    caught(() => readCSVText('a,b\n1,2\n', { usecols: [2] }), 'UNKNOWN_COLUMN');
    caught(() => readCSVText('a,b\n1,2\n', { dtypes: { c: 'number' } }), 'UNKNOWN_COLUMN');
    caught(() => readCSVText('a,b\n1,2\n', { dateColumns: { c: 'iso' } }), 'UNKNOWN_COLUMN');
    caught(() => tableToTensor(readCSVText('a,b\n1,2\n'), { columns: ['c'] }), 'UNKNOWN_COLUMN');
    caught(() => readCSVText('1,2\n', { names: ['a', 'b', 'c'] }), 'INVALID_ARGUMENT');
  });

  it('out-of-order timestamps', () => {
    const text = '1502942400|1\n1502942460|2\n1502942440|3\n';
    const e = caught(
      () =>
        readCSVText(text, {
          sep: '|',
          names: ['timestamp', 'v'],
          dateColumns: { timestamp: 'unix-s' },
          checkSorted: 'timestamp',
        }),
      'UNSORTED',
    );
    expect(e.details).toMatchObject({ line: 3, previousLine: 2, column: 'timestamp' });
    // Duplicates are out of order too (strictly increasing).
    caught(() => readCSVText('t\n1\n1\n', { checkSorted: ['t'] }), 'UNSORTED');
  });

  it('bad dates and unterminated quotes', () => {
    const e = caught(
      () => readCSVText('d\n2020-01-01\nyesterday\n', { dateColumns: { d: 'iso' } }),
      'PARSE_ERROR',
    );
    expect(e.details).toMatchObject({ line: 3, column: 'd' });
    const q = caught(() => readCSVText('a,b\n1,"2\n3,4\n'), 'PARSE_ERROR');
    expect(q.details).toMatchObject({ reason: 'unterminated-quote', line: 2 });
  });

  it('bad options', () => {
    caught(() => readCSVText('a\n1\n', { sep: '||' }), 'INVALID_ARGUMENT');
    caught(() => readCSVText('a\n1\n', { nrows: -1 }), 'INVALID_ARGUMENT');
    caught(() => readCSVText('a\n1\n', { missing: 'zero' as 'drop' }), 'INVALID_ARGUMENT');
  });
});

describe('readNumericCSV', () => {
  const text = readFileSync(SAMPLE, 'utf8');

  it('parses seed 001 columns 1-5 into a float32 [N, 5] tensor equal to the table path', () => {
    const x = readNumericCSV(text, { sep: '|', usecols: [1, 2, 3, 4, 5] });
    expect(x.dtype).toBe('float32');
    expect(x.shape).toEqual([10, 5]);
    const ref = tableToTensor(readCSVText(text, SEED_OPTS), { columns: NAMES.slice(1), dtype: 'float32' });
    expect(Array.from(x.dataSync())).toEqual(Array.from(ref.dataSync()));
    expect(x.toArraySync()).toEqual(ref.toArraySync());
  });

  it('agrees with Number() on awkward numbers, float64 and nrows', () => {
    const cells = [
      '-0.5',
      '+3',
      '1e-7',
      '2.5E+3',
      '.25',
      '7.',
      '123456789012345678',
      '0.1000000000000000055511151231257827',
      'inf',
      '-Infinity',
    ];
    const csv = `${cells.join(',')}\n`;
    const x = readNumericCSV(csv, { dtype: 'float64' });
    const want = cells.map((c) => (c === 'inf' ? Number.POSITIVE_INFINITY : Number(c)));
    expect(Array.from(x.dataSync())).toEqual(want);
    const y = readNumericCSV('1,2\n3,4\n5,6\n', { nrows: 2 });
    expect(y.shape).toEqual([2, 2]);
  });

  it('header, usecols by name, quoted numbers, CRLF, no trailing newline', () => {
    const x = readNumericCSV('a,b,c\r\n1,"2",x\r\n4,5,y', { header: true, usecols: ['b', 'a'] });
    expect(x.toArraySync()).toEqual([
      [2, 1],
      [5, 4],
    ]);
  });

  it('reads from a file', async () => {
    const x = await readNumericCSVFile(SAMPLE, { sep: '|', usecols: [1, 2, 3, 4, 5], nrows: 4 });
    expect(x.shape).toEqual([4, 5]);
  });

  it('bad input: non-numeric, missing, ragged, blank line', () => {
    const a = caught(() => readNumericCSV('1|2\n3|4x\n', { sep: '|', names: ['t', 'v'] }), 'PARSE_ERROR');
    expect(a.details).toMatchObject({ line: 2, column: 'v', value: '4x' });
    const b = caught(() => readNumericCSV('1|2\n3|NA\n', { sep: '|' }), 'MISSING_VALUE');
    expect(b.details).toMatchObject({ line: 2, column: '1' });
    const c = caught(() => readNumericCSV('1|2\n3|\n', { sep: '|' }), 'MISSING_VALUE');
    expect(c.details).toMatchObject({ line: 2 });
    const d = caught(() => readNumericCSV('1|2\n3|4|5\n6|7\n', { sep: '|' }), 'PARSE_ERROR');
    expect(d.details).toMatchObject({ reason: 'ragged', line: 2, actual: 3 });
    const e = caught(() => readNumericCSV('1|2\n3\n', { sep: '|' }), 'PARSE_ERROR');
    expect(e.details).toMatchObject({ reason: 'ragged', line: 2, actual: 1 });
    const f = caught(() => readNumericCSV('1|2\n\n3|4\n', { sep: '|' }), 'PARSE_ERROR');
    expect(f.details).toMatchObject({ line: 2 });
    caught(() => readNumericCSV('1|2\n', { sep: '|', usecols: [5] }), 'UNKNOWN_COLUMN');
    // Skipped columns are not parsed (like pandas' usecols).
    expect(readNumericCSV('1|x\n', { sep: '|', usecols: [0] }).shape).toEqual([1, 1]);
  });
});

describe('table <-> tensor', () => {
  it('round trip keeps values and names', () => {
    const x = tensor([
      [1, 2.5, -3],
      [4, 5, 6.25],
    ]);
    const t = tensorToTable(x, ['a', 'b', 'c']);
    expect(t.columnNames()).toEqual(['a', 'b', 'c']);
    expect(t.column('b')).toBeInstanceOf(Float32Array);
    const y = tableToTensor(t);
    expect(y.shape).toEqual([2, 3]);
    expect(y.toArraySync()).toEqual(x.toArraySync());
    const z = tableToTensor(t, { columns: ['c', 'a'], dtype: 'float64' });
    expect(z.dtype).toBe('float64');
    expect(z.toArraySync()).toEqual([
      [-3, 1],
      [6.25, 4],
    ]);
  });

  it('respects filters and ordering of the table', () => {
    const t = tensorToTable(tensor([[1], [2], [3]]), ['a'])
      .filter((d: { a: number }) => d.a > 1)
      .orderby(aq.desc('a'));
    expect(Array.from(tableToTensor(t).dataSync())).toEqual([3, 2]);
  });

  it('the seed table: 5 price/volume columns into float32 [N, 5]', () => {
    const t = readCSVText(readFileSync(SAMPLE, 'utf8'), {
      ...SEED_OPTS,
      dateColumns: { timestamp: 'unix-s' },
    });
    const x = tableToTensor(t, { columns: ['open', 'high', 'low', 'close', 'volume'] });
    expect(x.shape).toEqual([10, 5]);
    expect(x.dtype).toBe('float32');
    expect((x.toArraySync() as number[][])[9]).toEqual(
      Array.from(new Float32Array([4301.91, 4303.18, 4262.53, 4303.18, 1.161897])),
    );
  });

  it('errors: strings and Dates are not numbers, 3-D tensors and wrong name counts', () => {
    const t = readCSVText('d,v\n2020-01-01,1\n', {});
    const e = caught(() => tableToTensor(t), 'DTYPE_MISMATCH');
    expect(e.details).toMatchObject({ row: 0, column: 'd' });
    caught(() => tensorToTable(tensor([[[1]]]), ['a']), 'SHAPE_MISMATCH');
    caught(() => tensorToTable(tensor([[1, 2]]), ['a']), 'SHAPE_MISMATCH');
    expect(tensorToTable(tensor(new Float32Array([1, 2])), ['a']).numRows()).toBe(2);
  });
});
