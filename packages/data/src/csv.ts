/**
 * CSV/TSV reading into arquero tables, a fast numeric path straight into a tensor, and table <->
 * tensor conversion. The text is tokenized here (RFC 4180 quoting, `\n` or `\r\n` line ends) so that
 * every error can name its 1-based line number; arquero holds the result.
 *
 * Error codes: `PARSE_ERROR` (ragged rows, non-numeric cells in numeric columns, bad dates, unterminated
 * quotes, empty input; `details.reason` says which), `MISSING_VALUE` (a missing cell under the
 * `'error'` policy, or with nothing to forward-fill from), `UNSORTED` (timestamps out of order),
 * `UNKNOWN_COLUMN` (a name or index that is not in the file or table), `INVALID_ARGUMENT` (bad options).
 */
import { type DType, GradfolioError, type Tensor, tensor } from '@gradfolio/tensor';
import * as aq from 'arquero';

/** An arquero column table, as returned by {@link readCSV}. */
export type Table = aq.ColumnTable;

/** What to do with missing cells (those matching `naValues`). */
export type MissingPolicy = 'error' | 'drop' | 'ffill';

/** How a date column is written: unix seconds, unix milliseconds, or ISO 8601 text. */
export type DateFormat = 'unix-s' | 'unix-ms' | 'iso';

/**
 * A column's parsed type. `'number'` is float64 (like pandas), `'float32'`/`'int32'` are stored in the
 * matching typed array (`'int32'` rejects non-integers and values outside its range).
 */
export type ColumnType = 'number' | 'float32' | 'int32' | 'string' | 'boolean';

/** Anything {@link readCSV} can read. */
export type CSVSource =
  | string
  | Uint8Array
  | ArrayBuffer
  | Blob
  | Response
  | ReadableStream<Uint8Array>
  | ReadableStream<string>;

/** Options of {@link readCSV}, {@link readCSVText} and {@link readCSVFile}. */
export interface ReadCSVOptions {
  /** Field separator, a single character: `','` (default), `'\t'` for TSV, `'|'`, `';'`, ... */
  sep?: string;
  /**
   * Whether the first line holds column names. Default: `true` unless `names` is given (pandas'
   * `header='infer'`). With both, the header line is skipped and `names` replace it.
   */
  header?: boolean;
  /**
   * Column names: one per column of the file, or one per column selected by `usecols` (in `usecols`
   * order). Without a header and without `names`, columns are named `'0'`, `'1'`, ...
   */
  names?: readonly string[];
  /** Columns to keep: indices into the file's columns, or names (header or `names`). Default: all. */
  usecols?: readonly number[] | readonly string[];
  /** Read at most this many data rows (before missing rows are dropped). */
  nrows?: number;
  /**
   * Column types by (final) name. Columns not listed are inferred: numeric when their first
   * non-missing cell is a number (then every later cell must be one too), otherwise string.
   */
  dtypes?: Readonly<Record<string, ColumnType>>;
  /** Missing-cell policy. `'error'` (default) throws `MISSING_VALUE` naming the line and column. */
  missing?: MissingPolicy;
  /** Cell texts that mean "missing". Default: {@link DEFAULT_NA_VALUES}. */
  naValues?: readonly string[];
  /** Columns to convert to `Date`, by name, with their format. */
  dateColumns?: Readonly<Record<string, DateFormat>>;
  /** Columns (numbers or dates) that must be strictly increasing; otherwise `UNSORTED` with the line. */
  checkSorted?: string | readonly string[];
}

/** Cell texts treated as missing by default (a subset of pandas' list). */
export const DEFAULT_NA_VALUES: readonly string[] = ['', 'NA', 'N/A', 'NaN', 'nan', 'NULL', 'null', '#N/A'];

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INF_RE = /^[+-]?(?:inf|Infinity)$/i;

/** Parses a cell as a number, or returns undefined when it is not one (no whitespace or hex allowed). */
function parseNumberCell(s: string): number | undefined {
  if (NUMBER_RE.test(s)) return Number(s);
  if (INF_RE.test(s)) return s.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  return undefined;
}

function checkSep(sep: string | undefined, op: string): string {
  const s = sep ?? ',';
  if (typeof s !== 'string' || s.length !== 1 || s === '"' || s === '\n' || s === '\r') {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: sep must be one character other than a quote or line end, got ${JSON.stringify(s)}`,
      {
        op,
        sep: s,
      },
    );
  }
  return s;
}

function checkNrows(nrows: number | undefined, op: string): number {
  if (nrows === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isInteger(nrows) || nrows < 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: nrows must be a non-negative integer, got ${nrows}`,
      {
        op,
        nrows,
      },
    );
  }
  return nrows;
}

/**
 * Reads `text` record by record. Trailing blank lines are ignored; a blank line followed by more data
 * is returned as a record with one empty field (so it is reported as ragged or missing, never skipped).
 */
class Tokenizer {
  pos: number;
  /** The 1-based line the next record starts on. */
  line = 1;
  private readonly n: number;
  private readonly sepCode: number;

