/**
 * Printing tensors the way PyTorch's `str(tensor)` / `repr(tensor)` does, as a pure function of the values,
 * the shape and the dtype. Reimplemented from PyTorch's documented print options and its observed output
 * (checked against PyTorch 1.13 by `fixtures/gen_format.py`), with the suffixes in our own spelling:
 * `dtype=float64`, `requiresGrad=true`, `gradFn=<AddBackward>`.
 *
 * The rules, in short:
 * - A tensor with more than `threshold` elements is summarised: every dimension longer than
 *   `2 * edgeitems` shows only its first and last `edgeitems` entries around `...`.
 * - All printed elements share one width and one style, chosen from the printed elements:
 *   integer-valued floats print as `1.`; otherwise `precision` decimals; scientific notation when, among
 *   the non-zero finite magnitudes, max / min > 1000 or max > 1e8 (or, for non-integer values,
 *   min < 1e-4). `sciMode` forces the choice either way.
 * - Rows wrap at `linewidth`; nested rows are indented under `tensor([`; suffixes that would pass the line
 *   width go on their own line, indented by 7 (the width of `tensor(`).
 *
 * @module
 */

import { GradfolioError } from './errors.js';

/**
 * The dtypes {@link formatTensor} knows how to print.
 *
 * @example
 * ```ts
 * const dtype: FormatDType = 'float64';
 * formatTensor({ data: [1.5], shape: [1], dtype }); // 'tensor([1.5000], dtype=float64)'
 * ```
 */
export type FormatDType = 'float32' | 'float64' | 'int32' | 'bool';

/**
 * Print options, PyTorch's `torch.set_printoptions` in camelCase.
 *
 * - `precision`: digits after the decimal point (default 4).
 * - `threshold`: element count above which the tensor is summarised (default 1000).
 * - `edgeitems`: entries kept at each end of a summarised dimension (default 3).
 * - `linewidth`: characters per line before wrapping (default 80).
 * - `sciMode`: `true` / `false` forces scientific / fixed notation; `undefined` chooses (default).
 *
 * @example
 * ```ts
 * const opts: FormatOptions = { precision: 2, sciMode: false };
 * formatTensor({ data: [0.5, 1], shape: [2], dtype: 'float32' }, opts); // 'tensor([0.50, 1.00])'
 * ```
 */
export interface FormatOptions {
  /** Digits after the decimal point (default 4, as PyTorch). */
  precision?: number;
  /** Summarize tensors with more elements than this (default 1000). */
  threshold?: number;
  /** Items shown at each end of a summarized dim (default 3). */
  edgeitems?: number;
  /** Characters per line before wrapping (default 80). */
  linewidth?: number;
  /** Force (true) or forbid (false) scientific notation; default: chosen from the values. */
  sciMode?: boolean | undefined;
}

/**
 * What {@link formatTensor} prints: contiguous row-major values with their shape and dtype, plus the
 * optional device and autograd state that show up as suffixes.
 *
 * @example
 * ```ts
 * const t: FormatInput = { data: new Float32Array([1, 2]), shape: [2], dtype: 'float32', requiresGrad: true };
 * formatTensor(t); // 'tensor([1., 2.], requiresGrad=true)'
 * ```
 */
export interface FormatInput {
  /** Contiguous row-major values (bool as 0/1). float32 values are rounded to float32 before printing. */
  data: ArrayLike<number>;
  /** The shape; `[]` for a 0-d tensor. */
  shape: readonly number[];
  /** The dtype; decides the number style and the `dtype=` suffix. */
  dtype: FormatDType;
  /** `'cpu'` (or absent) prints nothing; anything else prints `, device='webgpu'`. */
  device?: string;
  /** Prints `, requiresGrad=true` (unless `gradFn` is given). */
  requiresGrad?: boolean;
  /** Prints `, gradFn=<AddBackward>` for `gradFn: 'AddBackward'`. */
  gradFn?: string | undefined;
}

type ResolvedOptions = Required<Omit<FormatOptions, 'sciMode'>> & { sciMode: boolean | undefined };

const PROFILES = {
  default: { precision: 4, threshold: 1000, edgeitems: 3, linewidth: 80 },
  short: { precision: 2, threshold: 1000, edgeitems: 2, linewidth: 80 },
  full: { precision: 4, threshold: Number.POSITIVE_INFINITY, edgeitems: 3, linewidth: 80 },
} as const;

let printOptions: ResolvedOptions = { ...PROFILES.default, sciMode: undefined };

const PREFIX = 'tensor(';

