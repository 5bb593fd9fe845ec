import type { OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor } from './onnx-types.js';

/** Every tensor of a graph that may carry external data: initializers, sparse initializers, attribute tensors, subgraphs. */
export function* graphTensors(graph: OnnxGraph): Generator<OnnxTensor> {
  yield* graph.initializer ?? [];
  for (const s of graph.sparseInitializer ?? []) {
    if (s.values) yield s.values;
    if (s.indices) yield s.indices;
  }
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      if (a.t) yield a.t;
      yield* a.tensors ?? [];
      if (a.sparseTensor?.values) yield a.sparseTensor.values;
      if (a.sparseTensor?.indices) yield a.sparseTensor.indices;
      if (a.g) yield* graphTensors(a.g);
      for (const g of a.graphs ?? []) yield* graphTensors(g);
    }
  }
}

/**
 * A copy of a model with `fn` applied to every tensor {@link graphTensors} visits. Only the
 * messages on the path to a changed tensor are copied; the input model (often shared between
 * stages) is never mutated.
 */
export function mapModelTensors(model: OnnxModel, fn: (t: OnnxTensor) => OnnxTensor): OnnxModel {
  return model.graph ? { ...model, graph: mapGraph(model.graph, fn) } : model;
}

function mapGraph(graph: OnnxGraph, fn: (t: OnnxTensor) => OnnxTensor): OnnxGraph {
  return {
    ...graph,
    initializer: (graph.initializer ?? []).map(fn),
    sparseInitializer: (graph.sparseInitializer ?? []).map((s) => ({
      ...s,
      ...(s.values ? { values: fn(s.values) } : {}),
      ...(s.indices ? { indices: fn(s.indices) } : {}),
    })),
    node: (graph.node ?? []).map((node) => mapNode(node, fn)),
  };
}

function mapNode(node: OnnxNode, fn: (t: OnnxTensor) => OnnxTensor): OnnxNode {
  const attributes = node.attribute ?? [];
  if (!attributes.some(carriesTensors)) return node;
  return { ...node, attribute: attributes.map((a) => (carriesTensors(a) ? mapAttribute(a, fn) : a)) };
}

function carriesTensors(a: OnnxAttribute): boolean {
  return (a.t !== undefined && a.t !== null) || (a.tensors ?? []).length > 0 || (a.sparseTensor ?? undefined) !== undefined || (a.g ?? undefined) !== undefined || (a.graphs ?? []).length > 0;
}

function mapAttribute(a: OnnxAttribute, fn: (t: OnnxTensor) => OnnxTensor): OnnxAttribute {
  const sparse = a.sparseTensor;
  return {
    ...a,
    ...(a.t ? { t: fn(a.t) } : {}),
    ...((a.tensors ?? []).length > 0 ? { tensors: (a.tensors ?? []).map(fn) } : {}),
    ...(sparse ? { sparseTensor: { ...sparse, ...(sparse.values ? { values: fn(sparse.values) } : {}), ...(sparse.indices ? { indices: fn(sparse.indices) } : {}) } } : {}),
    ...(a.g ? { g: mapGraph(a.g, fn) } : {}),
    ...((a.graphs ?? []).length > 0 ? { graphs: (a.graphs ?? []).map((g) => mapGraph(g, fn)) } : {}),
  };
}
