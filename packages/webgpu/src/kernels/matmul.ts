/**
 * Batched `matmul`: a [...batch, M, K] @ b [...batch, K, N] -> out [...batch, M, N] contiguous, with a
 * and b any strided views (transposed, sliced, broadcast batch with stride 0). Two shader families;
 * {@link matmulPath} picks one per call.
 *
 * General (`matmul|...`, any view, f32 and int32): a 16x16 thread workgroup computes a
 * (16*TM)x(16*TN) output tile, staging 32-deep K-slices of a and b in workgroup memory and keeping a
 * TMxTN block of accumulators per thread in registers (threads own rows `ty + 16 i` and columns
 * `tx + 16 j`). TM and TN are 4 for dims above 32 (64-wide tiles) and 1 otherwise (plain 16x16 tiles),
 * so small and skinny products do not waste threads.
 *
 * Tiled128 (`matmul128|...`, float32 only): for large products whose operands are each row- or
 * column-major with 16-byte alignment, so every global access is a vec4<f32> (the same buffers bound as
 * array<vec4<f32>>). 256 threads compute a 128x128 tile, each an 8x8 block held as 16 vec4
 * accumulators (rows `4 ty + i` and `64 + 4 ty + i`, column quads `tx` and `16 + tx`, so the inner
 * product reads two vec4 of a and two of b per k from workgroup memory for 64 FMAs). K goes through
 * 16-deep slices (2 x 16 x 128 x 4 bytes = 16 KiB, the portable limit); the next slice is loaded into
 * registers before the current one is multiplied, to hide global latency. Edges cost no branches in
 * the loop: row/column indices are clamped to the last valid one (the garbage only reaches outputs that
 * are not stored) and K overrun is zeroed by a select. Tiles are visited in groups of 8 tile rows so
 * that concurrent workgroups share panels of a and b in cache.
 *
 * Workgroups are numbered (batch, tile) on a 2-D grid, so batch counts are not limited by the 65535
 * per-dimension dispatch limit.
 */
import type { DType, Kernel, TensorView } from '@gradfolio/tensor';
import type { GPUStorage, GpuContext, KernelPipeline } from '../context.js';
import { castExpr, coalesce, contiguousStrides, numelOf, slot, uniformDecl, wgslType } from '../layout.js';

/** Threads per side of a workgroup (16x16 = 256 threads). */
const T = 16;
/** K-slice staged per step: (64 + 64) x 32 x 4 bytes = 16 KiB of workgroup memory at most. */
const BK = 32;

/** Uniform layout: [M, N, K, tilesN, tilesM, total, aOff, aRs, aCs, bOff, bRs, bCs, oOff, batch...]. */
const HEAD = 13;

const accType = (dtype: DType): DType => (dtype === 'float32' ? 'float32' : 'int32');