/**
 * Formats a tensor exactly like PyTorch's `repr(tensor)`, with our suffix spelling. `options` override
 * the global print options ({@link setPrintOptions}) for this call only.
 *
 * @example
 * ```ts
 * formatTensor({ data: [0.5556, 0.4411, -1, 2], shape: [2, 2], dtype: 'float32', requiresGrad: true });
 * // tensor([[ 0.5556,  0.4411],
 * //         [-1.0000,  2.0000]], requiresGrad=true)
 * formatTensor({ data: [3.5], shape: [], dtype: 'float32' });        // 'tensor(3.5000)'
 * formatTensor({ data: [], shape: [0, 3], dtype: 'float32' });       // 'tensor([], size=(0, 3))'
 * formatTensor({ data: [1, 0], shape: [2], dtype: 'bool' });         // 'tensor([ True, False])'
 * ```
 */
export function formatTensor(t: FormatInput, options?: FormatOptions): string {
  const opts = resolveOptions(options);
  const shape = t.shape;
  let numel = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new GradfolioError('INVALID_ARGUMENT', `formatTensor: invalid shape [${shape.join(', ')}]`, {
        op: 'formatTensor',
        shapes: [shape],
      });
    }
    numel *= d;
  }
  if (t.data.length !== numel) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `formatTensor: shape [${shape.join(', ')}] needs ${numel} values but data has ${t.data.length}`,
      { op: 'formatTensor', shapes: [shape] },
    );
  }

  const suffixes: string[] = [];
  if (t.device !== undefined && t.device !== 'cpu') suffixes.push(`device='${t.device}'`);
  let body: string;
  if (numel === 0) {
    // No elements to infer the dtype from, so only the default float dtype goes unsaid.
    if (shape.length !== 1) suffixes.push(`size=(${shape.join(', ')})`);
    if (t.dtype !== 'float32') suffixes.push(`dtype=${t.dtype}`);
    body = '[]';
  } else {
    // float32 (default float), int32 (default integer) and bool print no dtype.
    if (t.dtype === 'float64') suffixes.push('dtype=float64');
    body = tensorBody(t, numel, opts);
  }
  if (t.gradFn !== undefined) suffixes.push(`gradFn=<${t.gradFn}>`);
  else if (t.requiresGrad === true) suffixes.push('requiresGrad=true');
  return addSuffixes(PREFIX + body, suffixes, PREFIX.length, opts.linewidth);
}

/**
 * Sets the global print options, like `torch.set_printoptions`. A `profile` (`'default'`, `'short'`:
 * precision 2 and 2 edge items, `'full'`: never summarise) is applied first, then the given options.
 * As in PyTorch, `sciMode` is always assigned: leaving it out sets it back to automatic.
 *
 * @example
 * ```ts
 * setPrintOptions({ precision: 2 });
 * formatTensor({ data: [1 / 3], shape: [1], dtype: 'float32' }); // 'tensor([0.33])'
 * setPrintOptions({ profile: 'default' });
 * ```
 */
export function setPrintOptions(options: FormatOptions & { profile?: 'default' | 'short' | 'full' }): void {
  const next: ResolvedOptions = { ...printOptions };
  if (options.profile !== undefined) {
    const profile = PROFILES[options.profile];
    if (profile === undefined) {
      throw new GradfolioError('INVALID_ARGUMENT', `setPrintOptions: unknown profile '${options.profile}'`, {
        op: 'setPrintOptions',
      });
    }
    Object.assign(next, profile);
  }
  if (options.precision !== undefined) next.precision = checkCount('precision', options.precision);
  if (options.threshold !== undefined) next.threshold = checkThreshold(options.threshold);
  if (options.edgeitems !== undefined) next.edgeitems = checkCount('edgeitems', options.edgeitems);
  if (options.linewidth !== undefined) next.linewidth = checkCount('linewidth', options.linewidth);
  next.sciMode = options.sciMode;
  printOptions = next;
}

/**
 * The global print options in effect (a copy).
 *
 * @example
 * ```ts
 * getPrintOptions(); // { precision: 4, threshold: 1000, edgeitems: 3, linewidth: 80, sciMode: undefined }
 * ```
 */
export function getPrintOptions(): Required<Omit<FormatOptions, 'sciMode'>> & {
  /** `true` / `false` forces scientific / fixed notation; `undefined` chooses per tensor. */
  sciMode: boolean | undefined;
} {
  return { ...printOptions };
}

function resolveOptions(options: FormatOptions | undefined): ResolvedOptions {
  if (options === undefined) return printOptions;
  return {
    precision:
      options.precision === undefined ? printOptions.precision : checkCount('precision', options.precision),
    threshold: options.threshold === undefined ? printOptions.threshold : checkThreshold(options.threshold),
    edgeitems:
      options.edgeitems === undefined ? printOptions.edgeitems : checkCount('edgeitems', options.edgeitems),
    linewidth:
      options.linewidth === undefined ? printOptions.linewidth : checkCount('linewidth', options.linewidth),
    sciMode: 'sciMode' in options ? options.sciMode : printOptions.sciMode,
  };
}

