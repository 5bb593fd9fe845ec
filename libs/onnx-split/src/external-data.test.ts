import type * as Fs from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readOnnxModel, writeOnnxModel } from './onnx-io.js';
import { DATA_LOCATION_EXTERNAL } from './onnx-types.js';
import { randomFeeds } from './random-feeds.js';
import { splitModel } from './split-model.js';
import { externalizeWeights } from './test-fixtures/external-data.js';
import { maxAbsDiff, runModel, runStageChain } from './test-fixtures/run-stages.js';
import { checkStageData } from './test-fixtures/stage-data.js';
import { diamondGraph, multiBranchGraph } from './test-fixtures/synthetic-graphs.js';

// Record how the partitioner reads files through Node's fs: whole-file reads (readFile…) apart from
// ranged/streamed ones (open, createReadStream). ORT reads model files in native code, outside
// these hooks.
const { wholeReads, streamedReads } = vi.hoisted(() => ({ wholeReads: [] as string[], streamedReads: [] as string[] }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>();
  const record =
    <A extends unknown[], R>(into: string[], fn: (...args: A) => R) =>
    (...args: A): R => {
      into.push(String(args[0]));
      return fn(...args);
    };
  const wrapped = {
    ...actual,
    readFile: record(wholeReads, actual.readFile),
    copyFile: record(wholeReads, actual.copyFile),
    cp: record(wholeReads, actual.cp),
    open: record(streamedReads, actual.open),
  };
  return { ...wrapped, default: wrapped };
});
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof Fs>();
  const record =
    <A extends unknown[], R>(into: string[], fn: (...args: A) => R) =>
    (...args: A): R => {
      into.push(String(args[0]));
      return fn(...args);
    };
  const wrapped = {
    ...actual,
    readFileSync: record(wholeReads, actual.readFileSync),
    readFile: record(wholeReads, actual.readFile),
    openSync: record(streamedReads, actual.openSync),
    open: record(streamedReads, actual.open),
    createReadStream: record(streamedReads, actual.createReadStream),
  };
  return { ...wrapped, default: wrapped };
});

describe('models with external data', () => {
  let dir = '';
  let modelPath = '';
  let weightsPath = '';
  const { model, inputs } = multiBranchGraph();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-split-external-'));
    modelPath = join(dir, 'model.onnx');
    weightsPath = join(dir, 'weights.bin');
    await writeOnnxModel(modelPath, await externalizeWeights(model, dir, 'weights.bin'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('never reads the weight file whole: each stage gets its own data file in the cache dir (ranges streamed from the source) and runs in ORT', async () => {
    wholeReads.length = 0;
    streamedReads.length = 0;
    const split = await splitModel({ modelPath, stages: 3, cacheDir: join(dir, 'splits'), profile: false });
    expect(wholeReads.map((p) => resolve(p))).not.toContain(weightsPath);
    expect(wholeReads.map((p) => resolve(p))).toContain(modelPath);
    expect(streamedReads.map((p) => resolve(p))).toContain(weightsPath);

    expect(split.plan.source.hashScheme).toBe('graph-sha256+data-sha256');
    expect(split.plan.source.externalData).toEqual(['weights.bin']);
    const weightBytes = (await stat(weightsPath)).size;
    expect(split.plan.source.externalDataBytes).toBe(weightBytes);
    for (const [k, path] of split.stagePaths.entries()) {
      // In the plan dir, with the stage's own data file beside it, never beside the model.
      expect(dirname(path)).toBe(split.planDir);
      expect(split.plan.stages[k]?.dataFile).toBe(`stage-${k}.onnx_data`);
      const stage = (await readOnnxModel(path)).model;
      for (const t of stage.graph?.initializer ?? []) {
        expect(t.dataLocation).toBe(DATA_LOCATION_EXTERNAL);
        expect(t.externalData?.find((e) => e.key === 'location')?.value).toBe(`stage-${k}.onnx_data`);
      }
    }
    expect((await readdir(dir)).sort()).toEqual(['model.onnx', 'splits', 'weights.bin']);
    const report = await checkStageData(split, modelPath);
    expect(report.problems).toEqual([]);
    // Weights are split, not copied: the stages' data adds up to the model's (plus replicated conditioning weights).
    const replicated = split.plan.stages.reduce((sum, s) => sum + s.replicatedParameterBytes, 0);
    expect(report.externalBytes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(weightBytes + replicated);

    const feeds = randomFeeds(inputs, 11, 10);
    const reference = (await runModel(modelPath, feeds)).eps;
    const chained = await runStageChain(split, feeds);
    expect(maxAbsDiff(chained.eps as never, reference as never)).toBeLessThanOrEqual(1e-5);
  });

  it('profiles through ORT (which reads the weights natively) and times the stages, each with its own data, while the partitioner streams them', async () => {
    wholeReads.length = 0;
    const split = await splitModel({ modelPath, stages: 4, inputs, cacheDir: join(dir, 'splits'), profile: { runs: 2, warmupRuns: 1 } });
    expect(wholeReads.map((p) => resolve(p))).not.toContain(weightsPath);
    expect(split.plan.stages.every((s) => s.measuredRunMs !== null)).toBe(true);
    expect(split.plan.measurement?.method).toBe('in-process');
    expect((await checkStageData(split, modelPath)).problems).toEqual([]);
    const feeds = randomFeeds(inputs, 12, 10);
    const reference = (await runModel(modelPath, feeds)).eps;
    const chained = await runStageChain(split, feeds);
    expect(maxAbsDiff(chained.eps as never, reference as never)).toBeLessThanOrEqual(1e-5);
  });

  it('profiles a model with unnamed nodes through a renamed copy written in the cache dir (with its own data), never beside the model', async () => {
    const { model: diamond, inputs: diamondInputs } = diamondGraph();
    const unnamedDir = join(dir, 'unnamed');
    await mkdir(unnamedDir);
    const unnamed = { ...diamond, graph: { ...diamond.graph, node: (diamond.graph?.node ?? []).map((n) => ({ ...n, name: '' })) } };
    const path = join(unnamedDir, 'model.onnx');
    await writeOnnxModel(path, await externalizeWeights(unnamed, unnamedDir, 'weights.bin'));
    const split = await splitModel({ modelPath: path, stages: 3, inputs: diamondInputs, cacheDir: join(dir, 'unnamed-splits'), profile: { runs: 2, warmupRuns: 0 }, measureStages: false });
    expect(split.plan.assignment.costSource).toBe('profile');
    expect(Object.keys(split.plan.assignment.nodes)).toContain('MatMul_2');
    expect(split.plan.stages.reduce((sum, s) => sum + s.costMs, 0)).toBeGreaterThan(0);
    expect((await readdir(unnamedDir)).sort()).toEqual(['model.onnx', 'weights.bin']);
    expect((await readdir(join(dir, 'unnamed-splits'))).filter((f) => f.startsWith('.'))).toEqual([]);
    const feeds = randomFeeds(diamondInputs, 1);
    const reference = (await runModel(path, feeds)).eps;
    expect(maxAbsDiff((await runStageChain(split, feeds)).eps as never, reference as never)).toBeLessThanOrEqual(1e-5);
  });
});