  constructor(
    private readonly text: string,
    sep: string,
    private readonly op: string,
  ) {
    this.n = text.length;
    this.sepCode = sep.charCodeAt(0);
    this.pos = text.charCodeAt(0) === 0xfeff ? 1 : 0; // BOM
  }

  /** The next record's fields, or undefined at the end (only blank lines left). */
  next(): string[] | undefined {
    const { text, n, sepCode, op } = this;
    let pos = this.pos;
    if (pos >= n) return undefined;
    const c0 = text.charCodeAt(pos);
    if (c0 === 10 || c0 === 13) {
      let p = pos;
      while (p < n) {
        const d = text.charCodeAt(p);
        if (d !== 10 && d !== 13 && d !== 32 && d !== 9) break;
        p++;
      }
      if (p >= n) {
        this.pos = n;
        return undefined;
      }
    }
    let line = this.line;
    const startLine = line;
    const fields: string[] = [];
    for (;;) {
      if (text.charCodeAt(pos) === 34 /* " */) {
        let value = '';
        let i = pos + 1;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) {
            throw new GradfolioError(
              'PARSE_ERROR',
              `${op}: unterminated quoted field starting on line ${startLine}`,
              {
                op,
                reason: 'unterminated-quote',
                line: startLine,
              },
            );
          }
          const chunk = text.slice(i, q);
          for (let k = chunk.indexOf('\n'); k >= 0; k = chunk.indexOf('\n', k + 1)) line++;
          value += chunk;
          if (text.charCodeAt(q + 1) === 34) {
            value += '"';
            i = q + 2;
          } else {
            pos = q + 1;
            break;
          }
        }
        fields.push(value);
        const c = pos < n ? text.charCodeAt(pos) : 10;
        if (c === sepCode) {
          pos++;
          continue;
        }
        if (c === 13 && text.charCodeAt(pos + 1) === 10) pos++;
        if (c === 10 || c === 13 || pos >= n) {
          pos++;
          line++;
          break;
        }
        throw new GradfolioError(
          'PARSE_ERROR',
          `${op}: unexpected text after a closing quote on line ${line}`,
          {
            op,
            reason: 'bad-quote',
            line,
          },
        );
      }
      // Unquoted field: up to the next separator or line end.
      let i = pos;
      let c = 0;
      while (i < n) {
        c = text.charCodeAt(i);
        if (c === sepCode || c === 10 || c === 13) break;
        i++;
      }
      let end = i;
      if (i >= n) c = 10;
      fields.push(text.slice(pos, end));
      if (c === sepCode) {
        pos = i + 1;
        if (pos >= n)
          fields.push(''); // trailing separator at end of input
        else continue;
      } else {
        if (c === 13 && text.charCodeAt(i + 1) === 10) end = i + 1;
        pos = end + 1;
        line++;
      }
      break;
    }
    this.pos = pos;
    this.line = line;
    return fields;
  }
}

/** The first record's fields (for headers). */
function firstRecord(text: string, sep: string, op: string): string[] | undefined {
  return new Tokenizer(text, sep, op).next();
}

/**
 * Like {@link parseNumberCell}, faster on plain decimals: `Number()` once the first and last characters
 * rule out what `Number()` accepts and a CSV number must not (whitespace, hex/octal/binary, '').
 */
function fastNumber(s: string): number | undefined {
  const n = s.length;
  if (n === 0) return undefined;
  const c0 = s.charCodeAt(0);
  const cl = s.charCodeAt(n - 1);
  if (
    ((c0 >= 48 && c0 <= 57) || c0 === 45 || c0 === 43 || c0 === 46) &&
    ((cl >= 48 && cl <= 57) || cl === 46)
  ) {
    if (c0 === 48 && n > 1) {
      const c1 = s.charCodeAt(1) | 0x20;
      if (c1 === 120 || c1 === 111 || c1 === 98) return undefined; // 0x, 0o, 0b
    }
    const v = Number(s);
    return Number.isNaN(v) ? undefined : v;
  }
  return parseNumberCell(s);
}

