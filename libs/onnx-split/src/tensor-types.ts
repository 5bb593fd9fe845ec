import type { GraphAnalysis } from './graph-analysis.js';
import type { OnnxAttribute, OnnxModel, OnnxValueInfo, TensorDtype } from './onnx-types.js';
import { dtypeOfElemType, int64ToNumber } from './onnx-types.js';
import type { NodeProfile } from './profile.js';

/** What is known about a tensor's type: dtype always, concrete dims when observed or declared static. */
export interface TensorType {
  readonly dtype: TensorDtype;
  /** Concrete dims at the profile shapes (or declared static dims); null when unknown. */
  readonly dims: readonly number[] | null;
  /** The source graph's declaration, copied verbatim into stage graphs when present. */
  readonly declared: OnnxValueInfo | undefined;
}

const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression', 'Multinomial']);
const BOOL_OPS = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);

/**
 * Resolves the dtype (and dims where possible) of every tensor the graph names, from, in order of
 * trust: the graph's own declarations (inputs, outputs, value_info), the dtypes/shapes ORT reported
 * while profiling, and finally per-operator dtype rules (output dtype = first input's, with the
 * usual exceptions: Shape → int64, Cast → `to`, comparisons → bool…).
 */
export function resolveTensorTypes(model: OnnxModel, analysis: GraphAnalysis, profile: NodeProfile | null): Map<string, TensorType> {
  const graph = model.graph ?? {};
  const types = new Map<string, TensorType>();
  for (const t of graph.initializer ?? []) {
    const dtype = dtypeOfElemType(t.dataType);
    if (dtype) types.set(t.name ?? '', { dtype, dims: (t.dims ?? []).map(int64ToNumber), declared: undefined });
  }
  for (const s of graph.sparseInitializer ?? []) {
    const dtype = dtypeOfElemType(s.values?.dataType);
    if (dtype) types.set(s.values?.name ?? '', { dtype, dims: (s.dims ?? []).map(int64ToNumber), declared: undefined });
  }
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const dtype = dtypeOfElemType(v.type?.tensorType?.elemType);
    if (!dtype || !v.name || types.get(v.name)?.declared) continue;
    const dimList = v.type?.tensorType?.shape?.dim;
    const staticDims =
      dimList && dimList.every((d) => d.dimValue !== undefined && d.dimValue !== null && int64ToNumber(d.dimValue) > 0)
        ? dimList.map((d) => int64ToNumber(d.dimValue))
        : null;
    const observed = profile?.tensors[v.name];
    types.set(v.name, { dtype, dims: observed?.dims ?? staticDims, declared: v });
  }
  for (const node of analysis.nodes) {
    node.outputs.forEach((out, k) => {
      const known = types.get(out);
      const observed = profile?.tensors[out];
      if (known) {
        if (known.dims === null && observed) types.set(out, { ...known, dims: observed.dims });
        return;
      }
      if (observed) {
        types.set(out, { dtype: observed.dtype, dims: observed.dims, declared: undefined });
        return;
      }
      const dtype = inferDtype(node.opType, node.proto.input ?? [], node.proto.attribute ?? [], k, types);
      if (dtype) types.set(out, { dtype, dims: null, declared: undefined });
    });
  }
  return types;
}

function inferDtype(
  opType: string,
  inputs: readonly string[],
  attributes: readonly OnnxAttribute[],
  outputIndex: number,
  known: ReadonlyMap<string, TensorType>,
): TensorDtype | undefined {
  const attr = (name: string): OnnxAttribute | undefined => attributes.find((a) => a.name === name);
  const inputDtype = (k: number): TensorDtype | undefined => {
    const name = inputs[k];
    return name ? known.get(name)?.dtype : undefined;
  };
  if (INT64_OPS.has(opType)) return 'int64';
  if (BOOL_OPS.has(opType)) return 'bool';
  switch (opType) {
    case 'Cast':
      return dtypeOfElemType(int64ToNumber(attr('to')?.i));
    case 'CastLike':
      return inputDtype(1);
    case 'Constant': {
      const a = attributes[0];
      if (a?.t) return dtypeOfElemType(a.t.dataType);
      if (a?.name === 'value_float' || a?.name === 'value_floats') return 'float32';
      if (a?.name === 'value_int' || a?.name === 'value_ints') return 'int64';
      return undefined;
    }
    case 'ConstantOfShape': {
      const t = attr('value')?.t;
      return t ? dtypeOfElemType(t.dataType) : 'float32';
    }
    case 'Where':
      return inputDtype(1);
    case 'TopK':
    case 'Unique':
      return outputIndex === 0 ? inputDtype(0) : 'int64';
    case 'DequantizeLinear':
      return 'float32';
    case 'QuantizeLinear':
      return inputDtype(2) ?? 'uint8';
    case 'EyeLike':
    case 'RandomNormalLike':
    case 'RandomUniformLike': {
      const dtype = attr('dtype');
      return dtype ? dtypeOfElemType(int64ToNumber(dtype.i)) : inputDtype(0);
    }
    default:
      return inputDtype(0);
  }
}