function shader(dtype: DType, br: number, tm: number, tn: number): string {
  const acc = wgslType(accType(dtype));
  const BM = T * tm;
  const BN = T * tn;
  const bs = (d: number) => slot(HEAD + d);
  const abs = (d: number) => slot(HEAD + br + d);
  const bbs = (d: number) => slot(HEAD + 2 * br + d);
  const total = HEAD + 3 * br;
  const load = (e: string) => castExpr(e, dtype, accType(dtype));
  const decode: string[] = [];
  for (let d = br - 1; d >= 0; d--) {
    const idx = d === 0 ? 'i32(bi)' : `i32(bi % u32(${bs(d)}))`;
    decode.push(`aBase += ${idx} * ${abs(d)}; bBase += ${idx} * ${bbs(d)};`);
    if (d > 0) decode.push(`bi = bi / u32(${bs(d)});`);
  }
  // Each thread stages (BM * BK) / 256 elements of a and (BK * BN) / 256 of b per K-slice.
  const loadA: string[] = [];
  for (let l = 0; l < (BM * BK) / (T * T); l++) {
    loadA.push(`{ let e = lid + ${T * T * l}u; let m = e / ${BK}u; let k = e % ${BK}u;
      let gr = row0 + i32(m); let gk = t + i32(k);
      var v: ${acc} = ${acc}(0);
      if (gr < M && gk < K) { v = ${load(`a[aBase + gr * ${slot(7)} + gk * ${slot(8)}]`)}; }
      As[k][m] = v; }`);
  }
  const loadB: string[] = [];
  for (let l = 0; l < (BK * BN) / (T * T); l++) {
    loadB.push(`{ let e = lid + ${T * T * l}u; let k = e / ${BN}u; let n = e % ${BN}u;
      let gk = t + i32(k); let gc = col0 + i32(n);
      var v: ${acc} = ${acc}(0);
      if (gk < K && gc < N) { v = ${load(`b[bBase + gk * ${slot(10)} + gc * ${slot(11)}]`)}; }
      Bs[k][n] = v; }`);
  }
  const inner: string[] = [];
  for (let i = 0; i < tm; i++) inner.push(`let a${i} = As[kk][ty + ${T * i}u];`);
  for (let j = 0; j < tn; j++) inner.push(`let b${j} = Bs[kk][tx + ${T * j}u];`);
  for (let i = 0; i < tm; i++)
    for (let j = 0; j < tn; j++) inner.push(`c${i}_${j} = c${i}_${j} + a${i} * b${j};`);
  const decl: string[] = [];
  const store: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) {
      decl.push(`var c${i}_${j}: ${acc} = ${acc}(0);`);
      store.push(`{ let r = row0 + i32(ty) + ${T * i}; let c = col0 + i32(tx) + ${T * j};
    if (r < M && c < N) { o[oBase + r * N + c] = ${castExpr(`c${i}_${j}`, accType(dtype), dtype)}; } }`);
    }
  }
  return `${uniformDecl(total)}
@group(0) @binding(1) var<storage, read> a: array<${wgslType(dtype)}>;
@group(0) @binding(2) var<storage, read> b: array<${wgslType(dtype)}>;
@group(0) @binding(3) var<storage, read_write> o: array<${wgslType(dtype)}>;
var<workgroup> As: array<array<${acc}, ${BM}>, ${BK}>;
var<workgroup> Bs: array<array<${acc}, ${BN}>, ${BK}>;
@compute @workgroup_size(${T}, ${T})
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= u32(${slot(5)})) { return; }
  let M = ${slot(0)}; let N = ${slot(1)}; let K = ${slot(2)};
  let tilesN = u32(${slot(3)}); let tilesM = u32(${slot(4)});
  let tnI = w % tilesN; let rest = w / tilesN; let tmI = rest % tilesM;
  var bi = rest / tilesM;
  let oBase = ${slot(12)} + i32(bi) * M * N;
  var aBase = ${slot(6)}; var bBase = ${slot(9)};
  ${decode.join('\n  ')}
  let tx = lid3.x; let ty = lid3.y;
  let row0 = i32(tmI) * ${BM}; let col0 = i32(tnI) * ${BN};
  ${decl.join('\n  ')}
  for (var t = 0; t < K; t += ${BK}) {
    ${loadA.join('\n    ')}
    ${loadB.join('\n    ')}
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      ${inner.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${store.join('\n  ')}
}`;
}

/**
 * Which shader family runs a matmul (see the file head).
 *
 * @example
 * ```ts
 * const path: MatmulPath = matmulPath(a, b, out); // 'tiled128' | 'general'
 * ```
 * @internal
 */
export type MatmulPath = 'tiled128' | 'general';

/**
 * The fields of an operand that decide the path: a kernel's TensorView, or a Tensor.
 *
 * @example
 * ```ts
 * const a: MatmulOperand = { dtype: 'float32', shape: [128, 8], strides: [8, 1], offset: 0 };
 * ```
 * @internal
 */
export type MatmulOperand = Pick<TensorView, 'dtype' | 'shape' | 'strides' | 'offset'>;

/** Output side of the tiled128 kernel's square tile. */
const FT = 128;
/** K-slice depth of the tiled128 kernel: (128 + 128) x 16 x 4 bytes = 16 KiB of workgroup memory. */
const FK = 16;
/** Tile rows visited together (see the file head). */
const GROUP = 8;

/**
 * How an operand [..., R, C] can be read as vec4: 'r' when row-major (column stride 1, vec4 along C),
 * 'c' when column-major (row stride 1, vec4 along R); undefined when neither holds with 16-byte
 * alignment (offset, the other stride, the contiguous extent and the batch strides multiples of 4).
 */
function vec4Layout(v: MatmulOperand): 'r' | 'c' | undefined {
  const nd = v.shape.length;
  const rows = v.shape[nd - 2]!;
  const cols = v.shape[nd - 1]!;
  const rs = v.strides[nd - 2]!;
  const cs = v.strides[nd - 1]!;
  if (v.offset % 4 !== 0) return undefined;
  // Size-1 batch dims are dropped by coalescing, so their strides do not matter.
  for (let d = 0; d < nd - 2; d++) if (v.shape[d]! > 1 && v.strides[d]! % 4 !== 0) return undefined;
  if (cs === 1 && rs % 4 === 0 && cols % 4 === 0) return 'r';
  if (rs === 1 && cs % 4 === 0 && rows % 4 === 0) return 'c';
  return undefined;
}