/** Resolves the selected file-column indices and their final names. */
function resolveColumns(
  fileNames: readonly string[] | undefined,
  width: number,
  options: {
    names?: readonly string[] | undefined;
    usecols?: readonly number[] | readonly string[] | undefined;
  },
  op: string,
): { indices: number[]; names: string[] } {
  const { names, usecols } = options;
  let allNames: string[] | undefined;
  if (names !== undefined && names.length === width) allNames = [...names];
  else if (names === undefined)
    allNames = fileNames ? [...fileNames] : Array.from({ length: width }, (_, i) => String(i));
  let indices: number[];
  if (usecols === undefined) {
    indices = Array.from({ length: width }, (_, i) => i);
  } else {
    indices = usecols.map((u) => {
      if (typeof u === 'number') {
        if (!Number.isInteger(u) || u < 0 || u >= width) {
          throw new GradfolioError(
            'UNKNOWN_COLUMN',
            `${op}: usecols index ${u} is out of range for ${width} columns`,
            {
              op,
              column: u,
              width,
            },
          );
        }
        return u;
      }
      const lookup = allNames ?? (fileNames ? [...fileNames] : undefined);
      const k = lookup ? lookup.indexOf(u) : -1;
      if (k < 0) {
        throw new GradfolioError(
          'UNKNOWN_COLUMN',
          `${op}: usecols names unknown column '${u}'; columns are ${JSON.stringify(lookup ?? [])}`,
          {
            op,
            column: u,
            columns: lookup ?? [],
          },
        );
      }
      return k;
    });
    if (new Set(indices).size !== indices.length) {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: usecols selects a column twice`, { op, usecols });
    }
  }
  let outNames: string[];
  if (allNames !== undefined) {
    outNames = indices.map((i) => allNames![i]!);
  } else if (names !== undefined && names.length === indices.length) {
    outNames = [...names];
  } else {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: names has ${names?.length} entries; expected ${width} (one per file column) or ${indices.length} (one per selected column)`,
      { op, names, width, selected: indices.length },
    );
  }
  if (new Set(outNames).size !== outNames.length) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: duplicate column names ${JSON.stringify(outNames)}`,
      {
        op,
        names: outNames,
      },
    );
  }
  return { indices, names: outNames };
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function convertCell(
  s: string,
  type: ColumnType | 'date',
  dateFormat: DateFormat | undefined,
  ctx: { op: string; line: number; column: string },
): number | string | boolean | Date {
  const fail = (expected: string): never => {
    throw new GradfolioError(
      'PARSE_ERROR',
      `${ctx.op}: line ${ctx.line}, column '${ctx.column}': expected ${expected}, got ${JSON.stringify(s)}`,
      { op: ctx.op, reason: 'bad-cell', line: ctx.line, column: ctx.column, value: s, expected },
    );
  };
  switch (type) {
    case 'string':
      return s;
    case 'boolean': {
      const l = s.toLowerCase();
      if (l === 'true' || l === '1') return true;
      if (l === 'false' || l === '0') return false;
      return fail('a boolean');
    }
    case 'date': {
      if (dateFormat === 'iso') {
        const t = Date.parse(s);
        if (!/^\d{4}-\d\d-\d\d/.test(s) || Number.isNaN(t)) return fail('an ISO 8601 date');
        return new Date(t);
      }
      const v = parseNumberCell(s);
      if (v === undefined || !Number.isFinite(v)) return fail(`a ${dateFormat} timestamp`);
      return new Date(dateFormat === 'unix-s' ? v * 1000 : v);
    }
    default: {
      const v = parseNumberCell(s);
      if (v === undefined) return fail('a number');
      if (type === 'int32' && (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX))
        return fail('an int32');
      return v;
    }
  }
}

/**
 * Reads CSV/TSV text into an arquero table, synchronously. See {@link ReadCSVOptions}.
 *
 * @example
 * ```ts
 * const t = readCSVText('1502942400|4261.48|1.77\n1502942460|4261.5|0\n', {
 *   sep: '|', names: ['timestamp', 'close', 'volume'], dateColumns: { timestamp: 'unix-s' },
 * });
 * t.array('close'); // Float64Array [4261.48, 4261.5]
 * ```
 */
export function readCSVText(text: string, options: ReadCSVOptions = {}): Table {
  const op = 'readCSV';
  if (typeof text !== 'string') {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: expected text, got ${typeof text}`, { op });
  }
  const sep = checkSep(options.sep, op);
  const nrows = checkNrows(options.nrows, op);
  const header = options.header ?? options.names === undefined;
  const missing = options.missing ?? 'error';
  if (missing !== 'error' && missing !== 'drop' && missing !== 'ffill') {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: missing must be 'error', 'drop' or 'ffill', got ${JSON.stringify(missing)}`,
      {
        op,
        missing,
      },
    );
  }
  const na = new Set(options.naValues ?? DEFAULT_NA_VALUES);
  const tok = new Tokenizer(text, sep, op);
  let firstLineNo = tok.line;
  const firstFields = tok.next();
  if (firstFields === undefined) {
    throw new GradfolioError('PARSE_ERROR', `${op}: the input is empty`, { op, reason: 'empty', line: 1 });
  }
  let fileNames: string[] | undefined;
  let pending: string[] | undefined = firstFields;
  if (header) {
    fileNames = firstFields;
    firstLineNo = tok.line;
    pending = undefined;
  }
  const width = firstFields.length;
  const { indices, names } = resolveColumns(fileNames, width, options, op);
  // Validate option keys that name columns.
  const known = new Set(names);
  const checkKnown = (keys: Iterable<string>, what: string): void => {
    for (const k of keys) {
      if (!known.has(k)) {
        throw new GradfolioError(
          'UNKNOWN_COLUMN',
          `${op}: ${what} names unknown column '${k}'; columns are ${JSON.stringify(names)}`,
          {
            op,
            column: k,
            columns: names,
          },
        );
      }
    }
  };
  checkKnown(Object.keys(options.dtypes ?? {}), 'dtypes');
  checkKnown(Object.keys(options.dateColumns ?? {}), 'dateColumns');
  const sorted =
    options.checkSorted === undefined
      ? []
      : typeof options.checkSorted === 'string'
        ? [options.checkSorted]
        : [...options.checkSorted];
  checkKnown(sorted, 'checkSorted');
  // When no NA marker looks like a number, numeric cells are parsed first and checked against the
  // markers only when they fail (most cells then skip the set lookup).
  const naFirst = [...na].some((v) => parseNumberCell(v) !== undefined);

  const ncol = indices.length;
  const types: Array<ColumnType | 'date' | undefined> = names.map((nm) =>
    options.dateColumns?.[nm] !== undefined ? 'date' : options.dtypes?.[nm],
  );
  const dateFormats = names.map((nm) => options.dateColumns?.[nm]);
  // Numeric columns grow a Float64Array; the others a plain array.
  let cap = 1024;
  const numCols: Array<Float64Array | undefined> = names.map(() => undefined);
  const objCols: Array<Array<string | boolean | Date> | undefined> = names.map(() => undefined);
  let lines = new Int32Array(cap);
  let count = 0;
  const last: Array<number | string | boolean | Date | undefined> = new Array(ncol).fill(undefined);
  const row: Array<number | string | boolean | Date> = new Array(ncol);
  let dataRow = 0;
  for (; dataRow < nrows; dataRow++) {
    const lineNo = pending ? firstLineNo : tok.line;
    const fields = pending ?? tok.next();
    pending = undefined;
    if (fields === undefined) break;
    if (fields.length !== width) {
      throw new GradfolioError(
        'PARSE_ERROR',
        `${op}: line ${lineNo} has ${fields.length} field${fields.length === 1 ? '' : 's'}, expected ${width}`,
        { op, reason: 'ragged', line: lineNo, expected: width, actual: fields.length },
      );
    }
    let drop = false;
    for (let j = 0; j < ncol; j++) {
      const s = fields[indices[j]!]!;
      let type = types[j];
      let v: number | string | boolean | Date | undefined;
      if (type === 'number' || type === 'float32' || (type === 'int32' && !naFirst)) {
        v = naFirst && na.has(s) ? undefined : fastNumber(s);
        if (v === undefined && !na.has(s))
          v = convertCell(s, type, undefined, { op, line: lineNo, column: names[j]! });
        else if (v !== undefined && type === 'int32')
          v = convertCell(s, type, undefined, { op, line: lineNo, column: names[j]! });
      } else if (!na.has(s)) {
        if (type === undefined) {
          type = parseNumberCell(s) === undefined ? 'string' : 'number';
          types[j] = type;
        }
        v = convertCell(s, type, dateFormats[j], { op, line: lineNo, column: names[j]! });
      }
      if (v === undefined) {
        const column = names[j]!;
        if (missing === 'error') {
          throw new GradfolioError(
            'MISSING_VALUE',
            `${op}: missing value ${JSON.stringify(s)} on line ${lineNo} (data row ${dataRow}), column '${column}'; pass missing: 'drop' or 'ffill' to handle it`,
            { op, line: lineNo, row: dataRow, column, value: s },
          );
        }
        if (missing === 'drop') {
          drop = true;
          continue;
        }
        const prev = last[j];
        if (prev === undefined) {
          throw new GradfolioError(
            'MISSING_VALUE',
            `${op}: missing value on line ${lineNo}, column '${column}' has no earlier value to forward-fill from`,
            { op, line: lineNo, row: dataRow, column, value: s },
          );
        }
        v = prev;
      }
      row[j] = v;
    }
    if (drop) continue;
    if (count === cap) {
      cap *= 2;
      const l = new Int32Array(cap);
      l.set(lines);
      lines = l;
      for (let j = 0; j < ncol; j++) {
        const c = numCols[j];
        if (c) {
          const bigger = new Float64Array(cap);
          bigger.set(c);
          numCols[j] = bigger;
        }
      }
    }
    for (let j = 0; j < ncol; j++) {
      const v = row[j]!;
      last[j] = v;
      if (typeof v === 'number') {
        let c = numCols[j];
        if (c === undefined) {
          c = new Float64Array(cap);
          numCols[j] = c;
        }
        c[count] = v;
      } else {
        let c = objCols[j];
        if (c === undefined) {
          c = [];
          objCols[j] = c;
        }
        c.push(v);
      }
    }
    lines[count] = lineNo;
    count++;
  }
  const data: Record<string, ArrayLike<unknown>> = {};
  for (let j = 0; j < ncol; j++) {
    const t = types[j] ?? 'number';
    const num = numCols[j];
    const col: ArrayLike<number | string | boolean | Date> = num
      ? num.subarray(0, count)
      : (objCols[j] ?? []);
    if (t === 'number') data[names[j]!] = num ? num.slice(0, count) : new Float64Array(0);
    else if (t === 'float32') data[names[j]!] = Float32Array.from(col as ArrayLike<number>);
    else if (t === 'int32') data[names[j]!] = Int32Array.from(col as ArrayLike<number>);
    else data[names[j]!] = col;
  }
  // Sortedness.
  for (const name of sorted) {
    const col = data[name] as ArrayLike<number | string | boolean | Date>;
    for (let i = 1; i < col.length; i++) {
      const a = col[i - 1]!;
      const b = col[i]!;
      const av = a instanceof Date ? a.getTime() : a;
      const bv = b instanceof Date ? b.getTime() : b;
      if (!(bv > av)) {
        throw new GradfolioError(
          'UNSORTED',
          `${op}: column '${name}' is not strictly increasing at line ${lines[i]} (${String(b instanceof Date ? b.toISOString() : b)} after ${String(a instanceof Date ? a.toISOString() : a)} on line ${lines[i - 1]})`,
          { op, line: lines[i], previousLine: lines[i - 1], column: name },
        );
      }
    }
  }
  return aq.table(data, names);
}

async function readStream(
  stream: ReadableStream<Uint8Array> | ReadableStream<string>,
  stopAfterLines: number,
): Promise<string> {
  const reader = (stream as ReadableStream<Uint8Array | string>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  let newlines = 0;
  let sawQuote = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const chunk = typeof value === 'string' ? value : decoder.decode(value, { stream: true });
    text += chunk;
    if (Number.isFinite(stopAfterLines)) {
      if (!sawQuote && chunk.includes('"')) sawQuote = true;
      for (let k = chunk.indexOf('\n'); k >= 0; k = chunk.indexOf('\n', k + 1)) newlines++;
      // Without quotes, each line is one record: stop once enough complete lines are in.
      if (!sawQuote && newlines > stopAfterLines) {
        await reader.cancel();
        return text;
      }
    }
  }
  return text + decoder.decode();
}

/** Reads any {@link CSVSource} into text; `nrows` lets a stream stop early. */
async function sourceText(source: CSVSource, options: ReadCSVOptions, op: string): Promise<string> {
  if (typeof source === 'string') return source;
  if (source instanceof Uint8Array) return new TextDecoder().decode(source);
  if (source instanceof ArrayBuffer) return new TextDecoder().decode(new Uint8Array(source));
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
    const lines = options.nrows === undefined ? Number.POSITIVE_INFINITY : options.nrows + 1;
    return readStream(source, lines);
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${op}: the response failed with HTTP ${source.status} ${source.statusText}`,
        {
          op,
          status: source.status,
          url: source.url,
        },
      );
    }
    return source.text();
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source.text();
  throw new GradfolioError(
    'INVALID_ARGUMENT',
    `${op}: cannot read a CSV from ${Object.prototype.toString.call(source)}`,
    {
      op,
    },
  );
}

