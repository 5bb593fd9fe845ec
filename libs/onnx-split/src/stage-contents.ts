import { SplitAssignmentError } from './errors.js';
import type { GraphAnalysis } from './graph-analysis.js';
import type { StageInputKind } from './split-plan.js';

/** What one stage graph holds and exchanges (names only; types are added when writing). */
export interface StageContents {
  readonly index: number;
  /** Node indices (into `analysis.nodes`), topological: its latent nodes plus replicated conditioning. */
  readonly nodes: readonly number[];
  readonly latentNodes: readonly number[];
  readonly conditioningNodes: readonly number[];
  /** Initializer names the stage's nodes read, in first-use order. */
  readonly initializers: readonly string[];
  readonly inputs: readonly { readonly name: string; readonly kind: StageInputKind; readonly producer?: number }[];
  readonly outputs: readonly { readonly name: string; readonly consumers: readonly number[]; readonly graphOutput: boolean }[];
}

/** A tensor that crosses stages: made by one stage, read by others. */
export interface BoundaryTensor {
  readonly name: string;
  readonly producer: number;
  readonly consumers: readonly number[];
}

/** The cut as a whole. */
export interface StageLayout {
  readonly stages: readonly StageContents[];
  readonly boundaries: readonly BoundaryTensor[];
  /** Graph output name → stage that produces it. */
  readonly graphOutputStage: ReadonlyMap<string, number>;
}

/**
 * Turns a stage index per latent node into stage contents: each stage gets its latent nodes, every
 * conditioning node they need (replicated, so conditioning is recomputed fresh in every stage),
 * the initializers those read, and its inputs/outputs. Throws {@link SplitAssignmentError} when a
 * tensor would flow from a higher to a lower stage or a stage is empty.
 */
