import { readFileSync } from 'node:fs';
import { GradfolioError, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { LSTM } from '../src/rnn.js';
import {
  loadSafetensors,
  loadSafetensorsMetadata,
  parseSafetensorsHeader,
  saveSafetensors,
  saveSafetensorsSync,
} from '../src/safetensors.js';

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
const fixtureJson = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;

function expectCode(fn: () => unknown, code: string, message?: RegExp): GradfolioError {
  try {
    fn();
  } catch (e) {
    expect(GradfolioError.isInstance(e)).toBe(true);
    const err = e as GradfolioError;
    expect(err.code).toBe(code);
    if (message !== undefined) expect(err.message).toMatch(message);
    return err;
  }
  throw new Error('expected a throw');
}

function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

function fileOf(header: string | Uint8Array, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  out.set(u64(headerLength ?? BigInt(h.byteLength)), 0);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}

describe('saveSafetensors / loadSafetensors round trip', () => {
  const dict = (): Record<string, Tensor> => ({
    w64: tensor(new Float64Array([1.5, -2.25, Math.PI, 1e300, -0, Number.NaN]), { dtype: 'float64' }).reshape(
      2,
      3,
    ),
    w32: tensor(new Float32Array([0.1, -7, Number.POSITIVE_INFINITY, 3]), { dtype: 'float32' }).reshape(
      2,
      1,
      2,
    ),
    idx: tensor(new Int32Array([-2147483648, 2147483647, 0]), { dtype: 'int32' }),
    mask: tensor(new Uint8Array([1, 0, 0, 1, 1]), { dtype: 'bool' }),
    scalar: tensor(new Float32Array([4.5]), { dtype: 'float32' }).reshape([]),
    empty: tensor(new Float32Array(0), { dtype: 'float32' }).reshape(0, 3),
  });

  it('keeps every dtype, shape and value (async and sync)', async () => {
    const d = dict();
    const bytes = await saveSafetensors(d, { metadata: { format: 'pt', note: 'hi' } });
    expect(saveSafetensorsSync(d, { metadata: { format: 'pt', note: 'hi' } })).toEqual(bytes);
    const back = loadSafetensors(bytes);
    expect(Object.keys(back).sort()).toEqual(Object.keys(d).sort());
    for (const [name, t] of Object.entries(d)) {
      const u = back[name]!;
      expect(u.dtype).toBe(t.dtype);
      expect(u.shape).toEqual(t.shape);
      expect(Array.from(u.dataSync())).toEqual(Array.from(t.dataSync()));
    }
    expect(loadSafetensorsMetadata(bytes)).toEqual({ format: 'pt', note: 'hi' });
    expect(loadSafetensorsMetadata(saveSafetensorsSync({ a: tensor([1]) }))).toEqual({});
  });

  it('writes a deterministic, space-padded, aligned layout', () => {
    const bytes = saveSafetensorsSync(dict());
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const { tensors } = parseSafetensorsHeader(bytes);
    // Largest item size first, then by name; every tensor starts on a multiple of its item size.
    expect(Object.keys(tensors)).toEqual(['w64', 'empty', 'idx', 'scalar', 'w32', 'mask']);
    const size: Record<string, number> = { F64: 8, F32: 4, I32: 4, BOOL: 1 };
    for (const e of Object.values(tensors)) expect((n + 8 + e.dataOffsets[0]) % size[e.dtype]!).toBe(0);
    expect(tensors.w64!.dataOffsets).toEqual([0, 48]);
    expect(tensors.w64!.dtype).toBe('F64');
    expect(tensors.mask!.dtype).toBe('BOOL');
    // Insertion order of the state dict does not matter.
    const reversed = Object.fromEntries(Object.entries(dict()).reverse());
    expect(saveSafetensorsSync(reversed)).toEqual(bytes);
  });

  it('accepts an ArrayBuffer and unaligned data, and a non-contiguous tensor', () => {
    const t = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { dtype: 'float32' })
      .reshape(2, 3)
      .transpose(0, 1);
    const bytes = saveSafetensorsSync({ t, b: tensor(new Uint8Array([1]), { dtype: 'bool' }) });
    // Shift the whole file by one byte so every typed view would be misaligned.
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    const back = loadSafetensors(shifted.subarray(1));
    expect(back.t!.shape).toEqual([3, 2]);
    expect(Array.from(back.t!.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
    const fromBuffer = loadSafetensors(bytes.slice().buffer);
    expect(Array.from(fromBuffer.t!.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('treats names such as __proto__ as plain names', () => {
    const d: Record<string, Tensor> = { constructor: tensor([3]) };
    Object.defineProperty(d, '__proto__', { value: tensor([1, 2]), enumerable: true });
    const metadata: Record<string, string> = {};
    Object.defineProperty(metadata, '__proto__', { value: 'x', enumerable: true });
    const bytes = saveSafetensorsSync(d, { metadata });
    const back = loadSafetensors(bytes);
    const meta = loadSafetensorsMetadata(bytes);
    expect(Object.getOwnPropertyDescriptor(meta, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(meta)).toBe(Object.prototype);
    expect(Object.keys(back).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Array.from(Object.getOwnPropertyDescriptor(back, '__proto__')!.value.dataSync())).toEqual([1, 2]);
  });

  it('rejects bad arguments to save', () => {
    expectCode(() => saveSafetensorsSync({ __metadata__: tensor([1]) }), 'INVALID_ARGUMENT', /reserved/);
    expectCode(
      () => saveSafetensorsSync({ a: 3 as unknown as Tensor }),
      'INVALID_ARGUMENT',
      /'a' is not a tensor/,
    );
    expectCode(
      () => saveSafetensorsSync({ a: tensor([1]) }, { metadata: { n: 3 as unknown as string } }),
      'INVALID_ARGUMENT',
    );
  });
});

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
}

describe('files written by PyTorch (fixtures/gen_safetensors.py)', () => {
  it('loads a dict of every dtype', () => {
    const bytes = fixture('st_mixed.safetensors');
    const expected = fixtureJson<Record<string, Expected>>('st_mixed.json');
    const loaded = loadSafetensors(bytes);
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(expected).sort());
    const gfDtype: Record<string, string> = {
      F64: 'float64',
      F32: 'float32',
      F16: 'float32',
      BF16: 'float32',
      I64: 'int32',
      I32: 'int32',
      I16: 'int32',
      I8: 'int32',
      U8: 'int32',
      BOOL: 'bool',
    };
    for (const [name, exp] of Object.entries(expected)) {
      const t = loaded[name]!;
      expect(t.dtype, name).toBe(gfDtype[exp.dtype]);
      expect(t.shape, name).toEqual(exp.shape);
      // Every value is exactly representable in the loaded dtype, so the comparison is exact.
      expect(Array.from(t.dataSync()), name).toEqual(exp.values);
    }
    expect(loadSafetensorsMetadata(bytes)).toEqual({ format: 'pt', source: 'gen_safetensors.py' });
  });

  it('reproduces a PyTorch nn.LSTM(3, 4, num_layers=2) from its saved weights', () => {
    interface Arr {
      shape: number[];
      values: number[];
    }
    const ref = fixtureJson<Record<'x' | 'h0' | 'c0' | 'output' | 'hn' | 'cn', Arr> & { keys: string[] }>(
      'st_lstm.json',
    );
    const sd = loadSafetensors(fixture('st_lstm.safetensors'));
    expect(Object.keys(sd).sort()).toEqual(ref.keys);
    expect(sd.weight_ih_l0!.shape).toEqual([16, 3]);
    expect(sd.weight_hh_l1!.shape).toEqual([16, 4]);
    const t = (a: Arr): Tensor => tensor(new Float32Array(a.values), { dtype: 'float32' }).reshape(a.shape);
    const x = t(ref.x);
    const h0 = t(ref.h0);
    const c0 = t(ref.c0);
    const [seq, batch] = x.shape as [number, number, number];
    const hidden = 4;

    // Reference LSTM with PyTorch's formulas; gates stacked as i, f, g, o.
    let inputs: Tensor[] = [];
    for (let s = 0; s < seq; s++) inputs.push(x.narrow(0, s, 1).reshape(batch, 3));
    const hn: number[] = [];
    const cn: number[] = [];
    for (let layer = 0; layer < 2; layer++) {
      const wIh = sd[`weight_ih_l${layer}`]!;
      const wHh = sd[`weight_hh_l${layer}`]!;
      const bias = sd[`bias_ih_l${layer}`]!.add(sd[`bias_hh_l${layer}`]!);
      let h = h0.narrow(0, layer, 1).reshape(batch, hidden);
      let c = c0.narrow(0, layer, 1).reshape(batch, hidden);
      const outputs: Tensor[] = [];
      for (const xt of inputs) {
        const gates = xt.matmul(wIh.T).add(h.matmul(wHh.T)).add(bias);
        const [gi, gf, gg, go] = gates.chunk(4, 1) as [Tensor, Tensor, Tensor, Tensor];
        c = gf.sigmoid().mul(c).add(gi.sigmoid().mul(gg.tanh()));
        h = go.sigmoid().mul(c.tanh());
        outputs.push(h);
      }
      hn.push(...h.dataSync());
      cn.push(...c.dataSync());
      inputs = outputs;
    }
    const output = inputs.flatMap((o) => Array.from(o.dataSync()));
    const close = (actual: number[], expected: number[]): void => {
      expect(actual.length).toBe(expected.length);
      for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(1e-6);
    };
    close(output, ref.output.values);
    close(hn, ref.hn.values);
    close(cn, ref.cn.values);

    // The same file loaded into gradfolio's LSTM module (PyTorch's parameter names) gives the same outputs.
    const lstm = new LSTM(3, 4, { numLayers: 2 });
    const result = lstm.loadStateDict(sd);
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const [out2, [hN2, cN2]] = lstm.call(x, [h0, c0]);
    close(Array.from(out2.dataSync()), ref.output.values);
    close(Array.from(hN2.dataSync()), ref.hn.values);
    close(Array.from(cN2.dataSync()), ref.cn.values);
  });
});

describe('malformed files', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['truncated_header', 'truncated_header', /shorter than the 8-byte header length/],
    ['truncated_header_json', 'truncated_header', /runs past the end/],
    ['truncated_data', 'offsets_out_of_range', /past the end of the 13-byte data section/],
    ['header_len_past_eof', 'truncated_header', /header length 4096 runs past the end/],
    ['header_len_absurd', 'header_too_large', /1152921504606846976 exceeds/],
    ['bad_json', 'bad_json', /not valid JSON/],
    ['not_an_object', 'bad_json', /JSON object/],
    ['bad_utf8', 'bad_utf8', /UTF-8/],
    ['wrong_dtype', 'bad_dtype', /unknown dtype 'F33'/],
    ['size_mismatch', 'size_mismatch', /needs 12 bytes but data_offsets \[0, 16\] span 16/],
    ['overlapping_offsets', 'overlapping_offsets', /'b' .* overlaps 'a'/],
    ['gap_in_offsets', 'offsets_gap', /bytes \[0, 4\) of the data section belong to no tensor/],
    ['out_of_range_offsets', 'offsets_out_of_range', /\[0, 32\] past the end/],
    ['non_integer_shape', 'bad_shape', /\[2\.5,2\]/],
    ['negative_shape', 'bad_shape', /non-negative integers/],
    ['bad_metadata', 'bad_metadata', /'n' must be a string/],
    ['missing_offsets', 'bad_offsets', /data_offsets undefined/],
  ];
  for (const [file, reason, message] of cases) {
    it(`${file} -> PARSE_ERROR (${reason})`, () => {
      const bytes = fixture(`st_bad/${file}.safetensors`);
      const err = expectCode(() => loadSafetensors(bytes), 'PARSE_ERROR', message);
      expect(err.details.reason).toBe(reason);
      expectCode(() => parseSafetensorsHeader(bytes), 'PARSE_ERROR');
    });
  }

  it('an I64 value outside int32 names the tensor and the value', () => {
    const err = expectCode(
      () => loadSafetensors(fixture('st_bad/i64_out_of_int32_range.safetensors')),
      'UNSUPPORTED',
      /tensor 'a' \(I64\) holds 1099511627776 at flat index 1/,
    );
    expect(err.details.value).toBe('1099511627776');
  });

  it('every truncation of a valid file throws PARSE_ERROR, never a crash', () => {
    const bytes = fixture('st_mixed.safetensors');
    for (let len = 0; len < bytes.byteLength; len++) {
      expectCode(() => loadSafetensors(bytes.subarray(0, len)), 'PARSE_ERROR');
    }
  });

  it('rejects more layouts built in memory', () => {
    const data = new Uint8Array(8);
    const entry = (o: unknown) => JSON.stringify({ a: o });
    expectCode(() => loadSafetensors(fileOf('{}', data)), 'PARSE_ERROR', /trailing bytes/);
    expectCode(() => loadSafetensors(fileOf('', data)), 'PARSE_ERROR', /too small/);
    expectCode(() => loadSafetensors(fileOf(' {}', new Uint8Array(0))), 'PARSE_ERROR', /starting with '\{'/);
    expectCode(() => loadSafetensors(fileOf('{"a": 1}', data)), 'PARSE_ERROR', /must be an object/);
    expectCode(
      () => loadSafetensors(fileOf(entry({ dtype: 'F32', shape: [2], data_offsets: [8, 0] }), data)),
      'PARSE_ERROR',
      /begin > end/,
    );
    expectCode(
      () => loadSafetensors(fileOf(entry({ dtype: 'F32', shape: [2], data_offsets: [0, 8, 9] }), data)),
      'PARSE_ERROR',
      /expected \[begin, end\]/,
    );
    expectCode(
      () =>
        loadSafetensors(
          fileOf(entry({ dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] }), data),
        ),
      'PARSE_ERROR',
      /needs/,
    );
    expectCode(
      () => loadSafetensors(fileOf(entry({ dtype: 'F32', shape: '2', data_offsets: [0, 8] }), data)),
      'PARSE_ERROR',
      /shape "2"/,
    );
    expectCode(
      () => loadSafetensors(fileOf(entry({ dtype: 7, shape: [2], data_offsets: [0, 8] }), data)),
      'PARSE_ERROR',
      /no string 'dtype'/,
    );
    expectCode(() => loadSafetensors(fileOf('{"__metadata__": [1]}', new Uint8Array(0))), 'PARSE_ERROR');
    // Header length just over the limit but smaller than 2^32 still fails fast.
    expectCode(
      () => loadSafetensors(fileOf('{}', new Uint8Array(0), 100_000_001n)),
      'PARSE_ERROR',
      /100000000-byte limit/,
    );
    // A known-but-unsupported dtype.
    expectCode(
      () => loadSafetensors(fileOf(entry({ dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] }), data)),
      'UNSUPPORTED',
      /F8_E4M3/,
    );
    expectCode(() => loadSafetensors('nope' as unknown as Uint8Array), 'INVALID_ARGUMENT');
    // Pathologically nested JSON: a coded error, not a stack overflow.
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expectCode(
      () =>
        loadSafetensors(fileOf(`{"a": {"dtype": "F32", "shape": ${deep}, "data_offsets": [0, 8]}}`, data)),
      'PARSE_ERROR',
      /bad|shape/,
    );
  });

  it('reads U8 / I16 / U16 / U32 / U64 in range and checks U32 and U64', () => {
    const mk = (dtype: string, bytes: number[]) => fileOf(entry2(dtype, bytes.length), new Uint8Array(bytes));
    const entry2 = (dtype: string, len: number) => {
      const size = { U16: 2, U32: 4, U64: 8 }[dtype] ?? 1;
      return JSON.stringify({ a: { dtype, shape: [len / size], data_offsets: [0, len] } });
    };
    expect(Array.from(loadSafetensors(mk('U16', [0xff, 0xff, 1, 0])).a!.dataSync())).toEqual([65535, 1]);
    expect(Array.from(loadSafetensors(mk('U32', [5, 0, 0, 0])).a!.dataSync())).toEqual([5]);
    expectCode(() => loadSafetensors(mk('U32', [0, 0, 0, 0x80])), 'UNSUPPORTED', /2147483648/);
    expect(Array.from(loadSafetensors(mk('U64', [9, 0, 0, 0, 0, 0, 0, 0])).a!.dataSync())).toEqual([9]);
    expectCode(() => loadSafetensors(mk('U64', [0, 0, 0, 0, 0, 0, 0, 1])), 'UNSUPPORTED', /U64/);
  });
});