/**
 * Reads CSV/TSV from text, bytes, a `File`/`Blob`, a fetch `Response` or a `ReadableStream` into an
 * arquero table (pandas' `read_csv`). Works in Node and browsers. See {@link ReadCSVOptions}.
 *
 * @example
 * ```ts
 * const t = await readCSV(await fetch('/BTCUSDT.csv'), {
 *   sep: '|', header: false, usecols: [0, 1, 2, 3, 4, 5], nrows: 1000,
 *   names: ['timestamp', 'open', 'high', 'low', 'close', 'volume'],
 *   dateColumns: { timestamp: 'unix-s' }, checkSorted: 'timestamp',
 * });
 * ```
 */
export async function readCSV(source: CSVSource, options: ReadCSVOptions = {}): Promise<Table> {
  return readCSVText(await sourceText(source, options, 'readCSV'), options);
}

async function readTextFile(path: string, op: string): Promise<string> {
  const fs = await import('node:fs/promises');
  try {
    return await fs.readFile(path, 'utf8');
  } catch (e) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: cannot read '${path}': ${(e as Error).message}`,
      { op, path },
      {
        cause: e,
      },
    );
  }
}

/**
 * Reads a CSV/TSV file from disk (Node only; `node:fs` is imported lazily so browser bundles do not
 * pull it in).
 *
 * @example
 * ```ts
 * const spi = await readCSVFile('SPISECTOR.csv', { missing: 'ffill', dateColumns: { date: 'iso' } });
 * ```
 */
export async function readCSVFile(path: string, options: ReadCSVOptions = {}): Promise<Table> {
  return readCSVText(await readTextFile(path, 'readCSVFile'), options);
}

/** Options of {@link readNumericCSV}. */
export interface ReadNumericCSVOptions {
  /** Field separator, one character. Default `','`. */
  sep?: string;
  /** Whether the first line holds column names (skipped, but usable in `usecols`). Default `false`. */
  header?: boolean;
  /** Column names of the file (for `usecols` by name when there is no header). */
  names?: readonly string[];
  /** Columns to keep (indices or names). Default: all. */
  usecols?: readonly number[] | readonly string[];
  /** Read at most this many data rows. */
  nrows?: number;
  /** Output dtype, `'float32'` (default) or `'float64'`. */
  dtype?: 'float32' | 'float64';
  /** Cell texts reported as `MISSING_VALUE` rather than `PARSE_ERROR`. Default {@link DEFAULT_NA_VALUES}. */
  naValues?: readonly string[];
}

const POW10: number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * Parses an all-numeric CSV (text, or UTF-8 bytes) straight into a `[rows, columns]` tensor, without building a table: a
 * hand-written number scanner writes into a `Float32Array` (or `Float64Array`). Every selected cell is
 * validated: a non-number is `PARSE_ERROR` with its line and column, a missing one `MISSING_VALUE`
 * (use {@link readCSV} for `drop`/`ffill`), and a row with the wrong number of fields `PARSE_ERROR`.
 * Columns not in `usecols` are skipped unparsed, like pandas.
 *
 * @example
 * ```ts
 * const x = readNumericCSV('1502942400|4261.48|4261.48|4261.48|4261.48|1.775183\n', {
 *   sep: '|', usecols: [1, 2, 3, 4, 5],
 * });
 * x.shape; // [1, 5]
 * ```
 */
export function readNumericCSV(source: string | Uint8Array, options: ReadNumericCSVOptions = {}): Tensor {
  const op = 'readNumericCSV';
  let buf: Uint8Array;
  if (typeof source === 'string') buf = new TextEncoder().encode(source);
  else if (source instanceof Uint8Array) buf = source;
  else
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: expected text or bytes, got ${typeof source}`, {
      op,
    });
  const decoder = new TextDecoder();
  const dec = (start: number, end: number): string => decoder.decode(buf.subarray(start, end));
  const sep = checkSep(options.sep, op);
  const sepCode = sep.charCodeAt(0);
  const nrows = checkNrows(options.nrows, op);
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: dtype must be 'float32' or 'float64', got ${dtype}`,
      { op, dtype },
    );
  }
  const na = new Set(options.naValues ?? DEFAULT_NA_VALUES);
  const n = buf.length;
  let pos = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0; // BOM
  let line = 1;
  // Header and width: tokenize the first line with the general tokenizer.
  const firstEnd = buf.indexOf(10, pos);
  const firstLine = dec(pos, firstEnd < 0 ? n : firstEnd);
  if (firstLine.trim() === '' && (firstEnd < 0 || dec(firstEnd, n).trim() === '')) {
    throw new GradfolioError('PARSE_ERROR', `${op}: the input is empty`, { op, reason: 'empty', line: 1 });
  }
  const firstFields = firstRecord(firstLine, sep, op) ?? [''];
  const width = firstFields.length;
  const header = options.header ?? false;
  const fileNames = header ? firstFields : undefined;
  const { indices, names } = resolveColumns(
    fileNames,
    width,
    { names: options.names, usecols: options.usecols },
    op,
  );
  if (header) {
    pos = firstEnd < 0 ? n : firstEnd + 1;
    line = 2;
  }
  const ncol = indices.length;
  // slot[k] = output column of file column k, or -1 when skipped.
  const slot = new Int32Array(width).fill(-1);
  indices.forEach((fileCol, j) => {
    slot[fileCol] = j;
  });
  let cap = Math.min(nrows, Math.max(1024, Math.ceil(n / Math.max(8, (firstLine.length + 1) | 0)) + 16));
  let out: Float32Array | Float64Array =
    dtype === 'float32' ? new Float32Array(cap * ncol) : new Float64Array(cap * ncol);
  let rows = 0;
  const cellError = (start: number, end: number, col: number): never => {
    const s = dec(start, end);
    const column = names[slot[col]!] ?? String(col);
    if (na.has(s)) {
      throw new GradfolioError(
        'MISSING_VALUE',
        `${op}: missing value ${JSON.stringify(s)} on line ${line}, column '${column}'`,
        {
          op,
          line,
          row: rows,
          column,
          value: s,
        },
      );
    }
    throw new GradfolioError(
      'PARSE_ERROR',
      `${op}: line ${line}, column '${column}': expected a number, got ${JSON.stringify(s)}`,
      {
        op,
        reason: 'bad-cell',
        line,
        column,
        value: s,
        expected: 'a number',
      },
    );
  };
  const ragged = (fields: number): never => {
    throw new GradfolioError(
      'PARSE_ERROR',
      `${op}: line ${line} has ${fields} field${fields === 1 ? '' : 's'}, expected ${width}`,
      {
        op,
        reason: 'ragged',
        line,
        expected: width,
        actual: fields,
      },
    );
  };
  while (pos < n && rows < nrows) {
    // Blank line(s): allowed only at the end of the input.
    let c = buf[pos]!;
    if (c === 10 || c === 13) {
      let p = pos;
      while (p < n) {
        const d = buf[p]!;
        if (d !== 10 && d !== 13 && d !== 32 && d !== 9) break;
        p++;
      }
      if (p >= n) break;
      ragged(1);
    }
    if (rows === cap) {
      cap *= 2;
      const bigger = dtype === 'float32' ? new Float32Array(cap * ncol) : new Float64Array(cap * ncol);
      bigger.set(out);
      out = bigger;
    }
    const base = rows * ncol;
    let col = 0;
    for (;;) {
      const start = pos;
      c = pos < n ? buf[pos]! : 10;
      const target = col < width ? slot[col]! : -1;
      if (c === 34) {
        // Quoted field: find the closing quote ("" escapes a quote).
        let q = pos + 1;
        for (;;) {
          q = buf.indexOf(34, q);
          if (q < 0) {
            throw new GradfolioError(
              'PARSE_ERROR',
              `${op}: unterminated quoted field starting on line ${line}`,
              {
                op,
                reason: 'unterminated-quote',
                line,
              },
            );
          }
          if (buf[q + 1] === 34) q += 2;
          else break;
        }
        if (target >= 0) {
          const v = parseNumberCell(dec(start + 1, q));
          if (v === undefined) cellError(start + 1, q, col);
          out[base + target] = v!;
        }
        for (let k = start; k < q; k++) if (buf[k] === 10) line++;
        pos = q + 1;
        c = pos < n ? buf[pos]! : 10;
        if (c !== sepCode && c !== 10 && c !== 13) {
          throw new GradfolioError(
            'PARSE_ERROR',
            `${op}: unexpected text after a closing quote on line ${line}`,
            {
              op,
              reason: 'bad-quote',
              line,
            },
          );
        }
      } else if (target >= 0) {
        // Number scanner: [+-]digits[.digits][(e|E)[+-]digits]
        let p = pos;
        let neg = false;
        if (c === 45 || c === 43) {
          neg = c === 45;
          p++;
          c = p < n ? buf[p]! : 10;
        }
        let mant = 0;
        let digits = 0;
        let scale = 0;
        while (c >= 48 && c <= 57) {
          mant = mant * 10 + (c - 48);
          digits++;
          p++;
          c = p < n ? buf[p]! : 10;
        }
        if (c === 46) {
          p++;
          c = p < n ? buf[p]! : 10;
          while (c >= 48 && c <= 57) {
            mant = mant * 10 + (c - 48);
            digits++;
            scale++;
            p++;
            c = p < n ? buf[p]! : 10;
          }
        }
        let exp = 0;
        let ok = digits > 0;
        if (ok && (c === 101 || c === 69)) {
          p++;
          c = p < n ? buf[p]! : 10;
          let eneg = false;
          if (c === 45 || c === 43) {
            eneg = c === 45;
            p++;
            c = p < n ? buf[p]! : 10;
          }
          let ed = 0;
          while (c >= 48 && c <= 57) {
            exp = exp * 10 + (c - 48);
            ed++;
            p++;
            c = p < n ? buf[p]! : 10;
          }
          if (ed === 0) ok = false;
          if (eneg) exp = -exp;
        }
        if (!ok || (c !== sepCode && c !== 10 && c !== 13)) {
          // Not a plain decimal: find the field's end, then try inf/NaN spellings or fail.
          let e = p;
          while (e < n) {
            const d = buf[e]!;
            if (d === sepCode || d === 10 || d === 13) break;
            e++;
          }
          const v = parseNumberCell(dec(pos, e));
          if (v === undefined) cellError(pos, e, col);
          out[base + target] = v!;
          p = e;
        } else {
          const e10 = exp - scale;
          let v: number;
          // Exact when the mantissa fits in 53 bits and 10^|e10| is exact: one correctly rounded op.
          if (digits <= 15 && e10 >= -22 && e10 <= 22) v = e10 < 0 ? mant / POW10[-e10]! : mant * POW10[e10]!;
          else v = Number(dec(neg || buf[pos] === 43 ? pos + 1 : pos, p));
          out[base + target] = neg ? -v : v;
        }
        pos = p;
        c = pos < n ? buf[pos]! : 10;
      } else {
        // Skipped column: to the next separator or line end.
        while (c !== sepCode && c !== 10 && c !== 13) {
          pos++;
          c = pos < n ? buf[pos]! : 10;
        }
      }
      col++;
      if (c === sepCode) {
        pos++;
        continue;
      }
      // Line end.
      if (c === 13 && buf[pos + 1] === 10) pos++;
      pos++;
      break;
    }
    if (col !== width) ragged(col);
    rows++;
    line++;
  }
  const data = out.length === rows * ncol ? out : out.slice(0, rows * ncol);
  return tensor(data, { dtype }).reshape(rows, ncol);
}

/**
 * {@link readNumericCSV} on a file (Node only; `node:fs` is imported lazily).
 *
 * @example
 * ```ts
 * const x = await readNumericCSVFile('BTCUSDT.csv', { sep: '|', usecols: [1, 2, 3, 4, 5], nrows: 1000 });
 * ```
 */
export async function readNumericCSVFile(path: string, options: ReadNumericCSVOptions = {}): Promise<Tensor> {
  const op = 'readNumericCSVFile';
  const fs = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: cannot read '${path}': ${(e as Error).message}`,
      { op, path },
      { cause: e },
    );
  }
  // The scanner reads the bytes directly: no UTF-8 decode of the whole file.
  return readNumericCSV(bytes, options);
}

