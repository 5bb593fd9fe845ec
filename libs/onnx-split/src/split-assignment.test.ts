import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SplitAssignmentError } from './errors.js';
import { writeOnnxModel } from './onnx-io.js';
import { randomFeeds } from './random-feeds.js';
import { splitModel } from './split-model.js';
import { maxAbsDiff, runModel, runStageChain } from './test-fixtures/run-stages.js';
import { diamondGraph } from './test-fixtures/synthetic-graphs.js';

describe('explicit node → stage assignment', () => {
  let dir = '';
  let modelPath = '';
  const { model, inputs } = diamondGraph();
  // Topological order: a1_mm a1 b1_mm b1 a2_mm a2 b2_mm b2 merge — stage 0,0,1,1,0,0,1,1,1 is not contiguous.
  const interleaved = { a1_mm: 0, a1: 0, b1_mm: 1, b1: 1, a2_mm: 0, a2: 0, b2_mm: 1, b2: 1, merge: 1 };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-split-assign-'));
    modelPath = join(dir, 'model.onnx');
    await writeOnnxModel(modelPath, model);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts a non-contiguous assignment whose data flows forward, and the chain is exact', async () => {
    const split = await splitModel({ modelPath, stages: 2, inputs, assignment: interleaved, cacheDir: join(dir, 'splits'), profile: { runs: 2, warmupRuns: 0 } });
    expect(split.plan.assignment.method).toBe('explicit');
    expect(split.plan.assignment.nodes).toEqual(interleaved);
    expect(split.plan.boundaries.map((b) => [b.name, b.producer, b.consumers])).toEqual([['a2_out', 0, [1]]]);
    // Stage 1 reads the latent directly (b1_mm) and says so.
    expect(split.plan.stages[1]?.consumesLatent).toBe(true);
    expect(split.plan.stages[1]?.inputs.find((i) => i.name === 'sample')?.kind).toBe('latent');
    // The timestep branch is replicated in both stages (a2 and b2 both use it).
    expect(split.plan.stages.map((s) => s.conditioningNodeCount)).toEqual([2, 2]);
    const feeds = randomFeeds(inputs, 4);
    const reference = (await runModel(modelPath, feeds)).eps;
    expect(maxAbsDiff((await runStageChain(split, feeds)).eps as never, reference as never)).toBeLessThanOrEqual(1e-5);
  });

  it('reproduces a balanced split when its plan.assignment.nodes is fed back', async () => {
    const auto = await splitModel({ modelPath, stages: 3, cacheDir: join(dir, 'splits'), profile: false });
    const explicit = await splitModel({ modelPath, stages: 3, cacheDir: join(dir, 'splits'), profile: false, assignment: auto.plan.assignment.nodes });
    expect(explicit.plan.stages.map((s) => s.inputs)).toEqual(auto.plan.stages.map((s) => s.inputs));
    expect(explicit.plan.boundaries).toEqual(auto.plan.boundaries);
  });

  const bad: [string, Record<string, number>, RegExp, string][] = [
    ['data flowing to a lower stage', { ...interleaved, a1: 1, a2_mm: 0 }, /flow backwards from stage 1/, 'assignment.a2_mm'],
    ['a missing latent node', { a1_mm: 0, a1: 0, b1_mm: 1, b1: 1, a2_mm: 0, a2: 0, b2_mm: 1, b2: 1 }, /misses 1 latent-dependent node\(s\): merge/, 'assignment'],
    ['an unknown node name', { ...interleaved, nope: 0 }, /"nope", which is not a live node/, 'assignment.nope'],
    ['a stage index out of range', { ...interleaved, merge: 2 }, /assignment\.merge is 2/, 'assignment.merge'],
    ['a stage left empty', { a1_mm: 0, a1: 0, b1_mm: 0, b1: 0, a2_mm: 0, a2: 0, b2_mm: 0, b2: 0, merge: 0 }, /stage 1 without any latent-dependent node/, 'assignment'],
  ];
  for (const [label, assignment, message, field] of bad) {
    it(`rejects ${label} with SPLIT_BAD_ASSIGNMENT`, async () => {
      const error = await splitModel({ modelPath, stages: 2, assignment, cacheDir: join(dir, 'splits'), profile: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SplitAssignmentError);
      expect(error).toMatchObject({ code: 'SPLIT_BAD_ASSIGNMENT', field, retryable: false });
      expect((error as Error).message).toMatch(message);
    });
  }
});