function checkCount(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `print option ${name} must be a non-negative integer, got ${v}`,
      {
        op: 'setPrintOptions',
      },
    );
  }
  return v;
}

function checkThreshold(v: number): number {
  if (Number.isNaN(v) || v < 0) {
    throw new GradfolioError('INVALID_ARGUMENT', `print option threshold must be >= 0, got ${v}`, {
      op: 'setPrintOptions',
    });
  }
  return v;
}

/** Puts the suffixes after the body, each on a new line when it would pass the line width. */
function addSuffixes(head: string, suffixes: readonly string[], indent: number, linewidth: number): string {
  let out = head;
  // PyTorch measures the last line with two extra characters (for the `, ` about to follow).
  let lastLineLen = head.length - head.lastIndexOf('\n') + 1;
  for (const s of suffixes) {
    if (lastLineLen + s.length + 2 > linewidth) {
      out += `,\n${' '.repeat(indent)}${s}`;
      lastLineLen = indent + s.length;
    } else {
      out += `, ${s}`;
      lastLineLen += s.length + 2;
    }
  }
  return `${out})`;
}

// ---------------------------------------------------------------------------------------------------------
// The body: nested brackets, summarisation and wrapping

interface Layout {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly summarize: boolean;
  readonly edge: number;
  readonly linewidth: number;
  readonly get: (i: number) => number;
  readonly fmt: ElementFormatter;
}

function tensorBody(t: FormatInput, numel: number, opts: ResolvedOptions): string {
  const { data, shape, dtype } = t;
  const get =
    dtype === 'float32'
      ? (i: number) => Math.fround(data[i] ?? Number.NaN)
      : (i: number) => data[i] ?? Number.NaN;
  const strides: number[] = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  const summarize = numel > opts.threshold;
  const edge = opts.edgeitems;

  // The element style is chosen from the elements that will be printed.
  const printed: number[] = [];
  const collect = (d: number, offset: number): void => {
    if (d === shape.length) {
      printed.push(get(offset));
      return;
    }
    for (const i of shownIndices(shape[d]!, summarize, edge)) {
      if (i >= 0) collect(d + 1, offset + i * strides[d]!);
    }
  };
  collect(0, 0);

  const fmt =
    dtype === 'bool'
      ? boolFormatter(printed)
      : dtype === 'int32'
        ? intFormatter(printed)
        : floatFormatter(printed, opts.precision, opts.sciMode);
  const layout: Layout = { shape, strides, summarize, edge, linewidth: opts.linewidth, get, fmt };
  if (shape.length === 0) return fmt.format(get(0));
  return nested(layout, 0, 0, PREFIX.length);
}

/**
 * The indices of one dimension that are printed, with -1 standing for the `...` placeholder. With
 * `edgeitems` 0 a summarised dimension is only the placeholder (what PyTorch 2.x prints).
 */
function shownIndices(size: number, summarize: boolean, edge: number): number[] {
  if (summarize && edge === 0) return [-1];
  const out: number[] = [];
  if (summarize && size > 2 * edge) {
    for (let i = 0; i < edge; i++) out.push(i);
    out.push(-1);
    for (let i = size - edge; i < size; i++) out.push(i);
  } else {
    for (let i = 0; i < size; i++) out.push(i);
  }
  return out;
}

function nested(L: Layout, d: number, offset: number, indent: number): string {
  const ndim = L.shape.length;
  const indices = shownIndices(L.shape[d]!, L.summarize, L.edge);
  if (d === ndim - 1) {
    const elementLength = L.fmt.width + 2;
    const perLine = Math.max(1, Math.floor((L.linewidth - indent) / elementLength));
    const items = indices.map((i) =>
      i < 0 ? (indices.length === 1 ? '...' : ' ...') : L.fmt.format(L.get(offset + i)),
    );
    const lines: string[] = [];
    for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
    return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
  }
  const stride = L.strides[d]!;
  const parts = indices.map((i) => (i < 0 ? '...' : nested(L, d + 1, offset + i * stride, indent + 1)));
  return `[${parts.join(`,${'\n'.repeat(ndim - d - 1)}${' '.repeat(indent + 1)}`)}]`;
}

// ---------------------------------------------------------------------------------------------------------
// Element formatters

interface ElementFormatter {
  /** The common width every element is right-aligned to. */
  readonly width: number;
  format(v: number): string;
}

function boolFormatter(values: readonly number[]): ElementFormatter {
  const width = values.some((v) => v === 0) ? 5 : values.length > 0 ? 4 : 1;
  return { width, format: (v) => (v !== 0 ? 'True' : 'False').padStart(width) };
}

