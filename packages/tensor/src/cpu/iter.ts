/**
 * Strided N-d iteration for CPU kernels. Dims are coalesced first (size-1 dims dropped, dims merged
 * where every operand is contiguous across them), so most calls run one tight inner loop.
 */

/**
 * A coalesced iteration plan over `k` operands (exported as `coalesceDims` for backends).
 *
 * @example
 * ```ts
 * coalesceDims([2, 3], [[3, 1], [3, 1]]).shape; // [6]: one flat loop
 * ```
 */
export interface Plan {
  /** Sizes of the coalesced dims, outermost first; the last one is the inner loop. */
  readonly shape: number[];
  /** strides[op][dim] for each operand. */
  readonly strides: number[][];
}

/**
 * Coalesces `shape` with per-operand `strides`: drops size-1 dims and merges dims that every operand
 * walks contiguously, so kernels loop over as few dims as possible.
 *
 * @example
 * ```ts
 * coalesceDims([2, 3], [[3, 1], [0, 1]]); // { shape: [2, 3], strides: [[3, 1], [0, 1]] }
 * ```
 */
export function plan(shape: readonly number[], strides: ReadonlyArray<readonly number[]>): Plan {
  const k = strides.length;
  const outShape: number[] = [];
  const outStrides: number[][] = Array.from({ length: k }, () => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0) {
      let mergeable = true;
      for (let o = 0; o < k; o++) {
        if (outStrides[o]![last] !== strides[o]![d]! * size) {
          mergeable = false;
          break;
        }
      }
      if (mergeable) {
        outShape[last] = outShape[last]! * size;
        for (let o = 0; o < k; o++) outStrides[o]![last] = strides[o]![d]!;
        continue;
      }
    }
    outShape.push(size);
    for (let o = 0; o < k; o++) outStrides[o]!.push(strides[o]![d]!);
  }
  if (outShape.length === 0) {
    outShape.push(1);
    for (let o = 0; o < k; o++) outStrides[o]!.push(0);
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * Calls `row(offsets, n)` once per inner row of the plan; `offsets[o]` is operand o's element offset
 * at the row start. `offsets` is reused between calls (copy it if you keep it).
 *
 * @example
 * ```ts
 * forEachRow(coalesceDims([2, 3], [[3, 1]]), [0], (off, n) => console.log(off[0], n)); // 0 6
 * ```
 */
export function forEachRow(
  p: Plan,
  base: readonly number[],
  row: (offsets: number[], n: number) => void,
): void {
  const nd = p.shape.length;
  const k = p.strides.length;
  const n = p.shape[nd - 1]!;
  if (n === 0) return;
  const offsets = base.slice();
  if (nd === 1) {
    row(offsets, n);
    return;
  }
  let rows = 1;
  for (let d = 0; d < nd - 1; d++) rows *= p.shape[d]!;
  if (rows === 0) return;
  const idx = new Array<number>(nd - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    row(offsets, n);
    // Odometer increment over the outer dims, updating offsets incrementally.
    for (let d = nd - 2; d >= 0; d--) {
      const size = p.shape[d]!;
      if (++idx[d]! < size) {
        for (let o = 0; o < k; o++) offsets[o] = offsets[o]! + p.strides[o]![d]!;
        break;
      }
      idx[d] = 0;
      for (let o = 0; o < k; o++) offsets[o] = offsets[o]! - p.strides[o]![d]! * (size - 1);
    }
  }
}
