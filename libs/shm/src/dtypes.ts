/** Element types a channel can carry (what our ONNX stage graphs exchange). */
export type ShmDtype = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8';

/** dtype → typed array, so views are typed by their dtype (same arrays ONNX Runtime JS uses). */
export interface DtypeArrayMap {
  float32: Float32Array;
  /** Half floats as raw bits (what ONNX Runtime JS uses for float16 tensors). */
  float16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
}

interface DtypeInfo<D extends ShmDtype> {
  /** ONNX TensorProto.DataType code, stored in the channel header. */
  readonly onnxCode: number;
  readonly bytesPerElement: number;
  readonly view: (buffer: ArrayBuffer, byteOffset: number, length: number) => DtypeArrayMap[D];
}

export const DTYPES: { readonly [D in ShmDtype]: DtypeInfo<D> } = {
  float32: { onnxCode: 1, bytesPerElement: 4, view: (b, o, n) => new Float32Array(b, o, n) },
  float16: { onnxCode: 10, bytesPerElement: 2, view: (b, o, n) => new Uint16Array(b, o, n) },
  uint8: { onnxCode: 2, bytesPerElement: 1, view: (b, o, n) => new Uint8Array(b, o, n) },
  int32: { onnxCode: 6, bytesPerElement: 4, view: (b, o, n) => new Int32Array(b, o, n) },
  int64: { onnxCode: 7, bytesPerElement: 8, view: (b, o, n) => new BigInt64Array(b, o, n) },
};

export function isShmDtype(value: string): value is ShmDtype {
  return Object.hasOwn(DTYPES, value);
}

export function dtypeFromOnnxCode(code: number): ShmDtype | undefined {
  for (const [name, info] of Object.entries(DTYPES)) {
    if (info.onnxCode === code && isShmDtype(name)) return name;
  }
  return undefined;
}