/**
 * The shader family `matmul` uses for a [...batch, M, K] @ b [...batch, K, N] (batch dims already
 * broadcast, as kernels receive them) into a contiguous `out`: 'tiled128' for float32 with M, N >= 128,
 * K >= 1, each operand row- or column-major with 16-byte aligned rows/columns (see the file head), and
 * N and the output offset multiples of 4 (vec4 stores); 'general' otherwise.
 *
 * @example
 * ```ts
 * const x = randn([256, 512]);
 * matmulPath(x, x.T, { shape: [256, 256], offset: 0 }); // 'tiled128'
 * matmulPath(x.narrow(1, 1, 128), x.T.narrow(0, 1, 128), { shape: [256, 256], offset: 0 }); // 'general'
 * ```
 * @internal
 */
export function matmulPath(
  a: MatmulOperand,
  b: MatmulOperand,
  out: Pick<TensorView, 'shape' | 'offset'>,
): MatmulPath {
  const nd = out.shape.length;
  const m = out.shape[nd - 2]!;
  const n = out.shape[nd - 1]!;
  const k = a.shape[nd - 1]!;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return 'general';
  if (m < FT || n < FT || k < 1 || n % 4 !== 0 || out.offset % 4 !== 0) return 'general';
  return vec4Layout(a) !== undefined && vec4Layout(b) !== undefined ? 'tiled128' : 'general';
}

/**
 * Uniform layout of the tiled128 shader, offsets and strides in vec4 units:
 * [M, N, K, tilesN, tilesM, total, aOff, aS, bOff, bS, oOff, batch..., a batch strides..., b batch strides...].
 */
const FHEAD = 11;

/**
 * The tiled128 shader for a and b layouts `la`, `lb` ('r' row-major, 'c' column-major) and `br`
 * coalesced batch dims. aS / bS are the non-unit strides of a and b divided by 4.
 */
