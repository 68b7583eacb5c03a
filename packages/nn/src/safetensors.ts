/**
 * Reading and writing the safetensors format (the weight format of Hugging Face and many PyTorch
 * projects), written from the public format description:
 *
 * - 8 bytes: the header length `N` as a little-endian unsigned 64-bit integer;
 * - `N` bytes: a UTF-8 JSON object mapping each tensor name to `{ dtype, shape, data_offsets: [begin, end] }`
 *   (offsets relative to the first byte after the header), plus an optional `"__metadata__"` object of
 *   string to string; writers pad it with spaces so that `8 + N` is a multiple of 8;
 * - the data section: every tensor's elements, row-major, little-endian, back to back.
 *
 * Parsing never trusts the file: a truncated file, an absurd header length, bad UTF-8 or JSON, an unknown
 * dtype, a shape that does not match its byte range, and offsets that overlap, leave gaps or run past the
 * data section all throw a `GradfolioError` with code `'PARSE_ERROR'` (and `details.reason`). The loader
 * copies every tensor into a fresh, aligned typed array, so unaligned data is fine.
 *
 * dtypes: `F32`, `F64`, `I32` and `BOOL` map to gradfolio's `float32`, `float64`, `int32` and `bool`;
 * `F16` and `BF16` are widened to `float32`; `I64`, `U64`, `U32`, `I16`, `U16`, `I8` and `U8` become `int32`,
 * and a value outside the int32 range throws `'UNSUPPORTED'` naming the tensor, the element and the value.
 * The 8-bit float dtypes (`F8_E4M3`, `F8_E5M2`) throw `'UNSUPPORTED'`.
 *
 * @module
 */

import { type DType, GradfolioError, type Tensor, type TypedArray, tensor } from '@gradfolio/tensor';

/** Largest header accepted (the reference implementation's limit): 100 MB. */
const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

