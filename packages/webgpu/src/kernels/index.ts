/**
 * `gather` and `indexSelect`, both as the elementwise `gather` op over the output: the index is read at
 * each output position, and x at the output position with the indexed dim replaced by the index value.
 * Out-of-range indices read 0 and make the next read raise `INDEX_OUT_OF_RANGE` (errors.ts).
 */
import type { Kernel, TensorView } from '@gradfolio/tensor';
import type { GpuContext } from '../context.js';
import { runElementwise } from './elementwise.js';
import { errorCode } from './errors.js';
import { dimOf } from './lines.js';

/** The gather and indexSelect kernels (contracts in the op table). @internal */
export function indexKernels(ctx: GpuContext): Array<[string, Kernel]> {
  const gather: Kernel = (inputs, outputs, attrs) => {
    const [x, index] = inputs as [TensorView, TensorView];
    const xnd = x.shape.length;
    const dim = dimOf(attrs, xnd);
    // x over the index's shape: stride 0 on the dim (and everywhere for a 0-d x, size 1).
    const xv: TensorView = {
      ...x,
      shape: index.shape,
      strides: index.shape.map((_, d) => (d === dim || xnd === 0 ? 0 : x.strides[d]!)),
    };
    runElementwise(ctx, 'gather', [index, xv], outputs[0]!, {
      stride: xnd === 0 ? 0 : x.strides[dim]!,
      size: xnd === 0 ? 1 : x.shape[dim]!,
      dim,
      code: errorCode('gather'),
    });
  };
  const indexSelect: Kernel = (inputs, outputs, attrs) => {
    const [x, index] = inputs as [TensorView, TensorView];
    const o = outputs[0]!;
    const nd = x.shape.length;
    const dim = dimOf(attrs, nd);
    const ist = index.shape.length === 0 ? 0 : index.strides[0]!;
    // The 1-D (or 0-d) index broadcast over the output: its stride on the dim, 0 elsewhere.
    const iv: TensorView = {
      ...index,
      shape: o.shape,
      strides: o.shape.map((_, d) => (d === dim ? ist : 0)),
    };
    const xv: TensorView = {
      ...x,
      shape: o.shape,
      strides: o.shape.map((_, d) => (d === dim ? 0 : x.strides[d]!)),
    };
    runElementwise(ctx, 'gather', [iv, xv], o, {
      stride: nd === 0 ? 0 : x.strides[dim]!,
      size: nd === 0 ? 1 : x.shape[dim]!,
      dim,
      code: errorCode('indexSelect'),
    });
  };
  return [
    ['gather', gather],
    ['indexSelect', indexSelect],
  ];
}
