/**
 * Shape rules of the operators that move or describe data rather than compute on it: Shape, Cast,
 * Reshape, Transpose, Concat, Split, Slice, Gather, Expand… These carry element values through
 * (for 1-D shape tensors), which is how an exported graph's `Shape → Gather → Concat → Reshape`
 * chains resolve to concrete dims without running anything.
 */
import { dtypeOfElemType, int64ToNumber, isFloatDtype } from './onnx-types.js';
import type { TensorDtype } from './onnx-types.js';
import type { InferredTensor, RuleContext, ShapeRule } from './shape-rule-context.js';
import { axisOf, broadcast, product, ShapeMismatch, tensor, UnknownShape } from './shape-rule-context.js';
import { constantNodeValue, MAX_TRACKED_ELEMENTS, tensorValues } from './tensor-values.js';

/** Rules of the layout and shape operators, by op type (default domain). */
export function layoutRules(): Map<string, ShapeRule> {
  return new Map<string, ShapeRule>([
    ['Constant', constant],
    ['Shape', shape],
    ['Size', (c) => [tensor('int64', [], [product(c.dims(0))])]],
    ['ConstantOfShape', constantOfShape],
    ['Cast', cast],
    ['CastLike', (c) => [castTo(c, c.dtype(1))]],
    ['Reshape', reshape],
    ['Flatten', flatten],
    ['Squeeze', squeeze],
    ['Unsqueeze', unsqueeze],
    ['Transpose', transpose],
    ['Concat', concat],
    ['Split', split],
    ['Slice', slice],
    ['Gather', gather],
    ['GatherElements', (c) => [tensor(c.dtype(0), c.dims(1))]],
    ['Expand', expand],
    ['Tile', (c) => [tensor(c.dtype(0), c.dims(0).map((d, i) => d * (c.values(1)[i] ?? 1)))]],
    ['Pad', pad],
    ['Range', range],
    ['TopK', topK],
    ['DepthToSpace', (c) => blockRearrange(c, true)],
    ['SpaceToDepth', (c) => blockRearrange(c, false)],
    ['OneHot', oneHot],
    ['EyeLike', (c) => [tensor(likeDtype(c), c.dims(0))]],
    ['RandomNormalLike', (c) => [tensor(likeDtype(c), c.dims(0))]],
    ['RandomUniformLike', (c) => [tensor(likeDtype(c), c.dims(0))]],
  ]);
}

const constant: ShapeRule = (c) => {
  const value = constantNodeValue(c.node.attribute ?? []);
  if (value === undefined) throw new UnknownShape('Constant without a readable value');
  return [tensor(value.dtype, value.dims, value.values)];
};

const shape: ShapeRule = (c) => {
  const dims = c.dims(0);
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dims.length : v, 0), dims.length);
  const values = dims.slice(clamp(c.int('start', 0)), clamp(c.int('end', dims.length)));
  return [tensor('int64', [values.length], values)];
};

const constantOfShape: ShapeRule = (c) => {
  const dims = c.values(0);
  const value = c.attr('value')?.t;
  const dtype: TensorDtype = (value ? dtypeOfElemType(value.dataType) : 'float32') ?? 'float32';
  const fill = value ? (tensorValues(value)?.[0] ?? 0) : 0;
  const count = product(dims);
  return [tensor(dtype, dims, count <= MAX_TRACKED_ELEMENTS ? new Array<number>(count).fill(fill) : undefined)];
};

function castTo(c: RuleContext, dtype: TensorDtype): InferredTensor {
  const v = c.input(0).values;
  const values = v === undefined ? undefined : isFloatDtype(dtype) ? [...v] : dtype === 'bool' ? v.map((x) => (x ? 1 : 0)) : v.map(Math.trunc);
  return tensor(dtype, c.dims(0), values);
}

const cast: ShapeRule = (c) => {
  const dtype = dtypeOfElemType(int64ToNumber(c.attr('to')?.i));
  if (dtype === undefined) throw new ShapeMismatch('Cast without a known "to" type');
  return [castTo(c, dtype)];
};

const reshape: ShapeRule = (c) => {
  const x = c.dims(0);
  const requested = c.values(1);
  const allowZero = c.int('allowzero', 0) === 1;
  const dims = requested.map((d, i) => (d === 0 && !allowZero ? (x[i] as number) : d));
  const unknown = dims.indexOf(-1);
  const total = product(x);
  if (unknown >= 0) {
    const known = product(dims.filter((_, i) => i !== unknown));
    if (known === 0 || total % known !== 0) throw new ShapeMismatch(`cannot reshape [${x.join(',')}] to [${requested.join(',')}]`);
    dims[unknown] = total / known;
  }
  if (product(dims) !== total) throw new ShapeMismatch(`cannot reshape [${x.join(',')}] to [${requested.join(',')}]`);
  return [tensor(c.dtype(0), dims, c.input(0).values)];
};

