/**
 * Stable sort of long lines: a bottom-up merge sort in global memory, one dispatch per level and one
 * thread per element. Each element finds its place in the merged run by rank: its own position in its
 * run plus the number of elements of the partner run that go before it, found by binary search. Ties
 * count as "before" only for elements of the right run, so equal keys keep their input order (stable),
 * and every line is sorted in log2(len) levels of fully parallel work. Keys and original indices are
 * carried in line-major temporaries; the dim is gathered to the innermost position first (copy kernel)
 * and scattered back into the outputs at the end.
 */
import type { DType, TensorView } from '@gradfolio/tensor';
import { type GPUStorage, type GpuContext, WG } from '../context.js';
import { contiguousStrides, numelOf, slot, uniformDecl, wgslType } from '../layout.js';
import { runElementwise } from './elementwise.js';
import { MATH } from './pointwise.js';

function mergeShader(dtype: DType, descending: boolean): string {
  const t = wgslType(dtype);
  // "a goes strictly before b": NaN last ascending, first descending (only f32 has NaN).
  let before: string;
  if (dtype !== 'float32') before = descending ? 'return a > b;' : 'return a < b;';
  else if (descending)
    before = 'let an = isnanf(a); let bn = isnanf(b); return (an && !bn) || (!an && !bn && a > b);';
  else before = 'return !isnanf(a) && (isnanf(b) || a < b);';
  return `${uniformDecl(4)}
@group(0) @binding(1) var<storage, read> kin: array<${t}>;
@group(0) @binding(2) var<storage, read> iin: array<i32>;
@group(0) @binding(3) var<storage, read_write> kout: array<${t}>;
@group(0) @binding(4) var<storage, read_write> iout: array<i32>;
${MATH}
fn before(a: ${t}, b: ${t}) -> bool { ${before} }
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = i32(gid.x + gid.y * nwg.x * ${WG}u);
  if (g >= ${slot(0)}) { return; }
  let len = ${slot(1)};
  let width = ${slot(2)};
  let line = g / len;
  let k = g - line * len;
  let base = line * len;
  let start = (k / (2 * width)) * (2 * width);
  let mid = min(start + width, len);
  let hi = min(start + 2 * width, len);
  let e = kin[g];
  let ei = select(iin[g], k, ${slot(3)} != 0);
  var lo2: i32;
  var hi2: i32;
  var dest: i32;
  if (k < mid) {
    // Left run: after the right run's elements strictly before e.
    lo2 = mid;
    hi2 = hi;
    while (lo2 < hi2) {
      let m = (lo2 + hi2) / 2;
      if (before(kin[base + m], e)) { lo2 = m + 1; } else { hi2 = m; }
    }
    dest = k + (lo2 - mid);
  } else {
    // Right run: after the left run's elements before or tied with e.
    lo2 = start;
    hi2 = mid;
    while (lo2 < hi2) {
      let m = (lo2 + hi2) / 2;
      if (!before(e, kin[base + m])) { lo2 = m + 1; } else { hi2 = m; }
    }
    dest = (k - mid) + lo2;
  }
  kout[base + dest] = e;
  iout[base + dest] = ei;
}`;
}

/** A temporary buffer as a storage handle the copy kernel accepts. */
function tempStorage(ctx: GpuContext, dtype: DType, size: number): GPUStorage {
  const { buffer, bytes } = ctx.acquire(size * 4, false);
  return { buffer, bytes, dtype, size, freed: false };
}

/**
 * Sorts `x` along `dim` into the contiguous outputs `values` and `indices` (int32). @internal
 */
export function mergeSort(
  ctx: GpuContext,
  x: TensorView,
  values: TensorView,
  indices: TensorView,
  dim: number,
  descending: boolean,
): void {
  const len = x.shape[dim]!;
  const total = numelOf(x.shape);
  const restDims = x.shape.map((_, d) => d).filter((d) => d !== dim);
  // Line-major layout [rest..., len] and, for every dim of x, its stride in that layout.
  const lineShape = [...restDims.map((d) => x.shape[d]!), len];
  const lineStrides = contiguousStrides(lineShape);
  const inLayout = x.shape.map((_, d) => (d === dim ? 1 : lineStrides[restDims.indexOf(d)]!));
  const keys = [tempStorage(ctx, x.dtype, total), tempStorage(ctx, x.dtype, total)];
  const idx = [tempStorage(ctx, 'int32', total), tempStorage(ctx, 'int32', total)];
  runElementwise(
    ctx,
    'copy',
    [{ ...x, shape: lineShape, strides: [...restDims.map((d) => x.strides[d]!), x.strides[dim]!] }],
    { handle: keys[0], dtype: x.dtype, shape: lineShape, strides: lineStrides, offset: 0 },
    {},
  );
  const pipeline = ctx.pipeline(`mergesort|${x.dtype}|${descending ? 'd' : 'a'}`, () =>
    mergeShader(x.dtype, descending),
  );
  const enc = ctx.encoder();
  const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
  let from = 0;
  for (let width = 1; width < len; width *= 2) {
    const to = 1 - from;
    ctx.dispatch(
      enc,
      pipeline,
      new Int32Array([total, len, width, width === 1 ? 1 : 0]),
      [
        { buffer: keys[from]!.buffer },
        { buffer: idx[from]!.buffer },
        { buffer: keys[to]!.buffer, write: true },
        { buffer: idx[to]!.buffer, write: true },
      ],
      Math.ceil(total / WG),
      temps,
    );
    from = to;
  }
  ctx.submit(enc, temps);
  runElementwise(
    ctx,
    'copy',
    [{ handle: keys[from], dtype: x.dtype, shape: x.shape, strides: inLayout, offset: 0 }],
    values,
    {},
  );
  runElementwise(
    ctx,
    'copy',
    [{ handle: idx[from], dtype: 'int32', shape: x.shape, strides: inLayout, offset: 0 }],
    indices,
    {},
  );
  // Queue order makes the release safe right after the submits that last read them.
  for (const s of [...keys, ...idx]) ctx.release(s.buffer, s.bytes);
}
