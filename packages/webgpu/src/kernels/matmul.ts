/**
 * Batched `matmul`: a [...batch, M, K] @ b [...batch, K, N] -> out [...batch, M, N] contiguous, with a
 * and b any strided views (transposed, sliced, broadcast batch with stride 0).
 *
 * A tiled kernel: a 16x16 thread workgroup computes a (16*TM)x(16*TN) output tile, staging 32-deep
 * K-slices of a and b in workgroup memory and keeping a TMxTN block of accumulators per thread in
 * registers (threads own rows `ty + 16 i` and columns `tx + 16 j`). TM and TN are 4 for dims above 32
 * (64-wide tiles) and 1 otherwise (plain 16x16 tiles), so small and skinny products do not waste
 * threads. Workgroups are numbered (batch, tile row, tile col) on a 2-D grid, so batch counts are not
 * limited by the 65535 per-dimension dispatch limit.
 */
import type { DType, Kernel } from '@gradfolio/tensor';
import type { GPUStorage, GpuContext } from '../context.js';
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

/** The `matmul` kernel (contract: see the op table). @internal */
export function matmulKernel(ctx: GpuContext): Kernel {
  return (inputs, outputs) => {
    const a = inputs[0]!;
    const b = inputs[1]!;
    const out = outputs[0]!;
    const nd = out.shape.length;
    const m = out.shape[nd - 2]!;
    const n = out.shape[nd - 1]!;
    const k = a.shape[nd - 1]!;
    const batchShape = out.shape.slice(0, nd - 2);
    const batch = numelOf(batchShape);
    if (m * n * batch === 0) return;
    const outBatch = contiguousStrides(batchShape).map((s) => s * m * n);
    const c = coalesce(batchShape, [a.strides.slice(0, nd - 2), b.strides.slice(0, nd - 2), outBatch]);
    const br = c.shape.length;
    const tm = m > 32 ? 4 : 1;
    const tn = n > 32 ? 4 : 1;
    const tilesM = Math.ceil(m / (T * tm));
    const tilesN = Math.ceil(n / (T * tn));
    const total = tilesM * tilesN * batch;
    const key = `matmul|${a.dtype}|b${br}|${tm}x${tn}`;
    const pipeline = ctx.pipeline(key, () => shader(a.dtype, br, tm, tn));
    const u = new Int32Array(HEAD + 3 * br);
    u.set([
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
    ]);
    u.set(c.shape, HEAD);
    u.set(c.strides[0]!, HEAD + br);
    u.set(c.strides[1]!, HEAD + 2 * br);
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
      total,
      temps,
    );
    ctx.submit(enc, temps);
  };
}