/** Options of {@link tableToTensor}. */
export interface TableToTensorOptions {
  /** Columns to take, in order. Default: every column. */
  columns?: readonly string[];
  /** Tensor dtype. Default `'float32'`. */
  dtype?: DType;
}

/**
 * Stacks numeric (or boolean) table columns into a `[rows, columns]` tensor, row-major like pandas'
 * `df[columns].to_numpy()`. A non-numeric cell is `DTYPE_MISMATCH` and a null/undefined one
 * `MISSING_VALUE`, each naming the row and column; an unknown column is `UNKNOWN_COLUMN`.
 *
 * @example
 * ```ts
 * const x = tableToTensor(t, { columns: ['open', 'high', 'low', 'close', 'volume'], dtype: 'float32' });
 * x.shape; // [rows, 5]
 * ```
 */
export function tableToTensor(table: Table, options: TableToTensorOptions = {}): Tensor {
  const op = 'tableToTensor';
  const all = table.columnNames();
  const columns = options.columns ? [...options.columns] : all;
  for (const c of columns) {
    if (!all.includes(c)) {
      throw new GradfolioError(
        'UNKNOWN_COLUMN',
        `${op}: unknown column '${c}'; columns are ${JSON.stringify(all)}`,
        {
          op,
          column: c,
          columns: all,
        },
      );
    }
  }
  const rows = table.numRows();
  const ncol = columns.length;
  const dtype = options.dtype ?? 'float32';
  const out = new Float64Array(rows * ncol);
  for (let j = 0; j < ncol; j++) {
    const name = columns[j]!;
    // Unfiltered, unordered tables expose their typed-array columns directly; otherwise copy in row order.
    const raw = table.isFiltered() || table.isOrdered() ? undefined : (table.column(name) as unknown);
    const arr = (ArrayBuffer.isView(raw) ? raw : table.array(name)) as ArrayLike<unknown>;
    if (ArrayBuffer.isView(arr) && !(arr instanceof BigInt64Array || arr instanceof BigUint64Array)) {
      const typed = arr as unknown as ArrayLike<number>;
      for (let i = 0; i < rows; i++) out[i * ncol + j] = typed[i]!;
      continue;
    }
    for (let i = 0; i < rows; i++) {
      const v = arr[i];
      if (typeof v === 'number') out[i * ncol + j] = v;
      else if (typeof v === 'boolean') out[i * ncol + j] = v ? 1 : 0;
      else if (v === null || v === undefined) {
        throw new GradfolioError('MISSING_VALUE', `${op}: row ${i}, column '${name}' is missing`, {
          op,
          row: i,
          column: name,
        });
      } else {
        throw new GradfolioError(
          'DTYPE_MISMATCH',
          `${op}: row ${i}, column '${name}' holds ${v instanceof Date ? 'a Date' : typeof v} ${JSON.stringify(v)}, not a number; leave it out of columns`,
          { op, row: i, column: name },
        );
      }
    }
  }
  return tensor(out, { dtype }).reshape(rows, ncol);
}

