import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOnnxModel, writeOnnxModel } from './onnx-io.js';
import { randomFeeds } from './random-feeds.js';
import { splitModel } from './split-model.js';
import { maxAbsDiff, runModel, runStageChain } from './test-fixtures/run-stages.js';
import { longSkipGraph, multiBranchGraph } from './test-fixtures/synthetic-graphs.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onnx-split-synthetic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('(a) a skip crossing several cuts', () => {
  it('goes straight from the first stage to the last, and the chain is exact for N = 2…8', async () => {
    const { model, inputs, skip } = longSkipGraph();
    const modelPath = join(dir, 'long-skip.onnx');
    await writeOnnxModel(modelPath, model);
    const feeds = randomFeeds(inputs, 3);
    const reference = (await runModel(modelPath, feeds)).eps;
    for (let n = 2; n <= 8; n++) {
      const split = await splitModel({ modelPath, stages: n, inputs, cacheDir: join(dir, 'cache-a'), profile: { runs: 2, warmupRuns: 1 }, measureStages: false });
      const boundary = split.plan.boundaries.find((b) => b.name === skip);
      expect(boundary, `N=${n}`).toMatchObject({ producer: 0, dtype: 'float32', dims: [2, 16], bytes: 128 });
      expect(boundary?.consumers).toContain(n - 1);
      // Stages in between do not relay it: only stages that read it take it as input.
      for (const stage of split.plan.stages.slice(1, -1)) {
        if (!boundary?.consumers.includes(stage.index)) expect(stage.inputs.map((i) => i.name)).not.toContain(skip);
      }
      expect(split.plan.stages[0]?.outputs.find((o) => o.name === skip)?.consumers).toContain(n - 1);
      const chained = await runStageChain(split, feeds);
      expect(maxAbsDiff(chained.eps as never, reference as never), `N=${n}`).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('(b) several latent-independent branches', () => {
  const { model, inputs } = multiBranchGraph();
  const modelPath = (): string => join(dir, 'multi-branch.onnx');

  it('replicates each conditioning branch only where needed and reproduces the model for N = 2…8', async () => {
    await writeOnnxModel(modelPath(), model);
    const feeds = randomFeeds(inputs, 5, 10);
    const reference = (await runModel(modelPath(), feeds)).eps;
    for (let n = 2; n <= 8; n++) {
      const split = await splitModel({ modelPath: modelPath(), stages: n, inputs, cacheDir: join(dir, 'cache-b'), profile: { runs: 2, warmupRuns: 1 }, measureStages: false });
      // No conditioning tensor ever crosses stages.
      for (const b of split.plan.boundaries) expect(b.name).toMatch(/^layer/);
      const holders = new Map<string, number>();
      for (const [k, stage] of split.plan.stages.entries()) {
        const stageModel = (await readOnnxModel(split.stagePaths[k] as string)).model;
        const nodeNames = (stageModel.graph?.node ?? []).map((x) => x.name);
        const initNames = (stageModel.graph?.initializer ?? []).map((t) => t.name);
        const conditioningInputs = stage.inputs.filter((i) => i.kind === 'conditioning').map((i) => i.name);
        const usesTime = nodeNames.some((x) => /^layer[0-4]_cond$/.test(x ?? ''));
        const usesClass = nodeNames.some((x) => /^layer[5-9]_cond$/.test(x ?? ''));
        // Each branch is recomputed (with its weights) exactly in the stages that consume it.
        expect(conditioningInputs.includes('timestep'), `N=${n} stage ${k}`).toBe(usesTime);
        expect(conditioningInputs.includes('class_labels'), `N=${n} stage ${k}`).toBe(usesClass);
        expect(initNames.includes('t_w2')).toBe(usesTime);
        expect(initNames.includes('class_table')).toBe(usesClass);
        expect(nodeNames.includes('k_mul')).toBe(nodeNames.includes('layer5_const_scale'));
        for (const name of initNames) holders.set(name ?? '', (holders.get(name ?? '') ?? 0) + 1);
      }
      // Latent weights are not replicated: each layer weight lives in exactly one stage.
      for (let i = 0; i < 10; i++) expect(holders.get(`w${i}`), `w${i}`).toBe(1);
      const chained = await runStageChain(split, feeds);
      expect(maxAbsDiff(chained.eps as never, reference as never), `N=${n}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it('splits without ORT (profile: false): dtypes from declarations and operator rules, uniform costs', async () => {
    await writeOnnxModel(modelPath(), model);
    const split = await splitModel({ modelPath: modelPath(), stages: 3, cacheDir: join(dir, 'cache-b-noprofile'), profile: false });
    expect(split.plan.profile).toBeNull();
    expect(split.plan.assignment.costSource).toBe('uniform');
    expect(split.plan.stages.every((s) => s.measuredRunMs === null)).toBe(true);
    expect(split.plan.boundaries.every((b) => b.dtype === 'float32' && b.dims === null)).toBe(true);
    const feeds = randomFeeds(inputs, 9, 10);
    const reference = (await runModel(modelPath(), feeds)).eps;
    const chained = await runStageChain(split, feeds);
    expect(maxAbsDiff(chained.eps as never, reference as never)).toBeLessThanOrEqual(1e-5);
  });
});