const flatten: ShapeRule = (c) => {
  const x = c.dims(0);
  const axis = c.int('axis', 1);
  const a = axis < 0 ? axis + x.length : axis;
  return [tensor(c.dtype(0), [product(x.slice(0, a)), product(x.slice(a))], c.input(0).values)];
};

/** Axes from input 1 (opset ≥ 13) or the `axes` attribute. */
function axesOf(c: RuleContext): readonly number[] | undefined {
  if (c.opset >= 13) return c.has(1) ? c.values(1) : undefined;
  return c.ints('axes');
}

const squeeze: ShapeRule = (c) => {
  const x = c.dims(0);
  const given = axesOf(c);
  const axes = new Set(given === undefined ? x.flatMap((d, i) => (d === 1 ? [i] : [])) : given.map((a) => axisOf(a, x.length)));
  return [tensor(c.dtype(0), x.filter((_, i) => !axes.has(i)), c.input(0).values)];
};

const unsqueeze: ShapeRule = (c) => {
  const x = c.dims(0);
  const given = axesOf(c) ?? [];
  const rank = x.length + given.length;
  const axes = new Set(given.map((a) => axisOf(a, rank)));
  const dims: number[] = [];
  let next = 0;
  for (let i = 0; i < rank; i++) dims.push(axes.has(i) ? 1 : (x[next++] as number));
  return [tensor(c.dtype(0), dims, c.input(0).values)];
};

const transpose: ShapeRule = (c) => {
  const x = c.dims(0);
  const perm = c.ints('perm') ?? x.map((_, i) => x.length - 1 - i);
  const v = c.input(0).values;
  return [tensor(c.dtype(0), perm.map((p) => x[p] as number), x.length <= 1 ? v : undefined)];
};

const concat: ShapeRule = (c) => {
  const parts = Array.from({ length: c.inputCount }, (_, k) => c.dims(k));
  const first = parts[0] as readonly number[];
  const axis = axisOf(c.int('axis', 0), first.length);
  for (const p of parts) {
    if (p.length !== first.length || p.some((d, i) => i !== axis && d !== first[i])) {
      throw new ShapeMismatch(`Concat on axis ${axis} of [${parts.map((x) => x.join(',')).join('] and [')}]`);
    }
  }
  const dims = [...first];
  dims[axis] = parts.reduce((sum, p) => sum + (p[axis] as number), 0);
  const values = Array.from({ length: c.inputCount }, (_, k) => c.input(k).values);
  const flat = first.length === 1 && values.every((v) => v !== undefined) ? values.flatMap((v) => [...(v as number[])]) : undefined;
  return [tensor(c.dtype(0), dims, flat)];
};

const split: ShapeRule = (c) => {
  const x = c.dims(0);
  const axis = axisOf(c.int('axis', 0), x.length);
  const outputs = (c.node.output ?? []).length;
  const total = x[axis] as number;
  let sizes: readonly number[] | undefined = c.opset >= 13 ? (c.has(1) ? c.values(1) : undefined) : c.ints('split');
  if (sizes === undefined) {
    const chunk = Math.ceil(total / outputs);
    sizes = Array.from({ length: outputs }, (_, k) => Math.max(0, Math.min(chunk, total - k * chunk)));
  }
  const v = c.input(0).values;
  let offset = 0;
  return sizes.map((size) => {
    const dims = [...x];
    dims[axis] = size;
    const part = x.length === 1 && v ? v.slice(offset, offset + size) : undefined;
    offset += size;
    return tensor(c.dtype(0), dims, part);
  });
};

