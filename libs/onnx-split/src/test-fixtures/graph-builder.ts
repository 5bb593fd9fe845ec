import type { OnnxAttribute, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo, TensorDtype } from '../onnx-types.js';
import { elemTypeOfDtype } from '../onnx-types.js';

/** Attribute values the builder understands. */
export type AttrValue = number | number[] | string | { int: number } | { ints: number[] } | OnnxTensor;

/** A tiny ONNX graph builder for test fixtures, written through the lib's own protobuf writer. */
export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly inits: OnnxTensor[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly valueInfos: OnnxValueInfo[] = [];
  private counter = 0;

  input(name: string, dtype: TensorDtype, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  output(name: string, dtype: TensorDtype, dims: (number | string)[]): void {
    this.outputs.push(valueInfo(name, dtype, dims));
  }

  valueInfo(name: string, dtype: TensorDtype, dims: (number | string)[]): void {
    this.valueInfos.push(valueInfo(name, dtype, dims));
  }

  /** A float32 initializer filled deterministically (small values, so sums stay tame). */
  weight(name: string, dims: number[], seed = 1): string {
    const count = dims.reduce((p, d) => p * d, 1);
    const data = Float32Array.from({ length: count }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.3);
    this.inits.push(floatTensor(name, dims, data));
    return name;
  }

  /** A float32 or float16 initializer with deterministic values of amplitude `scale`, or a constant fill. */
  param(name: string, dims: number[], o: { seed?: number; scale?: number; fill?: number; dtype?: 'float32' | 'float16' } = {}): string {
    const count = dims.reduce((p, d) => p * d, 1);
    const seed = o.seed ?? name.length;
    const data = Float32Array.from({ length: count }, (_, i) => o.fill ?? Math.sin(seed * 12.9898 + i * 78.233) * (o.scale ?? 0.3));
    this.inits.push(o.dtype === 'float16' ? halfTensor(name, dims, data) : floatTensor(name, dims, data));
    return name;
  }

  int64(name: string, values: number[]): string {
    this.inits.push({ name, dims: [values.length], dataType: elemTypeOfDtype('int64'), int64Data: values });
    return name;
  }

  /** A 0-d int64 initializer (the exporter's Gather index). */
  scalarInt64(name: string, value: number): string {
    this.inits.push({ name, dims: [], dataType: elemTypeOfDtype('int64'), int64Data: [value] });
    return name;
  }

  tensor(tensor: OnnxTensor): string {
    this.inits.push(tensor);
    return tensor.name ?? '';
  }

  /** Adds a node with one output (named after the node) and returns the output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): string {
    const nodeName = name ?? `${opType.toLowerCase()}_${this.counter++}`;
    const out = `${nodeName}_out`;
    this.node(opType, inputs, [out], attrs, nodeName);
    return out;
  }

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name = `${opType}_${this.counter++}`): void {
    this.nodes.push({ opType, input: inputs, output: outputs, name, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
  }

  build(graphName = 'test'): OnnxModel {
    return {
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'onnx-split-tests',
      graph: { name: graphName, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs, valueInfo: this.valueInfos },
    };
  }
}

/** A float16 initializer from float32 values (round to nearest). */
export function halfTensor(name: string, dims: number[], data: Float32Array): OnnxTensor {
  const bits = Uint16Array.from(data, toHalfBits);
  return { name, dims, dataType: elemTypeOfDtype('float16'), rawData: new Uint8Array(bits.buffer) };
}

/** IEEE 754 half-precision bits of a number (round half to even, overflow to ±inf). */
export function toHalfBits(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export function floatTensor(name: string, dims: number[], data: Float32Array): OnnxTensor {
  return { name, dims, dataType: elemTypeOfDtype('float32'), rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function valueInfo(name: string, dtype: TensorDtype, dims: (number | string)[]): OnnxValueInfo {
  return {
    name,
    type: { tensorType: { elemType: elemTypeOfDtype(dtype), shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, value: AttrValue): OnnxAttribute {
  // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7.
  if (typeof value === 'number') return { name, type: 1, f: value };
  if (typeof value === 'string') return { name, type: 3, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: 6, floats: value };
  if ('int' in value) return { name, type: 2, i: value.int };
  if ('ints' in value) return { name, type: 7, ints: value.ints };
  return { name, type: 4, t: value };
}
