import { allocate, dataTypeOf, type DataType, type TypedArrayOf } from './dtype.js';
import { DTypeMismatchError, ShapeMismatchError, TensorDisposedError } from './errors.js';
import { sizeOf, type Dims } from './shape.js';
import type { Tensor } from './tensor.js';

/** Options of {@link createTensor}. */
export interface CreateTensorOptions {
  /**
   * Called once by the first `dispose()`, e.g. to hand a shared-memory slot back to its owner.
   * @defaultValue none
   */
  onDispose?: () => void;
}

class TensorImpl<D extends DataType> implements Tensor<D> {
  readonly dtype: D;
  readonly size: number;
  readonly #dims: Dims;
  #data: TypedArrayOf<D> | undefined;
  #onDispose: (() => void) | undefined;

  constructor(dtype: D, dims: Dims, data: TypedArrayOf<D>, onDispose: (() => void) | undefined) {
    this.dtype = dtype;
    this.#dims = Object.freeze([...dims]);
    this.size = data.length;
    this.#data = data;
    this.#onDispose = onDispose;
  }

  get dims(): Dims {
    this.#ensureValid();
    return this.#dims;
  }

  get data(): TypedArrayOf<D> {
    return this.#ensureValid();
  }

  get disposed(): boolean {
    return this.#data === undefined;
  }

  dispose(): void {
    if (this.#data === undefined) return;
    this.#data = undefined;
    const hook = this.#onDispose;
    this.#onDispose = undefined;
    hook?.();
  }

  #ensureValid(): TypedArrayOf<D> {
    if (this.#data === undefined) throw new TensorDisposedError();
    return this.#data;
  }
}

/**
 * Makes a tensor of `dtype` and `dims`. With `data` the tensor wraps it without copying (it must
 * be the dtype's typed array with exactly `sizeOf(dims)` elements); without, it is zero-filled.
 */
export function createTensor<D extends DataType>(
  dtype: D,
  dims: Dims,
  data?: TypedArrayOf<D>,
  options: CreateTensorOptions = {},
): Tensor<D> {
  const size = sizeOf(dims);
  if (data === undefined) return new TensorImpl(dtype, dims, allocate(dtype, size), options.onDispose);
  const actual = dataTypeOf(data);
  if (actual !== dtype) {
    throw new DTypeMismatchError('data', `expected the typed array of ${dtype}, got ${actual ?? data.constructor.name}`);
  }
  if (data.length !== size) {
    throw new ShapeMismatchError('data', `has ${data.length} elements but dims [${dims.join(', ')}] need ${size}`);
  }
  return new TensorImpl(dtype, dims, data, options.onDispose);
}
