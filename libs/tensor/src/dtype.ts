/**
 * Maps each supported element type to the typed array that holds it, so that `Tensor<'float32'>`
 * has a `Float32Array` `data` without casts.
 */
export interface DataTypeMap {
  float32: Float32Array;
  /** IEEE half floats as raw bits (Node 20 has no Float16Array; ONNX Runtime JS uses Uint16Array). */
  float16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
}

/** Element types a tensor can hold (the names ONNX Runtime uses). */
export type DataType = keyof DataTypeMap;

/** The typed array type that holds elements of `D`. */
export type TypedArrayOf<D extends DataType> = DataTypeMap[D];

interface TypedArrayCtor<A> {
  new (length: number): A;
  readonly BYTES_PER_ELEMENT: number;
}

const CONSTRUCTORS: { readonly [D in DataType]: TypedArrayCtor<DataTypeMap[D]> } = {
  float32: Float32Array,
  float16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
};

/** Every supported dtype, for validating untrusted input (IPC headers, model files). */
export const DATA_TYPES: readonly DataType[] = Object.freeze(Object.keys(CONSTRUCTORS) as DataType[]);

/** Narrows an untrusted string to a supported dtype. */
export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(CONSTRUCTORS, value);
}

/** Bytes per element of `dtype` (for sizing shared-memory slots). */
export function bytesPerElement(dtype: DataType): number {
  return CONSTRUCTORS[dtype].BYTES_PER_ELEMENT;
}

/** A zero-filled typed array of `length` elements of `dtype`. */
export function allocate<D extends DataType>(dtype: D, length: number): TypedArrayOf<D> {
  const Ctor = CONSTRUCTORS[dtype] as TypedArrayCtor<TypedArrayOf<D>>;
  return new Ctor(length);
}

/** The dtype whose typed array `data` is, or undefined for unsupported arrays. */
export function dataTypeOf(data: ArrayBufferView): DataType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Uint16Array) return 'float16';
  return undefined;
}
