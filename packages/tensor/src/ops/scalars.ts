import { getBackend, Storage } from '../backend.js';
import { allocArray, type DType } from '../dtype.js';
import { Tensor } from '../tensor.js';

/** A 0-d tensor holding one JS number (scalar operands of binary ops). @internal */
export function fromHostScalar(value: number, dtype: DType, device: string): Tensor {
  const backend = getBackend(device);
  const arr = allocArray(dtype, 1);
  arr[0] = dtype === 'bool' ? (value ? 1 : 0) : value;
  const storage = new Storage(backend, backend.upload(arr, dtype), dtype, 1);
  return Tensor._fromStorage(storage, [], [], 0, dtype);
}
