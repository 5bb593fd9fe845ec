/**
 * @asyncdiff/tensor — typed-array tensors, seeded Gaussian noise and the small elementwise
 * kernels the sampler needs. No I/O; every function is deterministic.
 */
export type { DataType, DataTypeMap, TypedArrayOf } from './dtype.js';
export { DATA_TYPES, allocate, bytesPerElement, dataTypeOf, isDataType } from './dtype.js';
export type { Dims } from './shape.js';
export { sameDims, sizeOf } from './shape.js';
export type { Tensor } from './tensor.js';
export type { CreateTensorOptions } from './tensor-impl.js';
export { createTensor } from './tensor-impl.js';
export { concatBatch, repeatBatch, sliceBatch } from './batch.js';
export { add, axpby, clamp, maxAbsDiff, scale, sub } from './elementwise.js';
export type { Seed } from './noise.js';
export { checkSeed, gaussianNoise } from './noise.js';
export { philox4x32 } from './philox.js';
export { float16BitsToFloat32, float16ToFloat32, float32ToFloat16, float32ToFloat16Bits } from './float16.js';
export type { TensorErrorCode } from './errors.js';
export {
  DTypeMismatchError,
  InvalidArgumentError,
  InvalidSeedError,
  ShapeMismatchError,
  TensorDisposedError,
  TensorError,
} from './errors.js';
