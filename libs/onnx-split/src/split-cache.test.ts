import { mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeOnnxModel } from './onnx-io.js';
import { loadSplitPlan } from './plan-file.js';
import * as profile from './profile.js';
import { splitModel } from './split-model.js';
import { longSkipGraph } from './test-fixtures/synthetic-graphs.js';

vi.mock('./profile.js', async (importOriginal) => {
  const actual = await importOriginal<typeof profile>();
  return { ...actual, profileNodes: vi.fn(actual.profileNodes) };
});

describe('split cache', () => {
  let dir = '';
  const { model, inputs } = longSkipGraph();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-split-cache-'));
    await writeOnnxModel(join(dir, 'model.onnx'), model);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the cached plan on a second call without profiling again; the default cache dir is <model dir>/splits', async () => {
    const modelPath = join(dir, 'model.onnx');
    const options = { modelPath, stages: 3, inputs, profile: { runs: 2, warmupRuns: 0 } };
    const profiled = vi.mocked(profile.profileNodes);
    profiled.mockClear();
    const first = await splitModel(options);
    expect(first.fromCache).toBe(false);
    expect(first.planDir.startsWith(join(dir, 'splits'))).toBe(true);
    expect(profiled).toHaveBeenCalledTimes(1);
    const planMtime = (await stat(join(first.planDir, 'plan.json'))).mtimeMs;

    const second = await splitModel(options);
    expect(second.fromCache).toBe(true);
    expect(profiled).toHaveBeenCalledTimes(1);
    expect(second.plan).toEqual(first.plan);
    expect((await stat(join(second.planDir, 'plan.json'))).mtimeMs).toBe(planMtime);
    expect(await loadSplitPlan(first.planDir)).toEqual({ plan: first.plan, planDir: first.planDir, stagePaths: first.stagePaths });

    // Another N reuses the cached profile (one profile per model and shapes) but is a new split.
    const other = await splitModel({ ...options, stages: 2 });
    expect(other.fromCache).toBe(false);
    expect(other.planDir).not.toBe(first.planDir);
    expect(profiled).toHaveBeenCalledTimes(1);

    // Different profile shapes are a different split.
    const bigger = await splitModel({ ...options, inputs: { ...inputs, sample: { dtype: 'float32', dims: [4, 16] }, timestep: { dtype: 'float32', dims: [4, 1] } } });
    expect(bigger.planDir).not.toBe(first.planDir);
    expect(profiled).toHaveBeenCalledTimes(2);

    // A changed model file is a different split; `force` recomputes.
    await writeOnnxModel(modelPath, { ...model, docString: 'changed' });
    const changed = await splitModel(options);
    expect(changed.fromCache).toBe(false);
    expect(changed.plan.source.modelSha256).not.toBe(first.plan.source.modelSha256);
    const forced = await splitModel({ ...options, force: true });
    expect(forced.fromCache).toBe(false);
    await utimes(modelPath, new Date(), new Date());
    expect((await splitModel(options)).fromCache).toBe(true);
  });

  it('ignores a damaged cache entry and rebuilds it', async () => {
    const modelPath = join(dir, 'model.onnx');
    const options = { modelPath, stages: 2, inputs, cacheDir: join(dir, 'other-cache'), profile: { runs: 2, warmupRuns: 0 }, measureStages: false };
    const first = await splitModel(options);
    await rm(first.stagePaths[1] as string);
    const again = await splitModel(options);
    expect(again.fromCache).toBe(false);
    expect((await stat(again.stagePaths[1] as string)).isFile()).toBe(true);
  });
});
