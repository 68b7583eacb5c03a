/**
 * Out-of-range indices on the GPU. A kernel cannot throw, so `gather`, `indexSelect`, `scatter` and
 * `scatterAdd` record the first bad index in the context's error buffer (and read 0 / skip the write);
 * the next `read` of any tensor of the backend raises `INDEX_OUT_OF_RANGE` instead of returning data.
 */

/** Op names by error code - 1 (code 0 means "no error"). @internal */
export const INDEX_OPS = ['gather', 'indexSelect', 'scatter', 'scatterAdd'] as const;

/** The error code of an index op. @internal */
export function errorCode(op: (typeof INDEX_OPS)[number]): number {
  return INDEX_OPS.indexOf(op) + 1;
}

/**
 * WGSL declaring the error record at `binding` and `checkIndex(t, size, dim, code)`, true when `t` is
 * in range; otherwise the first failing thread stores [code, t, dim, size]. @internal
 */
export function errorDecl(binding: number): string {
  return `@group(0) @binding(${binding}) var<storage, read_write> errb: array<atomic<i32>, 4>;
fn checkIndex(t: i32, size: i32, dim: i32, code: i32) -> bool {
  if (t >= 0 && t < size) { return true; }
  if (atomicExchange(&errb[0], code) == 0) {
    atomicStore(&errb[1], t);
    atomicStore(&errb[2], dim);
    atomicStore(&errb[3], size);
  }
  return false;
}`;
}