function fastShader(la: 'r' | 'c', lb: 'r' | 'c', br: number): string {
  const bs = (d: number) => slot(FHEAD + d);
  const abs = (d: number) => slot(FHEAD + br + d);
  const bbs = (d: number) => slot(FHEAD + 2 * br + d);
  const decode: string[] = [];
  for (let d = br - 1; d >= 0; d--) {
    const idx = d === 0 ? 'i32(bi)' : `i32(bi % u32(${bs(d)}))`;
    decode.push(`aBase += ${idx} * ${abs(d)}; bBase += ${idx} * ${bbs(d)};`);
    if (d > 0) decode.push(`bi = bi / u32(${bs(d)});`);
  }
  // Each thread moves 2 vec4 of a and 2 of b per slice (128 x 16 floats each = 512 vec4 / 256 threads).
  // Per-thread constants (`pre`) are hoisted out of the K loop; `ldA`/`ldB` read slice t into registers
  // ra*/rb*, `st` writes them to workgroup memory (As/Bs are [k][quad of 4 rows/cols] of vec4).
  const pre: string[] = [];
  const ldA: string[] = [];
  const ldB: string[] = [];
  const st: string[] = [];
  for (let l = 0; l < 2; l++) {
    if (la === 'r') {
      // vec4 along K: thread takes row m = e / 4, k-quad e % 4; the store transposes it into As.
      pre.push(`let am${l} = (lid + ${256 * l}u) >> 2u; let akq${l} = i32(lid & 3u);
  let arow${l} = aBase + min(row0 + i32(am${l}), M - 1) * aS;`);
      ldA.push(
        `ra${l} = select(vec4<f32>(0.0), a[arow${l} + min(t4 + akq${l}, K4 - 1)], t + 4 * akq${l} < K);`,
      );
      for (let c = 0; c < 4; c++) {
        st.push(`As[(4u * u32(akq${l}) + ${c}u) * 32u + (am${l} >> 2u)][am${l} & 3u] = ra${l}[${c}];`);
      }
    } else {
      // vec4 along M: thread takes k = e / 32, row quad e % 32.
      pre.push(`let ak${l} = i32(lid >> 5u) + ${8 * l}; let amq${l} = lid & 31u;
  let acol${l} = aBase + min(row0 / 4 + i32(amq${l}), M4 - 1);`);
      ldA.push(`ra${l} = select(vec4<f32>(0.0), a[acol${l} + min(t + ak${l}, K - 1) * aS], t + ak${l} < K);`);
      st.push(`As[u32(ak${l}) * 32u + amq${l}] = ra${l};`);
    }
    if (lb === 'r') {
      // vec4 along N: thread takes k = e / 32, column quad e % 32.
      pre.push(`let bk${l} = i32(lid >> 5u) + ${8 * l}; let bnq${l} = lid & 31u;
  let bcol${l} = bBase + min(col0 / 4 + i32(bnq${l}), N4 - 1);`);
      ldB.push(`rb${l} = select(vec4<f32>(0.0), b[bcol${l} + min(t + bk${l}, K - 1) * bS], t + bk${l} < K);`);
      st.push(`Bs[u32(bk${l}) * 32u + bnq${l}] = rb${l};`);
    } else {
      // vec4 along K: thread takes column n = e / 4, k-quad e % 4.
      pre.push(`let bn${l} = (lid + ${256 * l}u) >> 2u; let bkq${l} = i32(lid & 3u);
  let brow${l} = bBase + min(col0 + i32(bn${l}), N - 1) * bS;`);
      ldB.push(
        `rb${l} = select(vec4<f32>(0.0), b[brow${l} + min(t4 + bkq${l}, K4 - 1)], t + 4 * bkq${l} < K);`,
      );
      for (let c = 0; c < 4; c++) {
        st.push(`Bs[(4u * u32(bkq${l}) + ${c}u) * 32u + (bn${l} >> 2u)][bn${l} & 3u] = rb${l}[${c}];`);
      }
    }
  }
  const comps = ['x', 'y', 'z', 'w'];
  const inner: string[] = [];
  for (let kk = 0; kk < FK; kk++) {
    inner.push(`{ let a0 = As[${kk * 32}u + ty]; let a1 = As[${kk * 32 + 16}u + ty];
      let b0 = Bs[${kk * 32}u + tx]; let b1 = Bs[${kk * 32 + 16}u + tx];`);
    for (let i = 0; i < 8; i++) {
      const av = `a${i >> 2}.${comps[i & 3]}`;
      inner.push(`c${i}_0 += ${av} * b0; c${i}_1 += ${av} * b1;`);
    }
    inner.push('}');
  }
  const decl: string[] = [];
  const store: string[] = [];
  for (let i = 0; i < 8; i++) {
    decl.push(`var c${i}_0 = vec4<f32>(0.0); var c${i}_1 = vec4<f32>(0.0);`);
    const r = `row0 + ${i < 4 ? 0 : 64} + 4 * i32(ty) + ${i & 3}`;
    store.push(`{ let r = ${r};
    if (r < M) { let rb = oBase + r * N4;
      if (cq0 < N4) { o[rb + cq0] = c${i}_0; }
      if (cq1 < N4) { o[rb + cq1] = c${i}_1; } } }`);
  }
  return `${uniformDecl(FHEAD + 3 * br)}
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> o: array<vec4<f32>>;
var<workgroup> As: array<vec4<f32>, ${(FK * FT) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(FK * FT) / 4}>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= u32(${slot(5)})) { return; }
  let M = ${slot(0)}; let N = ${slot(1)}; let K = ${slot(2)};
  let M4 = M / 4; let N4 = N / 4; let K4 = K / 4;
  let tilesN = u32(${slot(3)}); let tilesM = u32(${slot(4)});
  let aS = ${slot(7)}; let bS = ${slot(9)};
  let perBatch = tilesM * tilesN;
  var bi = w / perBatch;
  // Grouped order: ${GROUP} tile rows at a time, column by column within the group.
  let tile = w % perBatch;
  let inGroup = ${GROUP}u * tilesN;
  let firstM = (tile / inGroup) * ${GROUP}u;
  let groupM = min(tilesM - firstM, ${GROUP}u);
  let tmI = firstM + (tile % inGroup) % groupM;
  let tnI = (tile % inGroup) / groupM;
  let oBase = ${slot(10)} + i32(bi) * M * N4;
  var aBase = ${slot(6)}; var bBase = ${slot(8)};
  ${decode.join('\n  ')}
  let tx = lid & 15u; let ty = lid >> 4u;
  let row0 = i32(tmI) * ${FT}; let col0 = i32(tnI) * ${FT};
  ${pre.join('\n  ')}
  ${decl.join('\n  ')}
  var ra0: vec4<f32>; var ra1: vec4<f32>; var rb0: vec4<f32>; var rb1: vec4<f32>;
  var t = 0; var t4 = 0;
  ${ldA.join('\n  ')}
  ${ldB.join('\n  ')}
  loop {
    ${st.join('\n    ')}
    workgroupBarrier();
    // Issue the next slice's global loads before this slice's math.
    t += ${FK}; t4 += ${FK / 4};
    if (t < K) {
      ${ldA.join('\n      ')}
      ${ldB.join('\n      ')}
    }
    ${inner.join('\n    ')}
    workgroupBarrier();
    if (t >= K) { break; }
  }
  let cq0 = col0 / 4 + i32(tx); let cq1 = cq0 + 16;
  ${store.join('\n  ')}
}`;
}

