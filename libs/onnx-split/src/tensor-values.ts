import type { OnnxAttribute, OnnxTensor, TensorDtype } from './onnx-types.js';
import { DATA_LOCATION_EXTERNAL, dtypeOfElemType, int64ToNumber } from './onnx-types.js';

/**
 * Largest tensor whose element values shape inference tracks. Shape arithmetic (Shape → Gather →
 * Concat → Reshape) works on a handful of int64s; anything bigger is a weight or an activation.
 */
export const MAX_TRACKED_ELEMENTS = 1024;

/** A constant's dtype, dims and (when small and stored inline) its element values. */
export interface ConstantTensor {
  readonly dtype: TensorDtype;
  readonly dims: readonly number[];
  readonly values: readonly number[] | undefined;
}

/**
 * The element values of a small inline tensor as numbers (int64 exact below 2^53, bool 0/1),
 * or undefined for large, external, string or exotic tensors. Never touches external data.
 */
export function tensorValues(t: OnnxTensor): number[] | undefined {
  const dtype = dtypeOfElemType(t.dataType);
  if (dtype === undefined || t.dataLocation === DATA_LOCATION_EXTERNAL) return undefined;
  const count = (t.dims ?? []).reduce<number>((p, d) => p * int64ToNumber(d), 1);
  if (count > MAX_TRACKED_ELEMENTS) return undefined;
  const raw = t.rawData;
  if (raw && raw.length > 0) return decodeRaw(dtype, raw, count);
  return take(FIELD_VALUES[dtype]?.(t), count);
}

/** Where each dtype keeps its values when not stored as raw bytes (TensorProto's typed fields). */
const FIELD_VALUES: Partial<Record<TensorDtype, (t: OnnxTensor) => number[] | undefined>> = {
  float32: (t) => t.floatData,
  float64: (t) => t.doubleData,
  int64: (t) => t.int64Data?.map(int64ToNumber),
  uint64: (t) => t.uint64Data?.map(int64ToNumber),
  uint32: (t) => t.uint64Data?.map(int64ToNumber),
  int32: (t) => t.int32Data,
  int16: (t) => t.int32Data,
  int8: (t) => t.int32Data,
  uint16: (t) => t.int32Data,
  uint8: (t) => t.int32Data,
  bool: (t) => t.int32Data,
  float16: (t) => t.int32Data?.map(halfToNumber),
};

/** Element size and little-endian reader of each dtype stored as raw bytes. */
const RAW_READERS: Partial<Record<TensorDtype, readonly [number, (view: DataView, offset: number) => number]>> = {
  float32: [4, (v, o) => v.getFloat32(o, true)],
  float64: [8, (v, o) => v.getFloat64(o, true)],
  float16: [2, (v, o) => halfToNumber(v.getUint16(o, true))],
  int64: [8, (v, o) => Number(v.getBigInt64(o, true))],
  uint64: [8, (v, o) => Number(v.getBigUint64(o, true))],
  int32: [4, (v, o) => v.getInt32(o, true)],
  uint32: [4, (v, o) => v.getUint32(o, true)],
  int16: [2, (v, o) => v.getInt16(o, true)],
  uint16: [2, (v, o) => v.getUint16(o, true)],
  int8: [1, (v, o) => v.getInt8(o)],
  uint8: [1, (v, o) => v.getUint8(o)],
  bool: [1, (v, o) => v.getUint8(o)],
};

/** A `Constant` node's value from whichever attribute it uses (`value`, `value_int(s)`, `value_float(s)`). */
export function constantNodeValue(attributes: readonly OnnxAttribute[]): ConstantTensor | undefined {
  const a = attributes[0];
  if (a === undefined) return undefined;
  if (a.name === 'value') {
    const dtype = a.t ? dtypeOfElemType(a.t.dataType) : undefined;
    return a.t && dtype !== undefined ? { dtype, dims: (a.t.dims ?? []).map(int64ToNumber), values: tensorValues(a.t) } : undefined;
  }
  if (a.name === 'value_int') return { dtype: 'int64', dims: [], values: [int64ToNumber(a.i)] };
  if (a.name === 'value_ints') return { dtype: 'int64', dims: [(a.ints ?? []).length], values: (a.ints ?? []).map(int64ToNumber) };
  if (a.name === 'value_float') return { dtype: 'float32', dims: [], values: [a.f ?? 0] };
  if (a.name === 'value_floats') return { dtype: 'float32', dims: [(a.floats ?? []).length], values: [...(a.floats ?? [])] };
  return undefined;
}

function take(values: readonly number[] | undefined, count: number): number[] | undefined {
  if (values === undefined || values.length !== count) return count === 0 ? [] : undefined;
  return [...values];
}

function decodeRaw(dtype: TensorDtype, raw: Uint8Array, count: number): number[] | undefined {
  const reader = RAW_READERS[dtype];
  if (reader === undefined || raw.byteLength !== reader[0] * count) return undefined;
  const [bytes, get] = reader;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Array.from({ length: count }, (_, i) => get(view, i * bytes));
}

/** IEEE 754 half-precision bits → number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
