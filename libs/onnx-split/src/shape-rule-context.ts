import type { OnnxAttribute, OnnxNode, TensorDtype } from './onnx-types.js';
import { int64ToNumber } from './onnx-types.js';
import { MAX_TRACKED_ELEMENTS } from './tensor-values.js';

/** What shape inference knows about one tensor at the given input shapes. */
export interface InferredTensor {
  readonly dtype: TensorDtype;
  /** Concrete dims; null when they cannot be known without running the model. */
  readonly dims: readonly number[] | null;
  /** Element values, for small tensors whose values are known (shape arithmetic, constants). */
  readonly values?: readonly number[];
}

/** A shape rule: the node's outputs (by position) from its inputs; `undefined` entries are unknown. */
export type ShapeRule = (c: RuleContext) => readonly (InferredTensor | undefined)[];

/** Thrown by a rule when an input it needs is unknown: the node's outputs become unknown too. */
export class UnknownShape extends Error {}

/** Thrown by a rule when the inputs contradict the operator (bad input shapes or a malformed graph). */
export class ShapeMismatch extends Error {}

/** A rule's view of one node: its inputs' inferred tensors and its attributes. */
export class RuleContext {
  constructor(
    readonly node: OnnxNode,
    /** Opset version of the node's domain. */
    readonly opset: number,
    private readonly inputs: readonly (InferredTensor | undefined)[],
  ) {}

  get inputCount(): number {
    return this.inputs.length;
  }

  /** Input k, or undefined when absent (optional input left empty). */
  maybe(k: number): InferredTensor | undefined {
    return this.inputs[k];
  }

  /** Input k; unknown makes the node unknown. */
  input(k: number): InferredTensor {
    const t = this.inputs[k];
    if (t === undefined) throw new UnknownShape(`input ${k} unknown`);
    return t;
  }

  dtype(k: number): TensorDtype {
    return this.input(k).dtype;
  }

  /** Input k's dims (unknown dims make the node unknown). */
  dims(k: number): readonly number[] {
    const d = this.input(k).dims;
    if (d === null) throw new UnknownShape(`input ${k} dims unknown`);
    return d;
  }

  /** Whether input k is present (not an empty optional input). */
  has(k: number): boolean {
    return (this.node.input?.[k] ?? '') !== '';
  }

  /** Input k's element values (unknown values make the node's dims unknown). */
  values(k: number): readonly number[] {
    const v = this.input(k).values;
    if (v === undefined) throw new UnknownShape(`input ${k} values unknown`);
    return v;
  }

  attr(name: string): OnnxAttribute | undefined {
    return (this.node.attribute ?? []).find((a) => a.name === name);
  }

  int(name: string, fallback: number): number {
    const a = this.attr(name);
    return a === undefined ? fallback : int64ToNumber(a.i);
  }

  ints(name: string): number[] | undefined {
    const a = this.attr(name);
    return a === undefined ? undefined : (a.ints ?? []).map(int64ToNumber);
  }

  float(name: string, fallback: number): number {
    return this.attr(name)?.f ?? fallback;
  }

  string(name: string, fallback: string): string {
    const s = this.attr(name)?.s;
    return s === undefined ? fallback : new TextDecoder().decode(s);
  }
}

/** A tensor with known dims, keeping `values` only when small enough to track. */
export function tensor(dtype: TensorDtype, dims: readonly number[], values?: readonly number[]): InferredTensor {
  return values !== undefined && values.length <= MAX_TRACKED_ELEMENTS && values.length === product(dims) ? { dtype, dims, values } : { dtype, dims };
}

export function product(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

/** Normalises a possibly negative axis for a rank; throws on out-of-range. */
export function axisOf(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeMismatch(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Multidirectional (numpy) broadcasting of several shapes. */
export function broadcast(...shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (dim !== 1 && dim !== d) throw new ShapeMismatch(`cannot broadcast [${shapes.map((x) => x.join(',')).join('] with [')}]`);
      dim = d;
    }
    out.push(dim);
  }
  return out;
}

/** Element values of a broadcast elementwise op over inputs with known values. */
export function broadcastValues(shapes: readonly (readonly number[])[], values: readonly (readonly number[])[], fn: (xs: number[]) => number): number[] | undefined {
  const out = broadcast(...shapes);
  const count = product(out);
  if (count > MAX_TRACKED_ELEMENTS) return undefined;
  const strides = shapes.map((s) => {
    const st: number[] = new Array<number>(out.length).fill(0);
    let acc = 1;
    for (let i = s.length - 1; i >= 0; i--) {
      const d = s[i] as number;
      st[out.length - s.length + i] = d === 1 ? 0 : acc;
      acc *= d;
    }
    return st;
  });
  const result: number[] = [];
  const index = new Array<number>(out.length).fill(0);
  for (let n = 0; n < count; n++) {
    result.push(fn(values.map((v, k) => v[index.reduce((off, ix, axis) => off + ix * ((strides[k] as number[])[axis] as number), 0)] as number)));
    for (let axis = out.length - 1; axis >= 0; axis--) {
      index[axis] = (index[axis] as number) + 1;
      if ((index[axis] as number) < (out[axis] as number)) break;
      index[axis] = 0;
    }
  }
  return result;
}