const slice: ShapeRule = (c) => {
  const x = c.dims(0);
  const fromInputs = c.opset >= 10;
  const starts = fromInputs ? c.values(1) : (c.ints('starts') ?? []);
  const ends = fromInputs ? c.values(2) : (c.ints('ends') ?? []);
  const axes = (fromInputs ? (c.has(3) ? c.values(3) : undefined) : c.ints('axes')) ?? starts.map((_, i) => i);
  const steps = (fromInputs && c.has(4) ? c.values(4) : undefined) ?? starts.map(() => 1);
  const dims = [...x];
  const ranges: [number, number, number][] = x.map((d) => [0, d, 1]);
  axes.forEach((rawAxis, k) => {
    const axis = axisOf(rawAxis, x.length);
    const size = x[axis] as number;
    const step = steps[k] ?? 1;
    if (step === 0) throw new ShapeMismatch('Slice step 0');
    const norm = (v: number): number => (v < 0 ? v + size : v);
    const [lo, hi] = step > 0 ? [0, size] : [-1, size - 1];
    const start = Math.min(Math.max(norm(starts[k] as number), lo), hi);
    const end = Math.min(Math.max(norm(ends[k] as number), lo), hi);
    dims[axis] = Math.max(0, Math.ceil((end - start) / step));
    ranges[axis] = [start, end, step];
  });
  const v = c.input(0).values;
  let values: number[] | undefined;
  if (v && x.length === 1) {
    const [start, , step] = ranges[0] as [number, number, number];
    values = Array.from({ length: dims[0] as number }, (_, i) => v[start + i * step] as number);
  }
  return [tensor(c.dtype(0), dims, values)];
};

const gather: ShapeRule = (c) => {
  const data = c.dims(0);
  const indices = c.dims(1);
  const axis = axisOf(c.int('axis', 0), data.length);
  const dims = [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)];
  const v = c.input(0).values;
  const idx = c.input(1).values;
  let values: number[] | undefined;
  if (v && idx && data.length === 1) {
    const size = data[0] as number;
    values = idx.map((i) => {
      const at = i < 0 ? i + size : i;
      if (at < 0 || at >= size) throw new ShapeMismatch(`Gather index ${i} out of range for ${size}`);
      return v[at] as number;
    });
  }
  return [tensor(c.dtype(0), dims, values)];
};

const expand: ShapeRule = (c) => {
  const x = c.dims(0);
  const dims = broadcast(x, c.values(1));
  const v = c.input(0).values;
  const values = v && v.length === 1 && product(dims) <= MAX_TRACKED_ELEMENTS ? new Array<number>(product(dims)).fill(v[0] as number) : undefined;
  return [tensor(c.dtype(0), dims, values)];
};

const pad: ShapeRule = (c) => {
  const x = c.dims(0);
  const pads = c.opset >= 11 ? c.values(1) : (c.ints('pads') ?? []);
  const axes = c.opset >= 18 && c.has(3) ? c.values(3).map((a) => axisOf(a, x.length)) : x.map((_, i) => i);
  const dims = [...x];
  axes.forEach((axis, k) => {
    dims[axis] = (x[axis] as number) + (pads[k] ?? 0) + (pads[k + axes.length] ?? 0);
  });
  return [tensor(c.dtype(0), dims)];
};

const range: ShapeRule = (c) => {
  const [start = 0] = c.values(0);
  const [limit = 0] = c.values(1);
  const [delta = 1] = c.values(2);
  const count = Math.max(Math.ceil((limit - start) / delta), 0);
  return [tensor(c.dtype(0), [count], Array.from({ length: Math.min(count, MAX_TRACKED_ELEMENTS + 1) }, (_, i) => start + i * delta))];
};

const topK: ShapeRule = (c) => {
  const x = c.dims(0);
  const axis = axisOf(c.int('axis', -1), x.length);
  const k = c.opset >= 10 ? (c.values(1)[0] as number) : c.int('k', 1);
  const dims = x.map((d, i) => (i === axis ? k : d));
  return [tensor(c.dtype(0), dims), tensor('int64', dims)];
};

function blockRearrange(c: RuleContext, toSpace: boolean): InferredTensor[] {
  const [n = 0, ch = 0, h = 0, w = 0] = c.dims(0);
  const b = c.int('blocksize', 1);
  return [tensor(c.dtype(0), toSpace ? [n, ch / (b * b), h * b, w * b] : [n, ch * b * b, h / b, w / b])];
}

const oneHot: ShapeRule = (c) => {
  const indices = c.dims(0);
  const depth = c.values(1)[0] as number;
  const rank = indices.length + 1;
  const axis = axisOf(c.int('axis', -1), rank);
  const dims = [...indices];
  dims.splice(axis, 0, depth);
  return [tensor(c.dtype(2), dims)];
};

function likeDtype(c: RuleContext): TensorDtype {
  const a = c.attr('dtype');
  return (a === undefined ? undefined : dtypeOfElemType(int64ToNumber(a.i))) ?? c.dtype(0);
}
