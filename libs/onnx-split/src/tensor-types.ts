import type { GraphAnalysis } from './graph-analysis.js';
import { inferDtype } from './dtype-rules.js';
import type { OnnxModel, OnnxValueInfo, TensorDtype } from './onnx-types.js';
import { dtypeOfElemType, int64ToNumber } from './onnx-types.js';

/** What is known about a tensor's type: dtype always, concrete dims when observed or declared static. */
export interface TensorType {
  readonly dtype: TensorDtype;
  /** Concrete dims at the profile shapes (or declared static dims); null when unknown. */
  readonly dims: readonly number[] | null;
  /** The source graph's declaration, copied verbatim into stage graphs when present. */
  readonly declared: OnnxValueInfo | undefined;
}

/** A tensor's dtype and dims as seen by a profiled run or by shape inference (dims null: unknown). */
export interface ObservedType {
  readonly dtype: TensorDtype;
  readonly dims: readonly number[] | null;
}

/**
 * Resolves the dtype (and dims where possible) of every tensor the graph names, from, in order of
 * trust: the graph's own declarations (inputs, outputs, value_info), the dtypes/shapes ORT reported
 * while profiling or shape inference computed (`observed`), and finally per-operator dtype rules
 * (output dtype = first input's, with the usual exceptions: Shape → int64, Cast → `to`…).
 */
export function resolveTensorTypes(
  model: OnnxModel,
  analysis: GraphAnalysis,
  observed: ReadonlyMap<string, ObservedType> | null,
): Map<string, TensorType> {
  const observedDims = (name: string): readonly number[] | null => observed?.get(name)?.dims ?? null;
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
    types.set(v.name, { dtype, dims: observedDims(v.name) ?? staticDims, declared: v });
  }
  for (const node of analysis.nodes) {
    node.outputs.forEach((out, k) => {
      const known = types.get(out);
      const seen = observed?.get(out);
      if (known) {
        if (known.dims === null && seen?.dims) types.set(out, { ...known, dims: seen.dims });
        return;
      }
      const ruled = inferDtype(node.opType, node.proto.input ?? [], node.proto.attribute ?? [], k, (name) => types.get(name)?.dtype);
      if (seen) {
        types.set(out, { dtype: profiledDtype(seen.dtype, ruled), dims: seen.dims, declared: undefined });
        return;
      }
      if (ruled) types.set(out, { dtype: ruled, dims: null, declared: undefined });
    });
  }
  return types;
}


/**
 * ORT's CPU provider has no float16 kernel for many operators (Conv, most of an fp16 UNet): even
 * with optimisations off it inserts Casts and runs them in float32, and its profile then reports
 * float32 outputs for nodes the graph types as float16. A stage file declaring such a boundary
 * float32 fails to load ("Type (tensor(float)) of output arg … does not match expected type
 * (tensor(float16))"), so where the rules say half precision, the graph's own typing wins.
 */
function profiledDtype(seen: TensorDtype, ruled: TensorDtype | undefined): TensorDtype {
  return seen === 'float32' && ruled === 'float16' ? ruled : seen;
}
