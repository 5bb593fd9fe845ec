/**
 * Shape rules of the compute operators: elementwise math, MatMul/Gemm/Einsum, convolutions and
 * pooling, normalisations, reductions, Resize. Each rule gives output dtypes and dims (and values
 * for small integer arithmetic, which feeds Reshape/Expand shapes).
 */
import type { TensorDtype } from './onnx-types.js';
import { isFloatDtype } from './onnx-types.js';
import type { InferredTensor, RuleContext, ShapeRule } from './shape-rule-context.js';
import { axisOf, broadcast, broadcastValues, ShapeMismatch, tensor, UnknownShape } from './shape-rule-context.js';

const UNARY_SAME = [
  'Identity', 'Abs', 'Neg', 'Relu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round',
  'Erf', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Softplus', 'Softsign',
  'Elu', 'Selu', 'Celu', 'LeakyRelu', 'ThresholdedRelu', 'HardSigmoid', 'HardSwish', 'Gelu', 'Mish', 'Sign', 'Shrink',
  'Softmax', 'LogSoftmax', 'Hardmax', 'Clip', 'InstanceNormalization', 'GroupNormalization', 'LpNormalization',
  'MeanVarianceNormalization', 'LRN', 'CumSum', 'Trilu', 'ScatterND', 'ScatterElements', 'Scatter', 'BitwiseNot',
  'QuickGelu', 'FastGelu', 'BiasGelu', 'BatchNormalization', 'Dropout',
];
const BOOL_UNARY = ['Not', 'IsNaN', 'IsInf'];
const ARITHMETIC = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Mod', 'Sum', 'Mean', 'PRelu', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor'];
const COMPARISON = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'];
const REDUCE = ['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

/** Rules of the compute operators, by op type (default domain). */
export function mathRules(): Map<string, ShapeRule> {
  const rules = new Map<string, ShapeRule>();
  for (const op of UNARY_SAME) rules.set(op, unarySame(op));
  for (const op of BOOL_UNARY) rules.set(op, (c) => [tensor('bool', c.dims(0))]);
  for (const op of ARITHMETIC) rules.set(op, elementwise(op, false));
  for (const op of COMPARISON) rules.set(op, elementwise(op, true));
  for (const op of REDUCE) rules.set(op, reduce(op));
  rules.set('Where', where);
  rules.set('MatMul', matMul);
  rules.set('MatMulInteger', matMul);
  rules.set('Gemm', gemm);
  rules.set('Einsum', einsum);
  rules.set('Conv', conv);
  rules.set('ConvTranspose', convTranspose);
  for (const op of ['MaxPool', 'AveragePool', 'LpPool']) rules.set(op, pool);
  for (const op of ['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']) rules.set(op, (c) => [tensor(c.dtype(0), c.dims(0).map((d, i) => (i < 2 ? d : 1)))]);
  rules.set('LayerNormalization', layerNorm);
  rules.set('SkipLayerNormalization', (c) => [tensor(c.dtype(0), c.dims(0))]);
  rules.set('ArgMax', argReduce);
  rules.set('ArgMin', argReduce);
  rules.set('Resize', resize);
  rules.set('Upsample', resize);
  return rules;
}

function unarySame(op: string): ShapeRule {
  return (c) => {
    const x = c.input(0);
    const dims = c.dims(0);
    let values: number[] | undefined;
    if (x.values !== undefined) {
      if (op === 'Identity') values = [...x.values];
      else if (op === 'Neg') values = x.values.map((v) => -v);
      else if (op === 'Abs') values = x.values.map(Math.abs);
      else if (op === 'Floor') values = x.values.map(Math.floor);
      else if (op === 'Ceil') values = x.values.map(Math.ceil);
    }
    const out: InferredTensor[] = [tensor(x.dtype, dims, values)];
    if (op === 'Dropout') out.push(tensor('bool', dims));
    if (op === 'BatchNormalization') {
      const channels = dims[1] ?? 1;
      for (let k = 1; k < 5; k++) out.push(tensor(x.dtype, [channels]));
    }
    return out;
  };
}

function elementwise(op: string, boolean: boolean): ShapeRule {
  return (c) => {
    const shapes = Array.from({ length: c.inputCount }, (_, k) => c.dims(k));
    const dims = broadcast(...shapes);
    const dtype: TensorDtype = boolean ? 'bool' : c.dtype(0);
    const inputs = Array.from({ length: c.inputCount }, (_, k) => c.input(k).values);
    let values: number[] | undefined;
    if (inputs.every((v) => v !== undefined)) {
      const fn = arithmetic(op, !isFloatDtype(c.dtype(0)));
      if (fn) values = broadcastValues(shapes, inputs as number[][], fn);
    }
    return [tensor(dtype, dims, values)];
  };
}

function arithmetic(op: string, integer: boolean): ((xs: number[]) => number) | undefined {
  const int = (v: number): number => (integer ? Math.trunc(v) : v);
  switch (op) {
    case 'Add':
    case 'Sum':
      return (xs) => xs.reduce((a, b) => a + b, 0);
    case 'Sub':
      return ([a = 0, b = 0]) => a - b;
    case 'Mul':
      return (xs) => xs.reduce((a, b) => a * b, 1);
    case 'Div':
      return ([a = 0, b = 1]) => int(a / b);
    case 'Mod':
      return ([a = 0, b = 1]) => a - b * Math.floor(a / b);
    case 'Pow':
      return ([a = 0, b = 1]) => int(a ** b);
    case 'Max':
      return (xs) => Math.max(...xs);
    case 'Min':
      return (xs) => Math.min(...xs);
    case 'Equal':
      return ([a, b]) => (a === b ? 1 : 0);
    case 'Less':
      return ([a = 0, b = 0]) => (a < b ? 1 : 0);
    case 'Greater':
      return ([a = 0, b = 0]) => (a > b ? 1 : 0);
    case 'LessOrEqual':
      return ([a = 0, b = 0]) => (a <= b ? 1 : 0);
    case 'GreaterOrEqual':
      return ([a = 0, b = 0]) => (a >= b ? 1 : 0);
    case 'And':
      return ([a, b]) => (a && b ? 1 : 0);
    case 'Or':
      return ([a, b]) => (a || b ? 1 : 0);
    case 'Xor':
      return ([a, b]) => (Boolean(a) !== Boolean(b) ? 1 : 0);
    default:
      return undefined;
  }
}

const where: ShapeRule = (c) => {
  const shapes = [c.dims(0), c.dims(1), c.dims(2)];
  const [cond, x, y] = [c.input(0).values, c.input(1).values, c.input(2).values];
  const values = cond && x && y ? broadcastValues(shapes, [cond, x, y], ([k, a = 0, b = 0]) => (k ? a : b)) : undefined;
  return [tensor(c.dtype(1), broadcast(...shapes), values)];
};

const matMul: ShapeRule = (c) => {
  const a = c.dims(0);
  const b = c.dims(1);
  if (a.length === 0 || b.length === 0) throw new ShapeMismatch('MatMul of a scalar');
  const a2 = a.length === 1 ? [1, a[0] as number] : a;
  const b2 = b.length === 1 ? [b[0] as number, 1] : b;
  const k = a2[a2.length - 1];
  if (k !== b2[b2.length - 2]) throw new ShapeMismatch(`MatMul inner dims differ: [${a.join(',')}] × [${b.join(',')}]`);
  const batch = broadcast(a2.slice(0, -2), b2.slice(0, -2));
  const dims = [...batch, ...(a.length === 1 ? [] : [a2[a2.length - 2] as number]), ...(b.length === 1 ? [] : [b2[b2.length - 1] as number])];
  const dtype: TensorDtype = c.node.opType === 'MatMulInteger' ? 'int32' : c.dtype(0);
  return [tensor(dtype, dims)];
};

const gemm: ShapeRule = (c) => {
  const a = c.dims(0);
  const b = c.dims(1);
  const [m, ka] = c.int('transA', 0) ? [a[1], a[0]] : [a[0], a[1]];
  const [kb, n] = c.int('transB', 0) ? [b[1], b[0]] : [b[0], b[1]];
  if (ka !== kb || m === undefined || n === undefined) throw new ShapeMismatch(`Gemm inner dims differ: [${a.join(',')}] × [${b.join(',')}]`);
  return [tensor(c.dtype(0), [m, n])];
};

const einsum: ShapeRule = (c) => {
  const equation = c.string('equation', '').replace(/\s/g, '');
  const [lhs = '', rhs] = equation.split('->');
  if (lhs.includes('.') || (rhs ?? '').includes('.')) throw new UnknownShape('Einsum with ellipsis');
  const terms = lhs.split(',');
  const size = new Map<string, number>();
  terms.forEach((term, k) => {
    const dims = c.dims(k);
    if (term.length !== dims.length) throw new ShapeMismatch(`Einsum term ${term} has rank ${term.length}, input ${k} has rank ${dims.length}`);
    [...term].forEach((letter, i) => {
      const d = dims[i] as number;
      const known = size.get(letter);
      if (known === undefined || known === 1) size.set(letter, d);
      else if (d !== known && d !== 1) throw new ShapeMismatch(`Einsum letter ${letter} is ${known} and ${d}`);
    });
  });
  const output = rhs ?? [...size.keys()].filter((l) => terms.join('').split(l).length === 2).sort().join('');
  return [tensor(c.dtype(0), [...output].map((l) => size.get(l) ?? 1))];
};

/** Output spatial sizes of a convolution or pooling window. */
function windowDims(c: RuleContext, spatial: readonly number[], kernel: readonly number[], ceilMode: boolean): number[] {
  const n = spatial.length;
  const strides = c.ints('strides') ?? new Array<number>(n).fill(1);
  const dilations = c.ints('dilations') ?? new Array<number>(n).fill(1);
  const pads = c.ints('pads') ?? new Array<number>(2 * n).fill(0);
  const autoPad = c.string('auto_pad', 'NOTSET');
  return spatial.map((size, i) => {
    const s = strides[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(size / s);
    const extent = ((kernel[i] as number) - 1) * (dilations[i] ?? 1) + 1;
    const padded = autoPad === 'VALID' ? size : size + (pads[i] ?? 0) + (pads[i + n] ?? 0);
    const steps = (padded - extent) / s;
    const out = (ceilMode ? Math.ceil(steps) : Math.floor(steps)) + 1;
    if (out < 1) throw new ShapeMismatch(`window of ${extent} does not fit an input of ${size}`);
    return out;
  });
}

const conv: ShapeRule = (c) => {
  const x = c.dims(0);
  const w = c.dims(1);
  const group = c.int('group', 1);
  if (x.length !== w.length || x[1] !== (w[1] as number) * group) {
    throw new ShapeMismatch(`Conv input [${x.join(',')}] does not match weight [${w.join(',')}] (group ${group})`);
  }
  const kernel = c.ints('kernel_shape') ?? w.slice(2);
  return [tensor(c.dtype(0), [x[0] as number, w[0] as number, ...windowDims(c, x.slice(2), kernel, false)])];
};

const convTranspose: ShapeRule = (c) => {
  const x = c.dims(0);
  const w = c.dims(1);
  const group = c.int('group', 1);
  const n = x.length - 2;
  const kernel = c.ints('kernel_shape') ?? w.slice(2);
  const strides = c.ints('strides') ?? new Array<number>(n).fill(1);
  const dilations = c.ints('dilations') ?? new Array<number>(n).fill(1);
  const pads = c.ints('pads') ?? new Array<number>(2 * n).fill(0);
  const outputPadding = c.ints('output_padding') ?? new Array<number>(n).fill(0);
  const explicit = c.ints('output_shape');
  const spatial = x.slice(2).map((size, i) => {
    if (explicit) return explicit[explicit.length - n + i] as number;
    const extent = ((kernel[i] as number) - 1) * (dilations[i] ?? 1) + 1;
    return (strides[i] ?? 1) * (size - 1) + (outputPadding[i] ?? 0) + extent - (pads[i] ?? 0) - (pads[i + n] ?? 0);
  });
  return [tensor(c.dtype(0), [x[0] as number, (w[1] as number) * group, ...spatial])];
};

const pool: ShapeRule = (c) => {
  const x = c.dims(0);
  const kernel = c.ints('kernel_shape');
  if (kernel === undefined) throw new ShapeMismatch(`${c.node.opType} without kernel_shape`);
  const dims = [x[0] as number, x[1] as number, ...windowDims(c, x.slice(2), kernel, c.int('ceil_mode', 0) === 1)];
  return c.node.opType === 'MaxPool' ? [tensor(c.dtype(0), dims), tensor('int64', dims)] : [tensor(c.dtype(0), dims)];
};

const layerNorm: ShapeRule = (c) => {
  const x = c.dims(0);
  const axis = axisOf(c.int('axis', -1), x.length);
  const statsDims = x.map((d, i) => (i < axis ? d : 1));
  const stash: TensorDtype = c.int('stash_type', 1) === 1 ? 'float32' : c.dtype(0);
  return [tensor(c.dtype(0), x), tensor(stash, statsDims), tensor(stash, statsDims)];
};

function reduce(op: string): ShapeRule {
  return (c) => {
    const x = c.dims(0);
    const keep = c.int('keepdims', 1) === 1;
    const axesFromInput = (op === 'ReduceSum' && c.opset >= 13) || c.opset >= 18;
    const given = axesFromInput ? (c.has(1) ? c.values(1) : undefined) : c.ints('axes');
    if (given !== undefined && given.length === 0 && axesFromInput && c.int('noop_with_empty_axes', 0) === 1) return [tensor(c.dtype(0), x)];
    const axes = new Set((given === undefined || given.length === 0 ? x.map((_, i) => i) : given).map((a) => axisOf(a, x.length)));
    const dims = keep ? x.map((d, i) => (axes.has(i) ? 1 : d)) : x.filter((_, i) => !axes.has(i));
    const v = c.input(0).values;
    let values: number[] | undefined;
    if (v && x.length === 1 && axes.size === 1) {
      if (op === 'ReduceProd') values = [v.reduce((a, b) => a * b, 1)];
      else if (op === 'ReduceSum') values = [v.reduce((a, b) => a + b, 0)];
      else if (op === 'ReduceMax') values = [Math.max(...v)];
      else if (op === 'ReduceMin') values = [Math.min(...v)];
    }
    return [tensor(c.dtype(0), dims, values)];
  };
}

const argReduce: ShapeRule = (c) => {
  const x = c.dims(0);
  const axis = axisOf(c.int('axis', 0), x.length);
  const dims = c.int('keepdims', 1) === 1 ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis);
  return [tensor('int64', dims)];
};

const resize: ShapeRule = (c) => {
  const x = c.dims(0);
  const op = c.node.opType;
  let scales: readonly number[] | undefined;
  let sizes: readonly number[] | undefined;
  if (op === 'Upsample' && c.opset < 9) scales = c.attr('scales')?.floats;
  else if (op === 'Upsample' || c.opset < 11) scales = c.values(1);
  else {
    if (c.has(3)) sizes = c.values(3);
    if (sizes === undefined && c.has(2)) scales = c.values(2);
  }
  const axesAttr = c.ints('axes');
  const axes = axesAttr ? axesAttr.map((a) => axisOf(a, x.length)) : x.map((_, i) => i);
  const dims = [...x];
  axes.forEach((axis, k) => {
    if (sizes !== undefined) dims[axis] = sizes[k] as number;
    else if (scales !== undefined) dims[axis] = Math.floor((x[axis] as number) * (scales[k] as number));
    else throw new ShapeMismatch('Resize without scales or sizes');
  });
  return [tensor(c.dtype(0), dims)];
};
