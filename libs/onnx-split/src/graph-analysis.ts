import { SplitModelError, SplitOptionsError } from './errors.js';
import type { OnnxGraph, OnnxModel, OnnxNode, OnnxTensor } from './onnx-types.js';
import { DATA_LOCATION_EXTERNAL, dtypeBytes, dtypeOfElemType, int64ToNumber } from './onnx-types.js';

/** One live node of the analysed graph. */
export interface GraphNode {
  /** Position in {@link GraphAnalysis.nodes} (a topological order). */
  readonly index: number;
  /** Position in the source `graph.node` list. */
  readonly sourceIndex: number;
  /** Unique node name: the source name, or a generated `<opType>_<sourceIndex>` where the source had none or a duplicate. */
  readonly name: string;
  readonly opType: string;
  /** Names read by the node, including outer-scope names read by its subgraphs (If/Loop/Scan bodies). */
  readonly inputs: readonly string[];
  /** Names produced by the node (optional empty outputs dropped). */
  readonly outputs: readonly string[];
  /**
   * True when an output's values depend (transitively) on a latent input; false means conditioning.
   * `Shape`/`Size` of a latent graph input count as conditioning (a generation's shapes never change).
   */
  readonly latent: boolean;
  /** The source message, passed through to stage graphs. */
  readonly proto: OnnxNode;
}

/** Ops whose output depends only on the shape of their input. */
const SHAPE_OPS = new Set(['Shape', 'Size']);

/** An initializer (dense or sparse) and its storage. */
export interface InitializerInfo {
  readonly name: string;
  /** Payload size in bytes (external: the `length` entry, else dims × element size). */
  readonly bytes: number;
  readonly external: boolean;
  readonly sparse: boolean;
}

/** Result of {@link analyseGraph}: who produces and reads each tensor, and which nodes are conditioning. */
export interface GraphAnalysis {
  /** Live nodes (those that contribute to a graph output) in topological order. */
  readonly nodes: readonly GraphNode[];
  /** Real graph inputs (inputs that are not initializers), in declaration order. */
  readonly graphInputs: readonly string[];
  readonly latentInputs: readonly string[];
  /** Real graph inputs that are not latent (timestep, class labels…). */
  readonly conditioningInputs: readonly string[];
  readonly graphOutputs: readonly string[];
  readonly initializers: ReadonlyMap<string, InitializerInfo>;
  /** Tensor name → index of its producing node. Graph inputs and initializers have none. */
  readonly producer: ReadonlyMap<string, number>;
  /** Tensor name → indices of the live nodes that read it. */
  readonly consumers: ReadonlyMap<string, readonly number[]>;
  /** Indices of latent-dependent nodes, topological. */
  readonly latentNodes: readonly number[];
  /** Indices of conditioning (latent-independent) nodes, topological. */
  readonly conditioningNodes: readonly number[];
  /** Per node: the conditioning nodes it needs, directly or through other conditioning nodes (sorted). */
  readonly conditioningClosure: readonly (readonly number[])[];
  /** Tensors that depend on a latent input (latent inputs included). */
  readonly latentTensors: ReadonlySet<string>;
  /** Nodes dropped because no graph output depends on them. */
  readonly deadNodeCount: number;
  /** True when some node names were generated (the source had empty or duplicate names). */
  readonly renamedNodes: boolean;
}

/** Options of {@link analyseGraph}. */
export interface AnalyseGraphOptions {
  /**
   * Graph inputs that carry the latent (noisy sample).
   * @defaultValue `['sample']`
   */
  latentInputs?: readonly string[];
}

/**
 * Finds, for a denoiser graph, which nodes depend on the latent input (hidden-state work to be cut
 * into stages) and which are conditioning (computed only from timestep/class inputs and constants,
 * to be replicated into every stage that needs them), plus the producer/consumer maps the cut needs.
 */
