import type { GraphAnalysis } from './graph-analysis.js';
import type { OnnxModel, OnnxNode, OnnxValueInfo } from './onnx-types.js';
import { elemTypeOfDtype } from './onnx-types.js';
import type { StageContents } from './stage-contents.js';
import type { TensorType } from './tensor-types.js';
import { SplitModelError } from './errors.js';

/**
 * Builds the ONNX model of one stage. Nodes, initializers, opset imports, model-local functions
 * and metadata are the source's own messages (fields of IR versions newer than this lib knows are
 * kept too); external-data initializers are still references into the source's data files here —
 * `writeModelWithOwnData` gives the stage its own data file when it is written.
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

  const stageTensors = new Set([...produced, ...io, ...initNames]);
  // Spread the source first: model fields of newer IR versions (e.g. multi-device `configuration`)
  // pass through; training info describes the whole model and is dropped.
  const { trainingInfo: _training, ...modelFields } = model;
  return {
    ...modelFields,
    opsetImport: model.opsetImport ?? [],
    producerName: model.producerName ?? '',
    producerVersion: model.producerVersion ?? '',
    domain: model.domain ?? '',
    docString: model.docString ?? '',
    metadataProps: [
      ...(model.metadataProps ?? []),
      { key: 'asyncdiff.stage', value: String(stage.index) },
      { key: 'asyncdiff.stage_count', value: String(stageCount) },
    ],
    functions: model.functions ?? [],
    graph: {
      name: `${graph.name || 'graph'}_stage${stage.index}`,
      ...(graph.docString ? { docString: graph.docString } : {}),
      ...(graph.metadataProps ? { metadataProps: graph.metadataProps } : {}),
      node: nodes,
      initializer: (graph.initializer ?? []).filter((t) => initNames.has(t.name ?? '')),
      sparseInitializer: (graph.sparseInitializer ?? []).filter((s) => initNames.has(s.values?.name ?? '')),
      input: [...stage.inputs.map((i) => valueInfo(i.name)), ...initializerInputs],
      output: stage.outputs.map((o) => valueInfo(o.name)),
      valueInfo: (graph.valueInfo ?? []).filter((v) => produced.has(v.name ?? '') && !io.has(v.name ?? '')),
      quantizationAnnotation: (graph.quantizationAnnotation ?? []).filter((q) => stageTensors.has((q as { tensorName?: string }).tensorName ?? '')),
    },
  };
}