/**
 * Turns a 2-D `[rows, columns]` tensor (or a 1-D one, as one column) into an arquero table with the
 * given column names; columns keep the tensor's typed array type.
 *
 * @example
 * ```ts
 * const t = tensorToTable(tensor([[1, 2], [3, 4]]), ['a', 'b']);
 * t.array('b'); // Float32Array [2, 4]
 * ```
 */
export function tensorToTable(t: Tensor, names: readonly string[]): Table {
  const op = 'tensorToTable';
  if (t.shape.length !== 1 && t.shape.length !== 2) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: expected a 1-D or 2-D tensor, got shape [${t.shape.join(', ')}]`,
      {
        op,
        shapes: [t.shape],
      },
    );
  }
  const rows = t.shape[0]!;
  const ncol = t.shape.length === 2 ? t.shape[1]! : 1;
  if (names.length !== ncol) {
    throw new GradfolioError('SHAPE_MISMATCH', `${op}: ${names.length} names for ${ncol} columns`, {
      op,
      shapes: [t.shape],
      names,
    });
  }
  if (new Set(names).size !== names.length) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: duplicate column names ${JSON.stringify(names)}`, {
      op,
      names,
    });
  }
  const flat = t.dataSync();
  const data: Record<string, ArrayLike<unknown>> = {};
  for (let j = 0; j < ncol; j++) {
    let col: ArrayLike<unknown>;
    if (t.dtype === 'bool') {
      const b = new Array<boolean>(rows);
      for (let i = 0; i < rows; i++) b[i] = flat[i * ncol + j] !== 0;
      col = b;
    } else {
      const Ctor = flat.constructor as new (n: number) => Float32Array;
      const c = new Ctor(rows);
      for (let i = 0; i < rows; i++) c[i] = flat[i * ncol + j]!;
      col = c;
    }
    data[names[j]!] = col;
  }
  return aq.table(data, [...names]);
}
