import type { Backend, Kernel, TensorView } from '../backend.js';
import { allocArray, type DType, type TypedArray } from '../dtype.js';
import { contiguousStrides } from '../shape.js';
import { copyKernel, fillKernel, registerElementwise } from './elementwise.js';
import { registerIndexKernels } from './kernels-index.js';
import { registerLinalgKernels } from './kernels-linalg.js';
import { lstmLayerBackwardKernel, lstmLayerKernel } from './lstm/kernels.js';
import { matmulKernel } from './matmul.js';
import { adamUpdateKernel, sgdUpdateKernel } from './optim.js';
import { registerReductions } from './reduce.js';

function readView(view: TensorView): TypedArray {
  let n = 1;
  for (const s of view.shape) n *= s;
  const out = allocArray(view.dtype, n);
  if (n > 0) {
    copyKernel(
      [view],
      [
        {
          handle: out,
          dtype: view.dtype,
          shape: view.shape,
          strides: contiguousStrides(view.shape),
          offset: 0,
        },
      ],
      {},
    );
  }
  return out;
}

/**
 * Creates the CPU backend: typed arrays as storage, every kernel of the op table.
 *
 * @example
 * ```ts
 * const cpu = createCPUBackend();
 * cpu.kernels.size; // number of kernels
 * ```
 */
export function createCPUBackend(): Backend {
  const kernels = new Map<string, Kernel>();
  kernels.set('fill', fillKernel);
  kernels.set('copy', copyKernel);
  kernels.set('matmul', matmulKernel);
  registerElementwise(kernels);
  registerReductions(kernels);
  registerIndexKernels(kernels);
  registerLinalgKernels(kernels);
  kernels.set('lstmLayer', lstmLayerKernel);
  kernels.set('lstmLayerBackward', lstmLayerBackwardKernel);
  kernels.set('adamUpdate', adamUpdateKernel);
  kernels.set('sgdUpdate', sgdUpdateKernel);
  return {
    name: 'cpu',
    kernels,
    gcManaged: true,
    alloc: (dtype: DType, size: number) => allocArray(dtype, size),
    upload: (data: TypedArray) => data,
    read: async (view: TensorView) => readView(view),
    readSync: readView,
    free: () => {},
    sync: async () => {},
  };
}
