import { Tensor } from 'onnxruntime-node';
import { SplitOptionsError } from './errors.js';
import type { TensorDtype } from './onnx-types.js';
import { isTensorDtype } from './onnx-types.js';

/** The dtype and concrete shape of one model input, as used for profiling and timing. */
export interface InputSpec {
  readonly dtype: TensorDtype;
  readonly dims: readonly number[];
}

/** Input name → spec, e.g. `{ sample: { dtype: 'float32', dims: [2, 1, 16, 16] }, … }`. */
export type InputSpecs = Readonly<Record<string, InputSpec>>;

/** Checks an input spec map; errors name the offending field under `fieldPrefix`. */
export function validateInputSpecs(specs: unknown, fieldPrefix: string): asserts specs is InputSpecs {
  if (typeof specs !== 'object' || specs === null || Array.isArray(specs)) {
    throw new SplitOptionsError('SPLIT_INVALID_OPTION', `${fieldPrefix} must be an object of input name → { dtype, dims }`, {
      field: fieldPrefix,
    });
  }
  for (const [name, spec] of Object.entries(specs as Record<string, unknown>)) {
    const field = `${fieldPrefix}.${name}`;
    const s = spec as Partial<InputSpec> | null;
    if (typeof s !== 'object' || s === null || !isTensorDtype(s.dtype) || s.dtype === 'string') {
      throw new SplitOptionsError('SPLIT_INVALID_OPTION', `${field}.dtype must be a numeric tensor dtype such as "float32"`, { field });
    }
    if (!Array.isArray(s.dims) || !s.dims.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SplitOptionsError('SPLIT_INVALID_OPTION', `${field}.dims must be an array of non-negative integers`, { field });
    }
  }
}

/** A small deterministic PRNG (mulberry32), so profiles and tests are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Makes one ORT tensor: floats uniform in [-1, 1), integers in [0, intRange) (0 by default, which
 * is a valid index for any embedding table), bools false.
 */
export function randomTensor(spec: InputSpec, random: () => number, intRange = 1): Tensor {
  const count = spec.dims.reduce((p, d) => p * d, 1);
  const dims = [...spec.dims];
  const int = (): number => Math.floor(random() * intRange);
  switch (spec.dtype) {
    case 'float32':
      return new Tensor('float32', Float32Array.from({ length: count }, () => random() * 2 - 1), dims);
    case 'float64':
      return new Tensor('float64', Float64Array.from({ length: count }, () => random() * 2 - 1), dims);
    case 'float16':
      // 0.0 in half precision; timing does not depend on the values.
      return new Tensor('float16', new Uint16Array(count), dims);
    case 'int64':
      return new Tensor('int64', BigInt64Array.from({ length: count }, () => BigInt(int())), dims);
    case 'uint64':
      return new Tensor('uint64', BigUint64Array.from({ length: count }, () => BigInt(int())), dims);
    case 'int32':
      return new Tensor('int32', Int32Array.from({ length: count }, int), dims);
    case 'uint32':
      return new Tensor('uint32', Uint32Array.from({ length: count }, int), dims);
    case 'int16':
      return new Tensor('int16', Int16Array.from({ length: count }, int), dims);
    case 'uint16':
      return new Tensor('uint16', Uint16Array.from({ length: count }, int), dims);
    case 'int8':
      return new Tensor('int8', Int8Array.from({ length: count }, int), dims);
    case 'uint8':
      return new Tensor('uint8', Uint8Array.from({ length: count }, int), dims);
    case 'bool':
      return new Tensor('bool', new Uint8Array(count), dims);
    case 'string':
    case 'bfloat16':
    case 'complex64':
    case 'complex128':
    case 'float8e4m3fn':
    case 'float8e4m3fnuz':
    case 'float8e5m2':
    case 'float8e5m2fnuz':
    case 'uint4':
    case 'int4':
    case 'float4e2m1':
    case 'float8e8m0':
    case 'uint2':
    case 'int2':
      throw new SplitOptionsError('SPLIT_INVALID_OPTION', `cannot make a random ${spec.dtype} tensor`, { field: 'profile.inputs' });
  }
}

/** Random feeds for every spec (deterministic for a seed). */
export function randomFeeds(specs: InputSpecs, seed = 1, intRange = 1): Record<string, Tensor> {
  const random = seededRandom(seed);
  const feeds: Record<string, Tensor> = {};
  for (const [name, spec] of Object.entries(specs)) feeds[name] = randomTensor(spec, random, intRange);
  return feeds;
}
