import type * as Fs from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
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
import { multiBranchGraph } from './test-fixtures/synthetic-graphs.js';

// Record every path the partitioner opens or reads through Node's fs. (ORT reads model files in
// native code, outside these hooks; profiling is off in the first test so ORT is not involved.)
const reads: string[] = [];
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>();
  const record =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R => {
      reads.push(String(args[0]));
      return fn(...args);
    };
  const wrapped = { ...actual, readFile: record(actual.readFile), open: record(actual.open), copyFile: record(actual.copyFile), cp: record(actual.cp) };
  return { ...wrapped, default: wrapped };
});
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof Fs>();
  const record =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R => {
      reads.push(String(args[0]));
      return fn(...args);
    };
  const wrapped = {
    ...actual,
    readFileSync: record(actual.readFileSync),
    openSync: record(actual.openSync),
    createReadStream: record(actual.createReadStream),
    readFile: record(actual.readFile),
    open: record(actual.open),
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

  it('splits without reading the weight file; stages beside it reference it and run in ORT', async () => {
    reads.length = 0;
    const split = await splitModel({ modelPath, stages: 3, cacheDir: join(dir, 'splits'), profile: false });
    expect(reads.map((p) => resolve(p))).not.toContain(weightsPath);
    expect(reads.map((p) => resolve(p))).toContain(modelPath);

    expect(split.plan.source.hashScheme).toBe('graph-sha256+external-identity');
    expect(split.plan.source.externalData).toEqual(['weights.bin']);
    const weightBytes = (await stat(weightsPath)).size;
    let heldBytes = 0;
    for (const path of split.stagePaths) {
      // Written beside the weights (ORT refuses external paths leaving the model's directory)…
      expect(dirname(path)).toBe(dir);
      // …holding references, not copies.
      expect((await stat(path)).size).toBeLessThan(weightBytes / 4);
      const stage = (await readOnnxModel(path)).model;
      for (const t of stage.graph?.initializer ?? []) {
        expect(t.dataLocation).toBe(DATA_LOCATION_EXTERNAL);
        expect(t.externalData?.find((e) => e.key === 'location')?.value).toBe('weights.bin');
      }
    }
    for (const stage of split.plan.stages) heldBytes += stage.parameterBytes - stage.replicatedParameterBytes;
    expect(heldBytes).toBeLessThanOrEqual(weightBytes);

    const feeds = randomFeeds(inputs, 11, 10);
    const reference = (await runModel(modelPath, feeds)).eps;
    const chained = await runStageChain(split, feeds);
    expect(maxAbsDiff(chained.eps as never, reference as never)).toBeLessThanOrEqual(1e-5);
  });

  it('profiles through ORT (which maps the weights natively) while the partitioner itself still never reads them', async () => {
    reads.length = 0;
    const split = await splitModel({ modelPath, stages: 4, inputs, cacheDir: join(dir, 'splits'), profile: { runs: 2, warmupRuns: 1 } });
    expect(reads.map((p) => resolve(p))).not.toContain(weightsPath);
    expect(split.plan.stages.every((s) => s.measuredRunMs !== null)).toBe(true);
    const feeds = randomFeeds(inputs, 12, 10);
    const reference = (await runModel(modelPath, feeds)).eps;
    const chained = await runStageChain(split, feeds);
    expect(maxAbsDiff(chained.eps as never, reference as never)).toBeLessThanOrEqual(1e-5);
  });
});