/** The dims of a product `out = a @ b` and its batch dims, coalesced over a, b and the output. */
function geometry(a: TensorView, b: TensorView, out: TensorView) {
  const nd = out.shape.length;
  const m = out.shape[nd - 2]!;
  const n = out.shape[nd - 1]!;
  const batchShape = out.shape.slice(0, nd - 2);
  const outBatch = contiguousStrides(batchShape).map((s) => s * m * n);
  const c = coalesce(batchShape, [a.strides.slice(0, nd - 2), b.strides.slice(0, nd - 2), outBatch]);
  return { nd, m, n, k: a.shape[nd - 1]!, batch: numelOf(batchShape), c };
}

/**
 * Records one product dispatch: uniforms are `head`, then the coalesced batch shape and a's and b's
 * batch strides (divided by `unit`: 4 when the shader addresses vec4s).
 */
function record(
  ctx: GpuContext,
  pipeline: KernelPipeline,
  head: readonly number[],
  c: { shape: number[]; strides: number[][] },
  unit: number,
  a: TensorView,
  b: TensorView,
  out: TensorView,
  workgroups: number,
): void {
  const br = c.shape.length;
  const u = new Int32Array(head.length + 3 * br);
  u.set(head);
  u.set(c.shape, head.length);
  u.set(
    c.strides[0]!.map((s) => s / unit),
    head.length + br,
  );
  u.set(
    c.strides[1]!.map((s) => s / unit),
    head.length + 2 * br,
  );
  const enc = ctx.encoder();
  const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
  ctx.dispatch(
    enc,
    pipeline,
    u,
    [
      { buffer: (a.handle as GPUStorage).buffer },
      { buffer: (b.handle as GPUStorage).buffer },
      { buffer: (out.handle as GPUStorage).buffer, write: true },
    ],
    workgroups,
    temps,
  );
  ctx.submit(enc, temps);
}

/** The tiled128 path (see `matmulPath`): float32, vec4 operands. */
function runFast(ctx: GpuContext, a: TensorView, b: TensorView, out: TensorView): void {
  const { nd, m, n, k, batch, c } = geometry(a, b, out);
  const la = vec4Layout(a)!;
  const lb = vec4Layout(b)!;
  const br = c.shape.length;
  const tilesM = Math.ceil(m / FT);
  const tilesN = Math.ceil(n / FT);
  const total = tilesM * tilesN * batch;
  const pipeline = ctx.pipeline(`matmul128|float32|b${br}|${la}${lb}`, () => fastShader(la, lb, br));
  const q = (x: number) => x / 4; // exact: matmulPath checked divisibility
  const head = [
    m,
    n,
    k,
    tilesN,
    tilesM,
    total,
    q(a.offset),
    q(la === 'r' ? a.strides[nd - 2]! : a.strides[nd - 1]!),
    q(b.offset),
    q(lb === 'r' ? b.strides[nd - 2]! : b.strides[nd - 1]!),
    q(out.offset),
  ];
  record(ctx, pipeline, head, c, 4, a, b, out, total);
}

/** The `matmul` kernel (contract: see the op table). @internal */
export function matmulKernel(ctx: GpuContext): Kernel {
  return (inputs, outputs) => {
    const a = inputs[0]!;
    const b = inputs[1]!;
    const out = outputs[0]!;
    const { nd, m, n, k, batch, c } = geometry(a, b, out);
    if (m * n * batch === 0) return;
    if (matmulPath(a, b, out) === 'tiled128') {
      runFast(ctx, a, b, out);
      return;
    }
    const br = c.shape.length;
    const tm = m > 32 ? 4 : 1;
    const tn = n > 32 ? 4 : 1;
    const tilesM = Math.ceil(m / (T * tm));
    const tilesN = Math.ceil(n / (T * tn));
    const total = tilesM * tilesN * batch;
    const pipeline = ctx.pipeline(`matmul|${a.dtype}|b${br}|${tm}x${tn}`, () => shader(a.dtype, br, tm, tn));
    const head = [
      m,
      n,
      k,
      tilesN,
      tilesM,
      total,
      a.offset,
      a.strides[nd - 2]!,
      a.strides[nd - 1]!,
      b.offset,
      b.strides[nd - 2]!,
      b.strides[nd - 1]!,
      out.offset,
    ];
    record(ctx, pipeline, head, c, 1, a, b, out, total);
  };
}