export function layoutStages(analysis: GraphAnalysis, stageOfNode: ReadonlyMap<number, number>, stageCount: number): StageLayout {
  const { nodes, producer, initializers } = analysis;
  const latentInputs = new Set(analysis.latentInputs);
  const graphInputs = new Set(analysis.graphInputs);

  // A graph output is made by its producer's stage (conditioning-only outputs: the last stage). With a
  // single output every live node feeds it, so forward flow already puts it in the last stage.
  const graphOutputStage = new Map<string, number>();
  for (const out of analysis.graphOutputs) {
    const p = producer.get(out) as number;
    graphOutputStage.set(out, stageOfNode.get(p) ?? stageCount - 1);
  }

  const boundaryConsumers = new Map<string, Set<number>>();
  const stages: StageContents[] = [];
  for (let s = 0; s < stageCount; s++) {
    const latentNodes = analysis.latentNodes.filter((i) => stageOfNode.get(i) === s);
    if (latentNodes.length === 0) {
      throw new SplitAssignmentError(`assignment leaves stage ${s} without any latent-dependent node`, { field: 'assignment' });
    }
    const needed = new Set<number>(latentNodes);
    for (const i of latentNodes) for (const c of analysis.conditioningClosure[i] ?? []) needed.add(c);
    for (const [out, stage] of graphOutputStage) {
      const p = producer.get(out) as number;
      if (stage === s && !(nodes[p]?.latent ?? true)) {
        needed.add(p);
        for (const c of analysis.conditioningClosure[p] ?? []) needed.add(c);
      }
    }
    const stageNodes = [...needed].sort((a, b) => a - b);
    const produced = new Set(stageNodes.flatMap((i) => nodes[i]?.outputs ?? []));
    const inits: string[] = [];
    const seenInits = new Set<string>();
    const inputs = new Map<string, { name: string; kind: StageInputKind; producer?: number }>();
    for (const i of stageNodes) {
      const node = nodes[i];
      if (node === undefined) continue;
      for (const t of node.inputs) {
        if (produced.has(t) || inputs.has(t) || seenInits.has(t)) continue;
        if (initializers.has(t)) {
          seenInits.add(t);
          inits.push(t);
        } else if (latentInputs.has(t)) {
          inputs.set(t, { name: t, kind: 'latent' });
        } else if (graphInputs.has(t)) {
          inputs.set(t, { name: t, kind: 'conditioning' });
        } else {
          const p = producer.get(t) as number;
          const from = stageOfNode.get(p);
          if (from === undefined) throw new Error(`conditioning tensor ${t} missing from stage ${s} (bug)`);
          if (from > s) {
            throw new SplitAssignmentError(
              `tensor "${t}" would flow backwards from stage ${from} (node "${nodes[p]?.name}") to stage ${s} (node "${node.name}"); boundary tensors must flow from a lower to a higher stage`,
              { field: `assignment.${node.name}` },
            );
          }
          inputs.set(t, { name: t, kind: 'boundary', producer: from });
          const set = boundaryConsumers.get(t) ?? new Set<number>();
          set.add(s);
          boundaryConsumers.set(t, set);
        }
      }
    }
    const order = { latent: 0, conditioning: 1, boundary: 2 } as const;
    const inputList = [...inputs.values()].sort((a, b) => {
      if (a.kind !== b.kind) return order[a.kind] - order[b.kind];
      if (a.kind === 'boundary') return (producer.get(a.name) as number) - (producer.get(b.name) as number);
      return analysis.graphInputs.indexOf(a.name) - analysis.graphInputs.indexOf(b.name);
    });
    stages.push({
      index: s,
      nodes: stageNodes,
      latentNodes,
      conditioningNodes: stageNodes.filter((i) => !(nodes[i]?.latent ?? false)),
      initializers: inits,
      inputs: inputList,
      outputs: [],
    });
  }

  const boundaries: BoundaryTensor[] = [...boundaryConsumers]
    .map(([name, consumers]) => ({
      name,
      producer: stageOfNode.get(producer.get(name) as number) as number,
      consumers: [...consumers].sort((a, b) => a - b),
    }))
    .sort((a, b) => (producer.get(a.name) as number) - (producer.get(b.name) as number));
  const withOutputs = stages.map((stage) => ({
    ...stage,
    outputs: [
      ...boundaries.filter((b) => b.producer === stage.index).map((b) => ({ name: b.name, consumers: b.consumers, graphOutput: graphOutputStage.get(b.name) === stage.index })),
      ...[...graphOutputStage]
        .filter(([name, s]) => s === stage.index && !boundaryConsumers.has(name))
        .map(([name]) => ({ name, consumers: [] as number[], graphOutput: true })),
    ],
  }));
  return { stages: withOutputs, boundaries, graphOutputStage };
}

/**
 * Resolves an explicit node-name → stage map into a stage per latent node. Every latent-dependent
 * node must be assigned a stage in [0, stageCount); conditioning nodes may be listed but are ignored
 * (they are replicated wherever needed). Flow direction is checked later by {@link layoutStages}.
 */
export function resolveAssignment(analysis: GraphAnalysis, assignment: Readonly<Record<string, number>>, stageCount: number): Map<number, number> {
  const byName = new Map(analysis.nodes.map((n) => [n.name, n.index]));
  const stageOf = new Map<number, number>();
  for (const [name, stage] of Object.entries(assignment)) {
    const index = byName.get(name);
    if (index === undefined) {
      throw new SplitAssignmentError(`assignment names node "${name}", which is not a live node of the graph`, { field: `assignment.${name}` });
    }
    if (!Number.isInteger(stage) || stage < 0 || stage >= stageCount) {
      throw new SplitAssignmentError(`assignment.${name} is ${String(stage)}; stages are integers 0…${stageCount - 1}`, {
        field: `assignment.${name}`,
      });
    }
    if (analysis.nodes[index]?.latent) stageOf.set(index, stage);
  }
  const missing = analysis.latentNodes.filter((i) => !stageOf.has(i)).map((i) => analysis.nodes[i]?.name);
  if (missing.length > 0) {
    throw new SplitAssignmentError(
      `assignment misses ${missing.length} latent-dependent node(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
      { field: 'assignment' },
    );
  }
  return stageOf;
}