/** A safetensors dtype name with its item size. */
const FILE_ITEM_SIZE: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** dtypes of the format that exist but that gradfolio cannot represent. */
const UNSUPPORTED_FILE_DTYPES = new Set(['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);

const TO_FILE_DTYPE: Readonly<Record<DType, string>> = {
  float64: 'F64',
  float32: 'F32',
  int32: 'I32',
  bool: 'BOOL',
};

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Options of {@link saveSafetensors} and {@link saveSafetensorsSync}. */
export interface SaveSafetensorsOptions {
  /** Free-form string metadata stored under `"__metadata__"` (e.g. `{ format: 'pt' }`). */
  metadata?: Readonly<Record<string, string>>;
}

/** Options of {@link loadSafetensors}. */
export interface LoadSafetensorsOptions {
  /** Device of the created tensors; the default device when omitted. */
  device?: string;
}

/** One tensor entry of a parsed safetensors header. */
export interface SafetensorsEntry {
  /** The file's dtype name, e.g. `'F32'`. */
  dtype: string;
  /** The tensor's shape. */
  shape: number[];
  /** `[begin, end)` byte range inside the data section. */
  dataOffsets: [number, number];
}

/** A validated safetensors header, as returned by {@link parseSafetensorsHeader}. */
export interface SafetensorsHeader {
  /** Tensor entries by name, in data-section order. */
  tensors: Record<string, SafetensorsEntry>;
  /** The `"__metadata__"` object (empty when the file has none). */
  metadata: Record<string, string>;
  /** Byte offset of the data section from the start of the file (`8 + N`). */
  dataStart: number;
}

function parseError(message: string, reason: string, extra: Record<string, unknown> = {}): GradfolioError {
  return new GradfolioError('PARSE_ERROR', `loadSafetensors: ${message}`, {
    op: 'loadSafetensors',
    reason,
    ...extra,
  });
}

function asBytes(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  throw new GradfolioError('INVALID_ARGUMENT', 'loadSafetensors: expected a Uint8Array or an ArrayBuffer', {
    op: 'loadSafetensors',
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short, never-throwing description of an arbitrary JSON value for error messages. */
function show(v: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch {
    // e.g. a stack overflow on a pathologically nested value
  }
  if (text === undefined) return typeof v;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Sets an own enumerable property, also for names such as `__proto__`. */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(name: string, raw: unknown, dataLength: number): SafetensorsEntry {
  if (!isPlainObject(raw)) {
    throw parseError(`entry '${name}' must be an object with dtype, shape and data_offsets`, 'bad_entry', {
      tensor: name,
    });
  }
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') {
    throw parseError(`entry '${name}' has no string 'dtype'`, 'bad_entry', { tensor: name });
  }
  if (!(dtype in FILE_ITEM_SIZE) && !UNSUPPORTED_FILE_DTYPES.has(dtype)) {
    throw parseError(
      `entry '${name}' has unknown dtype '${dtype}' (expected one of ${Object.keys(FILE_ITEM_SIZE).join(', ')})`,
      'bad_dtype',
      { tensor: name, dtype },
    );
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
    throw parseError(
      `entry '${name}' has shape ${show(shape)}; a shape must be an array of non-negative integers`,
      'bad_shape',
      { tensor: name },
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
    throw parseError(
      `entry '${name}' has data_offsets ${show(offsets)}; expected [begin, end] of non-negative integers`,
      'bad_offsets',
      { tensor: name },
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) {
    throw parseError(`entry '${name}' has data_offsets [${begin}, ${end}] with begin > end`, 'bad_offsets', {
      tensor: name,
    });
  }
  if (end > dataLength) {
    throw parseError(
      `entry '${name}' has data_offsets [${begin}, ${end}] past the end of the ${dataLength}-byte data section` +
        ' (truncated file?)',
      'offsets_out_of_range',
      { tensor: name, begin, end, dataLength },
    );
  }
  const itemSize = FILE_ITEM_SIZE[dtype];
  if (itemSize !== undefined) {
    let numel = 1;
    for (const d of shape as number[]) numel *= d;
    const expected = numel * itemSize;
    if (!Number.isSafeInteger(expected) || expected !== end - begin) {
      throw parseError(
        `entry '${name}' (${dtype}, shape [${shape.join(', ')}]) needs ${expected} bytes but data_offsets ` +
          `[${begin}, ${end}] span ${end - begin}`,
        'size_mismatch',
        { tensor: name, expected, actual: end - begin },
      );
    }
  }
  return { dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
}

/**
 * Reads and validates the header of a safetensors file without decoding any tensor data. Every check of
 * {@link loadSafetensors} on the layout happens here; use it to list the names, dtypes, shapes and metadata
 * of a file cheaply.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = parseSafetensorsHeader(bytes);
 * Object.keys(tensors); // ['weight', 'bias']
 * ```
 */
export function parseSafetensorsHeader(bytes: Uint8Array | ArrayBuffer): SafetensorsHeader {
  const buf = asBytes(bytes);
  if (buf.byteLength < 8) {
    throw parseError(
      `the file is ${buf.byteLength} bytes, shorter than the 8-byte header length (truncated file)`,
      'truncated_header',
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    throw parseError(
      `the header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`,
      'header_too_large',
      { headerLength: headerLen.toString() },
    );
  }
  const n = Number(headerLen);
  if (8 + n > buf.byteLength) {
    throw parseError(
      `the header length ${n} runs past the end of the ${buf.byteLength}-byte file (truncated header)`,
      'truncated_header',
      { headerLength: n, fileLength: buf.byteLength },
    );
  }
  if (n < 2) throw parseError(`the header length ${n} is too small for a JSON object`, 'bad_json');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
  } catch (cause) {
    throw new GradfolioError(
      'PARSE_ERROR',
      'loadSafetensors: the header is not valid UTF-8',
      {
        op: 'loadSafetensors',
        reason: 'bad_utf8',
      },
      { cause },
    );
  }
  if (!text.startsWith('{')) {
    throw parseError(
      `the header must be a JSON object starting with '{' (got ${show(text.slice(0, 16))})`,
      'bad_json',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new GradfolioError(
      'PARSE_ERROR',
      `loadSafetensors: the header is not valid JSON (${(cause as Error).message})`,
      { op: 'loadSafetensors', reason: 'bad_json' },
      { cause },
    );
  }
  if (!isPlainObject(json)) throw parseError('the header must be a JSON object', 'bad_json');

  const dataStart = 8 + n;
  const dataLength = buf.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<[string, SafetensorsEntry]> = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(raw))
        throw parseError(`'${METADATA_KEY}' must be an object of strings`, 'bad_metadata');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') {
          throw parseError(`'${METADATA_KEY}' value for '${k}' must be a string`, 'bad_metadata', { key: k });
        }
        setOwn(metadata, k, v);
      }
      continue;
    }
    entries.push([name, parseEntry(name, raw, dataLength)]);
  }

  // The data section must be covered exactly: sorted by offset, each tensor starts where the previous ended.
  entries.sort(
    (a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1],
  );
  let cursor = 0;
  let previous: string | undefined;
  for (const [name, entry] of entries) {
    const [begin, end] = entry.dataOffsets;
    if (begin < cursor) {
      throw parseError(
        `entry '${name}' (data_offsets [${begin}, ${end}]) overlaps '${previous}' which ends at ${cursor}`,
        'overlapping_offsets',
        { tensor: name, other: previous },
      );
    }
    if (begin > cursor) {
      throw parseError(
        `bytes [${cursor}, ${begin}) of the data section belong to no tensor (before '${name}')`,
        'offsets_gap',
        { tensor: name },
      );
    }
    cursor = end;
    previous = name;
  }
  if (cursor !== dataLength) {
    throw parseError(
      `the tensors cover ${cursor} bytes but the data section has ${dataLength} (trailing bytes)`,
      'offsets_gap',
      { covered: cursor, dataLength },
    );
  }
  const tensors: Record<string, SafetensorsEntry> = {};
  for (const [name, entry] of entries) setOwn(tensors, name, entry);
  return { tensors, metadata, dataStart };
}

/** Decodes IEEE binary16 bits to a number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function toInt32(name: string, fileDtype: string, value: number | bigint, index: number): number {
  if (value < -2147483648 || value > 2147483647) {
    throw new GradfolioError(
      'UNSUPPORTED',
      `loadSafetensors: tensor '${name}' (${fileDtype}) holds ${value} at flat index ${index}, outside the int32 ` +
        'range that gradfolio integer tensors use',
      { op: 'loadSafetensors', tensor: name, value: value.toString(), index },
    );
  }
  return Number(value);
}

/** Copies (and converts) one tensor's bytes into a fresh, aligned typed array. */
function decode(
  name: string,
  entry: SafetensorsEntry,
  bytes: Uint8Array,
): { data: TypedArray; dtype: DType } {
  const { dtype } = entry;
  const n = bytes.byteLength / (FILE_ITEM_SIZE[dtype] ?? 1);
  // `slice` copies into a new buffer at offset 0, so the typed-array views below are aligned.
  if (LITTLE_ENDIAN_HOST) {
    switch (dtype) {
      case 'F32':
        return { data: new Float32Array(bytes.slice().buffer), dtype: 'float32' };
      case 'F64':
        return { data: new Float64Array(bytes.slice().buffer), dtype: 'float64' };
      case 'I32':
        return { data: new Int32Array(bytes.slice().buffer), dtype: 'int32' };
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return { data: out, dtype: 'float32' };
    }
    case 'F64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return { data: out, dtype: 'float64' };
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToNumber(view.getUint16(2 * i, true));
      return { data: out, dtype: 'float32' };
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return { data: out, dtype: 'float32' };
    }
    case 'BOOL': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[i]! === 0 ? 0 : 1;
      return { data: out, dtype: 'bool' };
    }
  }
  const out = new Int32Array(n);
  switch (dtype) {
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = toInt32(name, dtype, view.getBigInt64(8 * i, true), i);
      break;
    case 'U64':
      for (let i = 0; i < n; i++) out[i] = toInt32(name, dtype, view.getBigUint64(8 * i, true), i);
      break;
    case 'U32':
      for (let i = 0; i < n; i++) out[i] = toInt32(name, dtype, view.getUint32(4 * i, true), i);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case 'U16':
      for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      break;
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = bytes[i]!;
      break;
    default:
      throw new GradfolioError(
        'UNSUPPORTED',
        `loadSafetensors: tensor '${name}' has dtype ${dtype}, which gradfolio cannot represent`,
        { op: 'loadSafetensors', tensor: name, dtype },
      );
  }
  return { data: out, dtype: 'int32' };
}

/**
 * Loads every tensor of a safetensors file (the counterpart of `safetensors.torch.load`). The result is a
 * plain state dict, name to tensor; read the `"__metadata__"` strings with {@link loadSafetensorsMetadata}
 * (or {@link parseSafetensorsHeader}). Throws `'PARSE_ERROR'` for a malformed file and `'UNSUPPORTED'` for
 * an integer outside the int32 range or an 8-bit float dtype.
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(await (await fetch('/model.safetensors')).arrayBuffer());
 * const stateDict = loadSafetensors(bytes);
 * stateDict['weight_ih_l0']!.shape; // [16, 3]
 * ```
 */
export function loadSafetensors(
  bytes: Uint8Array | ArrayBuffer,
  options: LoadSafetensorsOptions = {},
): Record<string, Tensor> {
  const buf = asBytes(bytes);
  const header = parseSafetensorsHeader(buf);
  const out: Record<string, Tensor> = {};
  for (const name of Object.keys(header.tensors).sort()) {
    const entry = header.tensors[name]!;
    const [begin, end] = entry.dataOffsets;
    const { data, dtype } = decode(
      name,
      entry,
      buf.subarray(header.dataStart + begin, header.dataStart + end),
    );
    const flat =
      options.device === undefined
        ? tensor(data, { dtype })
        : tensor(data, { dtype, device: options.device });
    setOwn(out, name, flat.reshape(entry.shape));
  }
  return out;
}

/**
 * The `"__metadata__"` strings of a safetensors file (an empty object when it has none). Validates the
 * whole header like {@link loadSafetensors} but decodes no tensor data.
 *
 * @example
 * ```ts
 * loadSafetensorsMetadata(bytes); // { format: 'pt' }
 * ```
 */
export function loadSafetensorsMetadata(bytes: Uint8Array | ArrayBuffer): Record<string, string> {
  return parseSafetensorsHeader(bytes).metadata;
}

function checkStateDict(stateDict: Readonly<Record<string, Tensor>>, op: string): string[] {
  if (!isPlainObject(stateDict)) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: expected an object mapping names to tensors`, {
      op,
    });
  }
  const names = Object.keys(stateDict);
  for (const name of names) {
    if (name === METADATA_KEY) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${op}: '${METADATA_KEY}' is reserved; pass { metadata }`,
        {
          op,
        },
      );
    }
    const t = stateDict[name] as unknown;
    if (!isPlainObject(t) || typeof (t as { dtype?: unknown }).dtype !== 'string') {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: '${name}' is not a tensor`, { op, tensor: name });
    }
  }
  return names;
}

function checkMetadata(metadata: Readonly<Record<string, string>> | undefined, op: string): void {
  if (metadata === undefined) return;
  if (!isPlainObject(metadata)) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: metadata must be an object of strings`, { op });
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: metadata value for '${k}' must be a string`, {
        op,
        key: k,
      });
    }
  }
}

/**
 * Layout: tensors ordered by item size (largest first, which keeps every tensor aligned because the data
 * section starts at a multiple of 8) and then by name; the header lists `"__metadata__"` first and then the
 * tensors in data order.
 */
function serialize(
  names: readonly string[],
  stateDict: Readonly<Record<string, Tensor>>,
  datas: ReadonlyMap<string, TypedArray>,
  metadata: Readonly<Record<string, string>> | undefined,
): Uint8Array {
  const order = [...names].sort((a, b) => {
    const sa = datas.get(a)!.BYTES_PER_ELEMENT;
    const sb = datas.get(b)!.BYTES_PER_ELEMENT;
    return sb - sa || (a < b ? -1 : a > b ? 1 : 0);
  });
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) setOwn(sorted, k, metadata[k]!);
    setOwn(header, METADATA_KEY, sorted);
  }
  let offset = 0;
  for (const name of order) {
    const t = stateDict[name]!;
    const len = datas.get(name)!.byteLength;
    setOwn(header, name, {
      dtype: TO_FILE_DTYPE[t.dtype],
      shape: [...t.shape],
      data_offsets: [offset, offset + len],
    });
    offset += len;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + padded);
  let pos = 8 + padded;
  for (const name of order) {
    const data = datas.get(name)!;
    if (LITTLE_ENDIAN_HOST || data.BYTES_PER_ELEMENT === 1) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    } else if (data instanceof Float64Array) {
      for (let i = 0; i < data.length; i++) view.setFloat64(pos + 8 * i, data[i]!, true);
    } else if (data instanceof Float32Array) {
      for (let i = 0; i < data.length; i++) view.setFloat32(pos + 4 * i, data[i]!, true);
    } else {
      for (let i = 0; i < data.length; i++) view.setInt32(pos + 4 * i, data[i]!, true);
    }
    pos += data.byteLength;
  }
  return out;
}

/**
 * Serializes a state dict to safetensors bytes (the counterpart of `safetensors.torch.save`). dtypes map
 * `float32 -> F32`, `float64 -> F64`, `int32 -> I32`, `bool -> BOOL`. The output is deterministic: the
 * header is padded with spaces to a multiple of 8 bytes and tensors are laid out by item size, then by
 * name. Reads tensor data with `await t.data()`, so it works on every device.
 *
 * @example
 * ```ts
 * const bytes = await saveSafetensors({ weight: w, bias: b }, { metadata: { format: 'pt' } });
 * await writeFile('model.safetensors', bytes);
 * ```
 */
export async function saveSafetensors(
  stateDict: Readonly<Record<string, Tensor>>,
  options: SaveSafetensorsOptions = {},
): Promise<Uint8Array> {
  const names = checkStateDict(stateDict, 'saveSafetensors');
  checkMetadata(options.metadata, 'saveSafetensors');
  const datas = new Map<string, TypedArray>();
  for (const name of names) datas.set(name, await stateDict[name]!.data());
  return serialize(names, stateDict, datas, options.metadata);
}

/**
 * Synchronous {@link saveSafetensors} for tensors on a backend that reads synchronously (the CPU).
 *
 * @example
 * ```ts
 * const bytes = saveSafetensorsSync({ weight: tensor([1, 2]) });
 * loadSafetensors(bytes).weight!.dataSync(); // Float32Array [1, 2]
 * ```
 */
export function saveSafetensorsSync(
  stateDict: Readonly<Record<string, Tensor>>,
  options: SaveSafetensorsOptions = {},
): Uint8Array {
  const names = checkStateDict(stateDict, 'saveSafetensorsSync');
  checkMetadata(options.metadata, 'saveSafetensorsSync');
  const datas = new Map<string, TypedArray>();
  for (const name of names) datas.set(name, stateDict[name]!.dataSync());
  return serialize(names, stateDict, datas, options.metadata);
}
