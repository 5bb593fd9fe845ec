import { inferDtype } from './dtype-rules.js';
import { SplitOptionsError } from './errors.js';
import type { GraphAnalysis } from './graph-analysis.js';
import type { OnnxModel } from './onnx-types.js';
import { dtypeOfElemType, int64ToNumber } from './onnx-types.js';
import type { InputSpecs } from './random-feeds.js';
import type { InferredTensor, ShapeRule } from './shape-rule-context.js';
import { RuleContext, ShapeMismatch, tensor, UnknownShape } from './shape-rule-context.js';
import { layoutRules } from './shape-rules-layout.js';
import { mathRules } from './shape-rules-math.js';
import { tensorValues } from './tensor-values.js';

export type { InferredTensor } from './shape-rule-context.js';

/** Result of {@link inferShapes}. */
export interface ShapeInference {
  /** Tensor name → dtype, dims (null where unknown) and small values, for inputs, initializers and node outputs. */
  readonly tensors: ReadonlyMap<string, InferredTensor>;
  /** Op types (`domain:op` outside the default domain) with no shape rule, with how many live nodes use them. */
  readonly unsupportedOps: Readonly<Record<string, number>>;
  /** Live nodes with at least one output of unknown dims (unsupported, or downstream of one). */
  readonly unknownNodes: number;
}

let cachedRules: Map<string, ShapeRule> | undefined;

function rules(): Map<string, ShapeRule> {
  cachedRules ??= new Map([...mathRules(), ...layoutRules()]);
  return cachedRules;
}

/**
 * Computes every tensor's dtype and concrete dims at the given input shapes from the graph alone:
 * per-operator rules, with element values carried through the small integer tensors exported
 * graphs use for shape arithmetic. No weights are read and nothing runs, so it works for a model
 * of any size and answers in milliseconds. This is what the analytic cost model and the boundary
 * tensor types of a large model stand on (exported UNets declare almost no value_info).
 *
 * Throws {@link SplitOptionsError} naming `inputs.<name>` when an input spec contradicts the
 * graph's declaration, or `inputs` when the shapes do not fit some operator.
 */
export function inferShapes(model: OnnxModel, analysis: GraphAnalysis, inputs: InputSpecs): ShapeInference {
  const graph = model.graph ?? {};
  const tensors = new Map<string, InferredTensor>();
  for (const t of graph.initializer ?? []) {
    const dtype = dtypeOfElemType(t.dataType);
    if (dtype) tensors.set(t.name ?? '', tensor(dtype, (t.dims ?? []).map(int64ToNumber), tensorValues(t)));
  }
  for (const s of graph.sparseInitializer ?? []) {
    const dtype = dtypeOfElemType(s.values?.dataType);
    if (dtype) tensors.set(s.values?.name ?? '', tensor(dtype, (s.dims ?? []).map(int64ToNumber)));
  }
  seedInputs(model, analysis, inputs, tensors);

  const opsets = new Map<string, number>();
  for (const o of model.opsetImport ?? []) opsets.set(o.domain === 'ai.onnx' ? '' : (o.domain ?? ''), int64ToNumber(o.version));
  const unsupportedOps: Record<string, number> = {};
  let unknownNodes = 0;
  for (const node of analysis.nodes) {
    const proto = node.proto;
    const domain = proto.domain === 'ai.onnx' ? '' : (proto.domain ?? '');
    const rule = domain === '' ? rules().get(node.opType) : undefined;
    const names = proto.output ?? [];
    let outputs: readonly (InferredTensor | undefined)[] = [];
    if (rule === undefined) {
      const key = domain === '' ? node.opType : `${domain}:${node.opType}`;
      unsupportedOps[key] = (unsupportedOps[key] ?? 0) + 1;
    } else {
      const context = new RuleContext(
        proto,
        opsets.get(domain) ?? 1,
        (proto.input ?? []).map((name) => (name === '' ? undefined : tensors.get(name))),
      );
      try {
        outputs = rule(context);
      } catch (error) {
        if (error instanceof ShapeMismatch) {
          throw new SplitOptionsError('SPLIT_INVALID_OPTION', `inputs: node "${node.name}" (${node.opType}) cannot run at the given input shapes: ${error.message}`, {
            field: 'inputs',
            cause: error,
          });
        }
        if (!(error instanceof UnknownShape)) throw error;
      }
    }
    let unknown = false;
    names.forEach((name, k) => {
      if (name === '') return;
      const out = outputs[k];
      if (out !== undefined && out.dims !== null) {
        tensors.set(name, out);
        return;
      }
      unknown = true;
      const dtype = out?.dtype ?? inferDtype(node.opType, proto.input ?? [], proto.attribute ?? [], k, (n) => tensors.get(n)?.dtype);
      if (dtype) tensors.set(name, { dtype, dims: null });
    });
    if (unknown) unknownNodes++;
  }
  return { tensors, unsupportedOps, unknownNodes };
}

/** Graph inputs from the specs, checked against the graph's declared dtype, rank and static dims. */
function seedInputs(model: OnnxModel, analysis: GraphAnalysis, inputs: InputSpecs, into: Map<string, InferredTensor>): void {
  const declared = new Map((model.graph?.input ?? []).map((v) => [v.name ?? '', v]));
  for (const name of [...analysis.latentInputs, ...analysis.conditioningInputs]) {
    const spec = inputs[name];
    const field = `inputs.${name}`;
    if (spec === undefined) {
      throw new SplitOptionsError('SPLIT_INVALID_OPTION', `${field} is missing: the analytic cost model needs the shape and dtype of every graph input`, { field });
    }
    const type = declared.get(name)?.type?.tensorType;
    const dtype = dtypeOfElemType(type?.elemType);
    if (dtype !== undefined && dtype !== spec.dtype) {
      throw new SplitOptionsError('SPLIT_INVALID_OPTION', `${field}.dtype is ${spec.dtype} but the graph declares ${dtype}`, { field });
    }
    const dims = type?.shape?.dim;
    if (dims !== undefined) {
      if (dims.length !== spec.dims.length) {
        throw new SplitOptionsError('SPLIT_INVALID_OPTION', `${field}.dims has rank ${spec.dims.length} but the graph declares rank ${dims.length}`, { field });
      }
      dims.forEach((d, i) => {
        const fixed = int64ToNumber(d.dimValue);
        if (fixed > 0 && fixed !== spec.dims[i]) {
          throw new SplitOptionsError('SPLIT_INVALID_OPTION', `${field}.dims[${i}] is ${spec.dims[i]} but the graph fixes it to ${fixed}`, { field });
        }
      });
    }
    into.set(name, { dtype: spec.dtype, dims: [...spec.dims] });
  }
}
