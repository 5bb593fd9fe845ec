import type { GraphAnalysis } from './graph-analysis.js';
import type { OnnxModel, OnnxNode, OnnxValueInfo } from './onnx-types.js';
import { elemTypeOfDtype } from './onnx-types.js';
import type { StageContents } from './stage-contents.js';
import type { TensorType } from './tensor-types.js';
import { SplitModelError } from './errors.js';

/**
 * Builds the ONNX model of one stage. Nodes, initializers (external-data references included),
 * opset imports, model-local functions and metadata are the source's own messages, so weights are
 * never copied or read: a stage file written in the source model's directory points at the same
 * external data file with the same `location`.
 */
export function buildStageModel(
  model: OnnxModel,
  analysis: GraphAnalysis,
  stage: StageContents,
  types: ReadonlyMap<string, TensorType>,
  stageCount: number,
): OnnxModel {
  const graph = model.graph ?? {};
  const initNames = new Set(stage.initializers);
  const produced = new Set(stage.nodes.flatMap((i) => analysis.nodes[i]?.outputs ?? []));
  const io = new Set([...stage.inputs.map((i) => i.name), ...stage.outputs.map((o) => o.name)]);

  const valueInfo = (name: string): OnnxValueInfo => {
    const t = types.get(name);
    if (t === undefined) {
      throw new SplitModelError('SPLIT_TYPE_UNKNOWN', `cannot determine the dtype of "${name}" (declare it in value_info or profile the model)`, {
        field: 'modelPath',
      });
    }
    if (t.declared) return t.declared;
    // Rank from the observed dims, every dim symbolic: batch and other sizes stay free.
    const shape = t.dims ? { dim: t.dims.map((_, k) => ({ dimParam: `${name}_dim${k}` })) } : undefined;
    return { name, type: { tensorType: { elemType: elemTypeOfDtype(t.dtype), ...(shape ? { shape } : {}) } } };
  };

  const nodes: OnnxNode[] = stage.nodes.map((i) => {
    const node = analysis.nodes[i];
    if (node === undefined) throw new Error(`node ${i} missing (bug)`);
    return node.proto.name === node.name ? node.proto : { ...node.proto, name: node.name };
  });
  // Models before IR 4 list initializers among the inputs too; keep that for the ones a stage holds.
  const initializerInputs = (graph.input ?? []).filter((v) => initNames.has(v.name ?? ''));

  return {
    ...(model.irVersion !== undefined ? { irVersion: model.irVersion } : {}),
    opsetImport: model.opsetImport ?? [],
    producerName: model.producerName ?? '',
    producerVersion: model.producerVersion ?? '',
    domain: model.domain ?? '',
    ...(model.modelVersion !== undefined ? { modelVersion: model.modelVersion } : {}),
    docString: model.docString ?? '',
    metadataProps: [
      ...(model.metadataProps ?? []),
      { key: 'asyncdiff.stage', value: String(stage.index) },
      { key: 'asyncdiff.stage_count', value: String(stageCount) },
    ],
    functions: model.functions ?? [],
    graph: {
      name: `${graph.name || 'graph'}_stage${stage.index}`,
      node: nodes,
      initializer: (graph.initializer ?? []).filter((t) => initNames.has(t.name ?? '')),
      sparseInitializer: (graph.sparseInitializer ?? []).filter((s) => initNames.has(s.values?.name ?? '')),
      input: [...stage.inputs.map((i) => valueInfo(i.name)), ...initializerInputs],
      output: stage.outputs.map((o) => valueInfo(o.name)),
      valueInfo: (graph.valueInfo ?? []).filter((v) => produced.has(v.name ?? '') && !io.has(v.name ?? '')),
    },
  };
}
