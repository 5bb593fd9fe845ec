import { allocate, type DataType, type TypedArrayOf } from './dtype.js';
import { DTypeMismatchError, InvalidArgumentError, ShapeMismatchError } from './errors.js';
import { sameDims } from './shape.js';
import type { Tensor } from './tensor.js';
import { createTensor } from './tensor-impl.js';

function itemDims(t: Tensor, field: string): readonly number[] {
  if (t.dims.length === 0) throw new ShapeMismatchError(field, 'a scalar has no batch dimension');
  return t.dims.slice(1);
}

/**
 * Joins tensors along the batch dimension (dims[0]), e.g. the (cond, uncond) halves of a
 * classifier-free-guidance batch. All must share dtype and per-item dims. Returns a new tensor.
 */
export function concatBatch<D extends DataType>(tensors: readonly Tensor<D>[]): Tensor<D> {
  const first = tensors[0];
  if (first === undefined) throw new InvalidArgumentError('tensors', 'must contain at least one tensor');
  const inner = itemDims(first, 'tensors[0]');
  let batch = 0;
  let size = 0;
  tensors.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw new DTypeMismatchError(`tensors[${i}]`, `dtype ${t.dtype} differs from ${first.dtype}`);
    if (!sameDims(itemDims(t, `tensors[${i}]`), inner)) {
      throw new ShapeMismatchError(`tensors[${i}]`, `dims [${t.dims.join(', ')}] do not match [*, ${inner.join(', ')}]`);
    }
    batch += t.dims[0] as number;
    size += t.size;
  });
  const out = allocate(first.dtype, size);
  let offset = 0;
  for (const t of tensors) {
    setAt(out, t.data, offset);
    offset += t.size;
  }
  return createTensor(first.dtype, [batch, ...inner], out);
}

/**
 * Repeats a single sample (dims[0] must be 1) into a batch of `k` identical samples, e.g. one
 * latent fed to both halves of a guidance batch. Returns a new tensor.
 */
export function repeatBatch<D extends DataType>(tensor: Tensor<D>, k: number): Tensor<D> {
  if (!Number.isSafeInteger(k) || k < 1) throw new InvalidArgumentError('k', `must be a positive integer, got ${k}`);
  const inner = itemDims(tensor, 'tensor');
  if (tensor.dims[0] !== 1) throw new ShapeMismatchError('tensor', `must hold one sample (dims[0] = 1), got ${tensor.dims[0]}`);
  const out = allocate(tensor.dtype, tensor.size * k);
  for (let i = 0; i < k; i++) setAt(out, tensor.data, i * tensor.size);
  return createTensor(tensor.dtype, [k, ...inner], out);
}

/**
 * Items `start` (inclusive) to `end` (exclusive) of the batch as a tensor whose data is a view on
 * the original (no copy; disposing either does not affect the other's handle).
 */
export function sliceBatch<D extends DataType>(tensor: Tensor<D>, start: number, end: number): Tensor<D> {
  const inner = itemDims(tensor, 'tensor');
  const batch = tensor.dims[0] as number;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end > batch || start > end) {
    throw new InvalidArgumentError('start/end', `must satisfy 0 <= start <= end <= ${batch}, got ${start}..${end}`);
  }
  const per = batch === 0 ? 0 : tensor.size / batch;
  const data = tensor.data.subarray(start * per, end * per) as TypedArrayOf<D>;
  return createTensor(tensor.dtype, [end - start, ...inner], data);
}

function setAt<D extends DataType>(out: TypedArrayOf<D>, src: TypedArrayOf<D>, offset: number): void {
  (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(src as ArrayLike<unknown>, offset);
}
