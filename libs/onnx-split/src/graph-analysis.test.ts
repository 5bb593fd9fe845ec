import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SplitModelError } from './errors.js';
import { analyseGraph } from './graph-analysis.js';
import { readOnnxModel, writeOnnxModel } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';
import { randomFeeds } from './random-feeds.js';
import { splitModel } from './split-model.js';
import { resolveTensorTypes } from './tensor-types.js';
import { GraphBuilder } from './test-fixtures/graph-builder.js';
import { maxAbsDiff, runModel, runStageChain } from './test-fixtures/run-stages.js';
import { copyShippedModel, SHIPPED } from './test-fixtures/shipped-models.js';
import { diamondGraph } from './test-fixtures/synthetic-graphs.js';

describe('analyseGraph', () => {
  it('separates conditioning from latent-dependent nodes in the shipped image model', async () => {
    const { model } = await readOnnxModel(await copyShippedModel(SHIPPED.digits.path));
    const a = analyseGraph(model);
    const latent = (name: string): boolean | undefined => a.nodes.find((n) => n.name === name)?.latent;
    expect(a.latentInputs).toEqual(['sample']);
    expect(a.conditioningInputs).toEqual(['timestep', 'class_labels']);
    // Timestep MLP, class embedding, per-block projections and every Constant are conditioning.
    for (const name of ['/Cast', '/Sin', '/t_mlp/t_mlp.0/Gemm', '/class_emb/Gather', '/Add', '/down.0.0/emb/Gemm', '/down.0.0/Unsqueeze_1']) expect(latent(name), name).toBe(false);
    expect(a.nodes.filter((n) => n.opType === 'Constant').every((n) => !n.latent)).toBe(true);
    // Hidden-state work, including Shape of a hidden state (an int64 tensor), is latent.
    for (const name of ['/conv_in/Conv', '/down.0.0/n1/Shape', '/down.0.0/Add']) expect(latent(name), name).toBe(true);
    // A block's time projection reaches its latent Add through conditioning nodes only.
    const add = a.nodes.find((n) => n.name === '/down.0.0/Add');
    const closure = (a.conditioningClosure[add?.index ?? -1] ?? []).map((i) => a.nodes[i]?.name);
    expect(closure).toEqual(expect.arrayContaining(['/down.0.0/emb/Gemm', '/t_mlp/t_mlp.2/Gemm', '/class_emb/Gather', '/Cast']));
    const types = resolveTensorTypes(model, a, null);
    expect(types.get('/down.0.0/n1/Shape_output_0')?.dtype).toBe('int64');
    expect(types.get('/conv_in/Conv_output_0')?.dtype).toBe('float32');
    expect(types.get('/class_emb/Gather_output_0')?.dtype).toBe('float32');
    expect(types.get('/Cast_output_0')?.dtype).toBe('float32');
  });

  it('names unnamed and duplicate nodes, sorts an out-of-order graph, drops dead nodes', () => {
    const { model } = diamondGraph();
    const nodes = [...(model.graph?.node ?? [])];
    nodes.reverse(); // no longer topological
    (nodes[0] as { name?: string }).name = ''; // "merge" loses its name
    (nodes[1] as { name?: string }).name = 'a1'; // "b2" duplicates "a1"
    nodes.push({ opType: 'Relu', input: ['sample'], output: ['unused'], name: 'dead' });
    const a = analyseGraph({ ...model, graph: { ...model.graph, node: nodes } });
    expect(a.renamedNodes).toBe(true);
    expect(a.deadNodeCount).toBe(1);
    const names = a.nodes.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('Add_0');
    expect(names.at(-1)).toBe('Add_0');
    const position = new Map(a.nodes.flatMap((n) => n.outputs.map((o) => [o, n.index] as const)));
    for (const n of a.nodes) for (const t of n.inputs) expect(position.get(t) ?? -1).toBeLessThan(n.index);
  });

  it('follows outer-scope reads of subgraphs (If branches) when tracking latent dependence', () => {
    const g = new GraphBuilder();
    const sample = g.input('sample', 'float32', [2]);
    const flag = g.input('flag', 'bool', []);
    const branch = (op: string): OnnxModel['graph'] => ({ name: op, node: [{ opType: op, input: [sample], output: [`${op}_y`] }], output: [{ name: `${op}_y`, type: { tensorType: { elemType: 1 } } }] });
    g.node('If', [flag], ['eps'], {}, 'if');
    g.output('eps', 'float32', [2]);
    const model = g.build();
    const ifNode = model.graph?.node?.[0] as { attribute?: unknown[] };
    // AttributeProto.AttributeType.GRAPH = 5.
    ifNode.attribute = [
      { name: 'then_branch', type: 5, g: branch('Tanh') },
      { name: 'else_branch', type: 5, g: branch('Sigmoid') },
    ];
    const a = analyseGraph(model);
    expect(a.nodes[0]?.inputs).toEqual(['flag', 'sample']);
    expect(a.nodes[0]?.latent).toBe(true);
  });

  it('rejects graphs it cannot cut with SPLIT_UNSUPPORTED_GRAPH', () => {
    const { model } = diamondGraph();
    const broken = { ...model, graph: { ...model.graph, node: [...(model.graph?.node ?? []), { opType: 'Relu', input: ['ghost'], output: ['x'] }] } };
    expect(() => analyseGraph(broken)).toThrow(SplitModelError);
    const passThrough = { ...model, graph: { ...model.graph, output: [...(model.graph?.output ?? []), { name: 'sample' }] } };
    expect(() => analyseGraph(passThrough)).toThrow(/graph output "sample" is not produced by a node/);
  });

  it('splits and profiles a model with unnamed nodes (profiled through a renamed copy)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'onnx-split-unnamed-'));
    try {
      const { model, inputs } = diamondGraph();
      const unnamed = { ...model, graph: { ...model.graph, node: (model.graph?.node ?? []).map((n) => ({ ...n, name: '' })) } };
      const modelPath = join(dir, 'model.onnx');
      await writeOnnxModel(modelPath, unnamed);
      const split = await splitModel({ modelPath, stages: 3, inputs, cacheDir: join(dir, 'splits'), profile: { runs: 2, warmupRuns: 0 }, measureStages: false });
      expect(Object.keys(split.plan.assignment.nodes)).toContain('MatMul_2');
      expect(split.plan.stages.reduce((sum, s) => sum + s.costMs, 0)).toBeGreaterThan(0);
      const feeds = randomFeeds(inputs, 1);
      const reference = (await runModel(modelPath, feeds)).eps;
      expect(maxAbsDiff((await runStageChain(split, feeds)).eps as never, reference as never)).toBeLessThanOrEqual(1e-5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