function intFormatter(values: readonly number[]): ElementFormatter {
  const str = (v: number): string => (Number.isFinite(v) ? String(Math.trunc(v)) : String(v));
  let width = 1;
  for (const v of values) width = Math.max(width, str(v).length);
  return { width, format: (v) => str(v).padStart(width) };
}

function floatFormatter(
  values: readonly number[],
  precision: number,
  sciMode: boolean | undefined,
): ElementFormatter {
  let intMode = true;
  let sci = false;
  let width = 1;
  const finite = values.filter((v) => Number.isFinite(v) && v !== 0);
  if (finite.length > 0) {
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    for (const v of finite) {
      const a = Math.abs(v);
      if (a < min) min = a;
      if (a > max) max = a;
      if (v !== Math.ceil(v)) intMode = false;
    }
    if (intMode) {
      if (max / min > 1000 || max > 1e8) {
        sci = true;
        for (const v of finite) width = Math.max(width, formatExponential(v, precision).length);
      } else {
        // The trailing `.` marks integer-valued floats.
        for (const v of finite) width = Math.max(width, formatFixed(v, 0).length + 1);
      }
    } else if (max / min > 1000 || max > 1e8 || min < 1e-4) {
      sci = true;
      for (const v of finite) width = Math.max(width, formatExponential(v, precision).length);
    } else {
      for (const v of finite) width = Math.max(width, formatFixed(v, precision).length);
    }
    // A forced mode keeps the width measured for the automatic one (as PyTorch does); with no non-zero
    // finite value at all it is ignored and everything prints as `0.`, `nan`, `inf`.
    if (sciMode !== undefined) sci = sciMode;
  }
  const format = (v: number): string => {
    let s: string;
    if (sci) s = formatExponential(v, precision);
    else if (intMode) s = Number.isFinite(v) ? `${formatFixed(v, 0)}.` : formatFixed(v, 0);
    else s = formatFixed(v, precision);
    return s.padStart(width);
  };
  return { width, format };
}

// ---------------------------------------------------------------------------------------------------------
// Exact decimal formatting of doubles (Python's `{:.Nf}` / `{:.Ne}`: exact value, ties to even)

const BIG_10 = 10n;

function nonFinite(v: number): string {
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

/** |v| as an exact fraction num / den (v finite and non-zero). */
function exactFraction(v: number): [bigint, bigint] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(v));
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biasedExp = hi >>> 20;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biasedExp === 0) {
    exp = -1074;
  } else {
    mant |= 1n << 52n;
    exp = biasedExp - 1075;
  }
  return exp >= 0 ? [mant << BigInt(exp), 1n] : [mant, 1n << BigInt(-exp)];
}

/** num / den rounded to an integer, ties to even. */
function roundHalfEven(num: bigint, den: bigint): bigint {
  const q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) return q + 1n;
  return q;
}

function isNegative(v: number): boolean {
  return v < 0 || Object.is(v, -0);
}

/** Python's `'{:.{p}f}'.format(v)`. */
function formatFixed(v: number, p: number): string {
  if (!Number.isFinite(v)) return nonFinite(v);
  const sign = isNegative(v) ? '-' : '';
  let q = 0n;
  if (v !== 0) {
    const [num, den] = exactFraction(v);
    q = roundHalfEven(num * BIG_10 ** BigInt(p), den);
  }
  if (p === 0) return sign + q.toString();
  const digits = q.toString().padStart(p + 1, '0');
  return `${sign}${digits.slice(0, -p)}.${digits.slice(-p)}`;
}

/** Python's `'{:.{p}e}'.format(v)`. */
function formatExponential(v: number, p: number): string {
  if (!Number.isFinite(v)) return nonFinite(v);
  const sign = isNegative(v) ? '-' : '';
  let q = 0n;
  let k = 0;
  if (v !== 0) {
    const [num, den] = exactFraction(v);
    // k = floor(log10 |v|), estimated then made exact.
    k = Math.floor(Math.log10(Math.abs(v)));
    const below = (e: number): boolean =>
      e >= 0 ? num < den * BIG_10 ** BigInt(e) : num * BIG_10 ** BigInt(-e) < den;
    while (below(k)) k--;
    while (!below(k + 1)) k++;
    const shift = p - k;
    q =
      shift >= 0
        ? roundHalfEven(num * BIG_10 ** BigInt(shift), den)
        : roundHalfEven(num, den * BIG_10 ** BigInt(-shift));
    if (q === BIG_10 ** BigInt(p + 1)) {
      q = BIG_10 ** BigInt(p);
      k++;
    }
  }
  const digits = q.toString().padStart(p + 1, '0');
  const mantissa = p === 0 ? digits : `${digits[0]}.${digits.slice(1)}`;
  const e = Math.abs(k).toString().padStart(2, '0');
  return `${sign}${mantissa}e${k < 0 ? '-' : '+'}${e}`;
}
