/**
 * The subset of the ONNX protobuf messages the partitioner reads and writes, as plain TypeScript
 * shapes. Field names follow protobufjs' camelCase conversion of onnx.proto. Decoded messages carry
 * more fields than declared here; those are passed through untouched when a message is re-encoded.
 */

/** An int64 as protobufjs decodes it: a number, or a Long-like object when the `long` package is present. */
export type Int64 = number | { toNumber(): number; toString(): string };

/** Converts a decoded int64 to a number (exact below 2^53, which covers dims, offsets and versions). */
export function int64ToNumber(value: Int64 | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** `StringStringEntryProto`. */
export interface OnnxStringEntry {
  key?: string;
  value?: string;
}

/** `OperatorSetIdProto`. */
export interface OnnxOpsetId {
  domain?: string;
  version?: Int64;
}

/** `TensorShapeProto.Dimension`. */
export interface OnnxDimension {
  dimValue?: Int64;
  dimParam?: string;
  denotation?: string;
}

/** `TypeProto` (tensor types only are inspected; other kinds are passed through). */
export interface OnnxTypeProto {
  tensorType?: { elemType?: number; shape?: { dim?: OnnxDimension[] } };
  [other: string]: unknown;
}

/** `ValueInfoProto`. */
export interface OnnxValueInfo {
  name?: string;
  type?: OnnxTypeProto;
  docString?: string;
}

/** `TensorProto`. */
export interface OnnxTensor {
  name?: string;
  dims?: Int64[];
  dataType?: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: Int64[];
  doubleData?: number[];
  uint64Data?: Int64[];
  stringData?: Uint8Array[];
  externalData?: OnnxStringEntry[];
  /** 0 = DEFAULT, 1 = EXTERNAL. */
  dataLocation?: number;
  docString?: string;
}

/** `SparseTensorProto`. */
export interface OnnxSparseTensor {
  values?: OnnxTensor;
  indices?: OnnxTensor;
  dims?: Int64[];
}

/** `AttributeProto`. */
export interface OnnxAttribute {
  name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  sparseTensor?: OnnxSparseTensor;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: OnnxTensor[];
  graphs?: OnnxGraph[];
  [other: string]: unknown;
}

/** `NodeProto`. */
export interface OnnxNode {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute?: OnnxAttribute[];
  docString?: string;
  /** IR 10+. */
  metadataProps?: OnnxStringEntry[];
  [other: string]: unknown;
}

/** `GraphProto`. */
export interface OnnxGraph {
  node?: OnnxNode[];
  name?: string;
  initializer?: OnnxTensor[];
  sparseInitializer?: OnnxSparseTensor[];
  docString?: string;
  input?: OnnxValueInfo[];
  output?: OnnxValueInfo[];
  valueInfo?: OnnxValueInfo[];
  quantizationAnnotation?: unknown[];
  /** IR 10+. */
  metadataProps?: OnnxStringEntry[];
}

/** `ModelProto`. */
export interface OnnxModel {
  irVersion?: Int64;
  opsetImport?: OnnxOpsetId[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph?: OnnxGraph;
  metadataProps?: OnnxStringEntry[];
  trainingInfo?: unknown[];
  functions?: unknown[];
  /** IR 11+: multi-device configurations. */
  configuration?: unknown[];
  [other: string]: unknown;
}

/** `TensorProto.DataLocation.EXTERNAL`. */
export const DATA_LOCATION_EXTERNAL = 1;

/** Element type names used in plans and stage I/O descriptions (onnxruntime-node's spelling). */
export type TensorDtype =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'string'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'complex64'
  | 'complex128'
  | 'bfloat16'
  | 'float8e4m3fn'
  | 'float8e4m3fnuz'
  | 'float8e5m2'
  | 'float8e5m2fnuz'
  | 'uint4'
  | 'int4'
  | 'float4e2m1'
  | 'float8e8m0'
  | 'uint2'
  | 'int2';

interface DtypeInfo {
  readonly dtype: TensorDtype;
  /** Bytes per element (0.5 for 4-bit and 0.25 for 2-bit types; 0 for strings, whose size is data-dependent). */
  readonly bytes: number;
  readonly isFloat: boolean;
}

const DTYPES: ReadonlyMap<number, DtypeInfo> = new Map<number, DtypeInfo>([
  [1, { dtype: 'float32', bytes: 4, isFloat: true }],
  [2, { dtype: 'uint8', bytes: 1, isFloat: false }],
  [3, { dtype: 'int8', bytes: 1, isFloat: false }],
  [4, { dtype: 'uint16', bytes: 2, isFloat: false }],
  [5, { dtype: 'int16', bytes: 2, isFloat: false }],
  [6, { dtype: 'int32', bytes: 4, isFloat: false }],
  [7, { dtype: 'int64', bytes: 8, isFloat: false }],
  [8, { dtype: 'string', bytes: 0, isFloat: false }],
  [9, { dtype: 'bool', bytes: 1, isFloat: false }],
  [10, { dtype: 'float16', bytes: 2, isFloat: true }],
  [11, { dtype: 'float64', bytes: 8, isFloat: true }],
  [12, { dtype: 'uint32', bytes: 4, isFloat: false }],
  [13, { dtype: 'uint64', bytes: 8, isFloat: false }],
  [14, { dtype: 'complex64', bytes: 8, isFloat: true }],
  [15, { dtype: 'complex128', bytes: 16, isFloat: true }],
  [16, { dtype: 'bfloat16', bytes: 2, isFloat: true }],
  [17, { dtype: 'float8e4m3fn', bytes: 1, isFloat: true }],
  [18, { dtype: 'float8e4m3fnuz', bytes: 1, isFloat: true }],
  [19, { dtype: 'float8e5m2', bytes: 1, isFloat: true }],
  [20, { dtype: 'float8e5m2fnuz', bytes: 1, isFloat: true }],
  [21, { dtype: 'uint4', bytes: 0.5, isFloat: false }],
  [22, { dtype: 'int4', bytes: 0.5, isFloat: false }],
  [23, { dtype: 'float4e2m1', bytes: 0.5, isFloat: true }],
  [24, { dtype: 'float8e8m0', bytes: 1, isFloat: true }],
  [25, { dtype: 'uint2', bytes: 0.25, isFloat: false }],
  [26, { dtype: 'int2', bytes: 0.25, isFloat: false }],
]);

const ELEM_TYPE_OF: ReadonlyMap<TensorDtype, number> = new Map([...DTYPES].map(([k, v]) => [v.dtype, k]));

/** The dtype name of an ONNX `TensorProto.DataType` code, or undefined when unknown. */
export function dtypeOfElemType(elemType: number | undefined): TensorDtype | undefined {
  return elemType === undefined ? undefined : DTYPES.get(elemType)?.dtype;
}

/** The ONNX `TensorProto.DataType` code of a dtype name. */
export function elemTypeOfDtype(dtype: TensorDtype): number {
  const code = ELEM_TYPE_OF.get(dtype);
  if (code === undefined) throw new Error(`unknown dtype ${dtype}`);
  return code;
}

/** Bytes per element of a dtype (0 for strings). */
export function dtypeBytes(dtype: TensorDtype): number {
  return DTYPES.get(elemTypeOfDtype(dtype))?.bytes ?? 0;
}

/** Whether a dtype is a floating-point (or complex) type, i.e. a "hidden state" rather than an index/shape. */
export function isFloatDtype(dtype: TensorDtype): boolean {
  return DTYPES.get(elemTypeOfDtype(dtype))?.isFloat ?? false;
}

/** Whether a string is a dtype name this lib knows. */
export function isTensorDtype(value: unknown): value is TensorDtype {
  return typeof value === 'string' && ELEM_TYPE_OF.has(value as TensorDtype);
}

/** onnxruntime's C++ type names (as written in profiles) → dtype names. */
const ORT_TYPE_NAMES: Readonly<Record<string, TensorDtype>> = {
  float: 'float32',
  double: 'float64',
  MLFloat16: 'float16',
  BFloat16: 'bfloat16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  bool: 'bool',
  string: 'string',
  'std::string': 'string',
};

/** The dtype of an onnxruntime profile type name (`float`, `int64`, `MLFloat16`…). */
export function dtypeOfOrtTypeName(name: string): TensorDtype | undefined {
  return ORT_TYPE_NAMES[name];
}
