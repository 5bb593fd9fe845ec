import type { DataType, TypedArrayOf } from './dtype.js';
import type { Dims } from './shape.js';

/**
 * An n-dimensional array of one dtype whose elements live in a typed array (possibly a view on
 * shared memory owned by someone else). The handle owns nothing but the right to read `data`
 * until `dispose()`; every accessor throws `TensorDisposedError` afterwards.
 */
export interface Tensor<D extends DataType = DataType> {
  /** Element type. */
  readonly dtype: D;
  /** Dimensions, outermost (batch) first. */
  readonly dims: Dims;
  /** Number of elements (product of `dims`). */
  readonly size: number;
  /** The elements, row-major. A view, not a copy: writes are visible to every holder. */
  readonly data: TypedArrayOf<D>;
  /** Whether `dispose()` has been called. */
  readonly disposed: boolean;
  /** Releases the handle (and runs the owner's release hook, once). Safe to call twice. */
  dispose(): void;
}