export function analyseGraph(model: OnnxModel, options: AnalyseGraphOptions = {}): GraphAnalysis {
  const graph = model.graph;
  if (graph === undefined) throw new SplitModelError('SPLIT_MODEL_UNREADABLE', 'model has no graph', { field: 'modelPath' });
  const latentInputs = [...(options.latentInputs ?? ['sample'])];

  const initializers = new Map<string, InitializerInfo>();
  for (const t of graph.initializer ?? []) {
    initializers.set(t.name ?? '', { name: t.name ?? '', bytes: tensorBytes(t), external: isExternal(t), sparse: false });
  }
  for (const s of graph.sparseInitializer ?? []) {
    const name = s.values?.name ?? '';
    const bytes = (s.values ? tensorBytes(s.values) : 0) + (s.indices ? tensorBytes(s.indices) : 0);
    initializers.set(name, { name, bytes, external: s.values ? isExternal(s.values) : false, sparse: true });
  }
  const graphInputs = (graph.input ?? []).map((v) => v.name ?? '').filter((n) => n !== '' && !initializers.has(n));
  if (latentInputs.length === 0) {
    throw new SplitOptionsError('SPLIT_UNKNOWN_LATENT_INPUT', 'latentInputs must name at least one graph input', {
      field: 'latentInputs',
    });
  }
  for (const name of latentInputs) {
    if (!graphInputs.includes(name)) {
      throw new SplitOptionsError(
        'SPLIT_UNKNOWN_LATENT_INPUT',
        `latentInputs names "${name}", which is not an input of the graph (inputs: ${graphInputs.join(', ')})`,
        { field: 'latentInputs' },
      );
    }
  }
  const graphOutputs = (graph.output ?? []).map((v) => v.name ?? '');
  const sourceNodes = graph.node ?? [];

  // Unique names, read/written tensor lists, topological order.
  const { names, renamed } = uniqueNodeNames(sourceNodes);
  const reads = sourceNodes.map((n) => nodeReads(n));
  const writes = sourceNodes.map((n) => (n.output ?? []).filter((o) => o !== ''));
  const order = topologicalOrder(sourceNodes, reads, writes, new Set([...graphInputs, ...initializers.keys()]), names);

  // Liveness: keep nodes some graph output depends on.
  const producerSource = new Map<string, number>();
  for (const i of order) for (const o of writes[i] ?? []) producerSource.set(o, i);
  for (const out of graphOutputs) {
    if (!producerSource.has(out)) {
      throw new SplitModelError(
        'SPLIT_UNSUPPORTED_GRAPH',
        `graph output "${out}" is not produced by a node (a graph output that is an input or initializer cannot be split)`,
        { field: 'modelPath' },
      );
    }
  }
  const live = new Set<number>();
  const stack = graphOutputs.map((o) => producerSource.get(o) as number);
  while (stack.length > 0) {
    const i = stack.pop() as number;
    if (live.has(i)) continue;
    live.add(i);
    for (const t of reads[i] ?? []) {
      const p = producerSource.get(t);
      if (p !== undefined && !live.has(p)) stack.push(p);
    }
  }

  // Latent dependence, in topological order.
  const latentTensors = new Set<string>(latentInputs);
  const latentInputSet = new Set<string>(latentInputs);
  const nodes: GraphNode[] = [];
  for (const i of order) {
    if (!live.has(i)) continue;
    const proto = sourceNodes[i] as OnnxNode;
    const inputs = reads[i] ?? [];
    const outputs = writes[i] ?? [];
    // The shape of a latent input is fixed for a whole generation, so `Shape(sample)` is not stale
    // when recomputed later: exporters use it for the batch size (diffusers' `timesteps.expand(
    // sample.shape[0])`), and counting it as latent would drag the whole timestep embedding into
    // stage 0 and hand it on one step stale. It is conditioning; a stage needing it reads the latent.
    const shapeOfLatentInput = SHAPE_OPS.has(proto.opType ?? '') && inputs.length > 0 && inputs.every((t) => latentInputSet.has(t));
    const latent = !shapeOfLatentInput && inputs.some((t) => latentTensors.has(t));
    if (latent) for (const o of outputs) latentTensors.add(o);
    nodes.push({ index: nodes.length, sourceIndex: i, name: names[i] as string, opType: proto.opType ?? '', inputs, outputs, latent, proto });
  }

  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n.index);
    for (const t of new Set(n.inputs)) {
      const list = consumers.get(t);
      if (list) list.push(n.index);
      else consumers.set(t, [n.index]);
    }
  }

  const conditioningClosure: number[][] = [];
  for (const n of nodes) {
    const closure = new Set<number>();
    for (const t of n.inputs) {
      const p = producer.get(t);
      if (p === undefined) continue;
      const pn = nodes[p] as GraphNode;
      if (pn.latent) continue;
      closure.add(p);
      for (const c of conditioningClosure[p] ?? []) closure.add(c);
    }
    conditioningClosure.push([...closure].sort((a, b) => a - b));
  }

  const usedInputs = new Set(nodes.flatMap((n) => n.inputs));
  return {
    nodes,
    graphInputs,
    latentInputs,
    conditioningInputs: graphInputs.filter((n) => !latentInputs.includes(n) && usedInputs.has(n)),
    graphOutputs,
    initializers,
    producer,
    consumers,
    latentNodes: nodes.filter((n) => n.latent).map((n) => n.index),
    conditioningNodes: nodes.filter((n) => !n.latent).map((n) => n.index),
    conditioningClosure,
    latentTensors,
    deadNodeCount: sourceNodes.length - nodes.length,
    renamedNodes: renamed,
  };
}

/** Whether a tensor's payload lives in an external data file. */
export function isExternal(t: OnnxTensor): boolean {
  return t.dataLocation === DATA_LOCATION_EXTERNAL;
}

/** Payload bytes of a tensor without reading external data. */
export function tensorBytes(t: OnnxTensor): number {
  if (isExternal(t)) {
    const length = (t.externalData ?? []).find((e) => e.key === 'length')?.value;
    if (length !== undefined && length !== '') return Number(length);
  } else if (t.rawData && t.rawData.length > 0) {
    return t.rawData.length;
  }
  const dtype = dtypeOfElemType(t.dataType);
  if (dtype === 'string') return (t.stringData ?? []).reduce((sum, s) => sum + s.length, 0);
  const count = (t.dims ?? []).reduce<number>((p, d) => p * int64ToNumber(d), 1);
  return Math.ceil(count * (dtype ? dtypeBytes(dtype) : 0));
}

function uniqueNodeNames(nodes: readonly OnnxNode[]): { names: string[]; renamed: boolean } {
  const counts = new Map<string, number>();
  for (const n of nodes) if (n.name) counts.set(n.name, (counts.get(n.name) ?? 0) + 1);
  const taken = new Set(counts.keys());
  let renamed = false;
  const names = nodes.map((n, i) => {
    if (n.name && counts.get(n.name) === 1) return n.name;
    renamed = true;
    let name = `${n.opType ?? 'Node'}_${i}`;
    while (taken.has(name)) name = `${name}_`;
    taken.add(name);
    return name;
  });
  return { names, renamed };
}

/** Names a node reads: its inputs plus the outer-scope names its subgraph attributes read. */
function nodeReads(node: OnnxNode): string[] {
  const reads = new Set((node.input ?? []).filter((t) => t !== ''));
  for (const a of node.attribute ?? []) {
    for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) for (const t of outerScopeReads(g)) reads.add(t);
  }
  return [...reads];
}

function outerScopeReads(graph: OnnxGraph): Set<string> {
  const defined = new Set<string>();
  for (const v of graph.input ?? []) defined.add(v.name ?? '');
  for (const t of graph.initializer ?? []) defined.add(t.name ?? '');
  for (const s of graph.sparseInitializer ?? []) defined.add(s.values?.name ?? '');
  for (const n of graph.node ?? []) for (const o of n.output ?? []) defined.add(o);
  const refs = new Set<string>();
  for (const n of graph.node ?? []) for (const t of nodeReads(n)) if (t !== '' && !defined.has(t)) refs.add(t);
  return refs;
}

/** The source order when it is topological (the ONNX rule), else a stable topological sort. */
function topologicalOrder(
  nodes: readonly OnnxNode[],
  reads: readonly string[][],
  writes: readonly string[][],
  available: ReadonlySet<string>,
  names: readonly string[],
): number[] {
  const producerOf = new Map<string, number>();
  writes.forEach((outs, i) => {
    for (const o of outs) {
      if (producerOf.has(o) || available.has(o)) {
        throw new SplitModelError('SPLIT_UNSUPPORTED_GRAPH', `tensor "${o}" is produced more than once`, { field: 'modelPath' });
      }
      producerOf.set(o, i);
    }
  });
  const indegree = nodes.map(() => 0);
  const dependants: number[][] = nodes.map(() => []);
  let inOrder = true;
  reads.forEach((ins, i) => {
    for (const t of ins) {
      const p = producerOf.get(t);
      if (p === undefined) {
        if (!available.has(t)) {
          throw new SplitModelError('SPLIT_UNSUPPORTED_GRAPH', `node "${names[i]}" reads "${t}", which nothing produces`, {
            field: 'modelPath',
          });
        }
        continue;
      }
      if (p >= i) inOrder = false;
      (indegree[i] as number)++;
      (dependants[p] as number[]).push(i);
    }
  });
  if (inOrder) return nodes.map((_, i) => i);
  // Kahn's algorithm, always taking the ready node that came first in the source.
  const heap = new MinHeap();
  indegree.forEach((d, i) => d === 0 && heap.push(i));
  const order: number[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    order.push(i);
    for (const j of dependants[i] ?? []) if (--(indegree[j] as number) === 0) heap.push(j);
  }
  if (order.length !== nodes.length) {
    throw new SplitModelError('SPLIT_UNSUPPORTED_GRAPH', 'the graph has a cycle', { field: 'modelPath' });
  }
  return order;
}

class MinHeap {
  private readonly items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  push(v: number): void {
    const a = this.items;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as number) <= v) break;
      a[i] = a[parent] as number;
      i = parent;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.items;
    const top = a[0] as number;
    const last = a.pop() as number;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && (a[r] as number) < (a[l] as number) ? r : l;
        if ((a[c] as number) >= last) break;
        a[i] = a[c] as number;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
