import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SplitError, SplitModelError, SplitOptionsError, SplitPlanError } from './errors.js';
import { writeOnnxModel } from './onnx-io.js';
import { loadSplitPlan } from './plan-file.js';
import type { SplitModelOptions } from './split-options.js';
import { splitModel } from './split-model.js';
import { GraphBuilder } from './test-fixtures/graph-builder.js';
import { diamondGraph } from './test-fixtures/synthetic-graphs.js';

async function failure(options: SplitModelOptions): Promise<SplitError> {
  const error = await splitModel(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SplitError);
  return error as SplitError;
}

describe('bad inputs', () => {
  let dir = '';
  let modelPath = '';
  const { model, inputs } = diamondGraph();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-split-bad-'));
    modelPath = join(dir, 'model.onnx');
    await writeOnnxModel(modelPath, model);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const base = (): SplitModelOptions => ({ modelPath, stages: 2, inputs, cacheDir: join(dir, 'splits'), profile: false });

  for (const stages of [1, 9, 2.5, Number.NaN]) {
    it(`stages = ${stages} → SPLIT_INVALID_STAGES naming "stages"`, async () => {
      const error = await failure({ ...base(), stages });
      expect(error).toBeInstanceOf(SplitOptionsError);
      expect(error).toMatchObject({ code: 'SPLIT_INVALID_STAGES', field: 'stages' });
      expect(error.message).toMatch(/^stages must be an integer from 2 to 8/);
    });
  }

  it('more stages than latent-dependent nodes → SPLIT_INVALID_STAGES', async () => {
    const g = new GraphBuilder();
    g.node('Tanh', [g.input('sample', 'float32', [2])], ['eps'], {}, 'only');
    g.output('eps', 'float32', [2]);
    const path = join(dir, 'tiny.onnx');
    await writeOnnxModel(path, g.build());
    const error = await failure({ ...base(), modelPath: path, inputs: { sample: { dtype: 'float32', dims: [2] } } });
    expect(error).toMatchObject({ code: 'SPLIT_INVALID_STAGES', field: 'stages' });
    expect(error.message).toContain('only 1 latent-dependent node');
  });

  it('a missing model file → SplitModelError SPLIT_MODEL_UNREADABLE naming modelPath', async () => {
    const error = await failure({ ...base(), modelPath: join(dir, 'nope.onnx') });
    expect(error).toBeInstanceOf(SplitModelError);
    expect(error).toMatchObject({ code: 'SPLIT_MODEL_UNREADABLE', field: 'modelPath' });
    expect(error.message).toContain('modelPath');
    expect(error.message).toContain('nope.onnx');
    expect(error.cause).toBeDefined();
  });

  it('a file that is not ONNX → SPLIT_MODEL_UNREADABLE', async () => {
    const path = join(dir, 'garbage.onnx');
    await writeFile(path, 'definitely not a protobuf ModelProto \u0000\u00ff');
    const error = await failure({ ...base(), modelPath: path });
    expect(error).toMatchObject({ code: 'SPLIT_MODEL_UNREADABLE', field: 'modelPath' });
  });

  it('an unknown latent input name → SPLIT_UNKNOWN_LATENT_INPUT naming latentInputs', async () => {
    const error = await failure({ ...base(), latentInputs: ['latents'] });
    expect(error).toBeInstanceOf(SplitOptionsError);
    expect(error).toMatchObject({ code: 'SPLIT_UNKNOWN_LATENT_INPUT', field: 'latentInputs' });
    expect(error.message).toContain('latentInputs names "latents"');
    expect(error.message).toContain('sample, timestep');
  });

  it('an empty latentInputs list → SPLIT_UNKNOWN_LATENT_INPUT', async () => {
    const error = await failure({ ...base(), latentInputs: [] });
    expect(error).toMatchObject({ code: 'SPLIT_UNKNOWN_LATENT_INPUT', field: 'latentInputs' });
  });

  it('profiling without input shapes → SPLIT_INVALID_OPTION naming inputs', async () => {
    const { inputs: _omit, ...rest } = base();
    const error = await failure({ ...rest, profile: {} });
    expect(error).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'inputs' });
  });

  it('an input spec for an input the graph lacks, or a missing one → SPLIT_INVALID_OPTION naming it', async () => {
    const extra = await failure({ ...base(), inputs: { ...inputs, class_labels: { dtype: 'int64', dims: [2] } } });
    expect(extra).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'inputs.class_labels' });
    const missing = await failure({ ...base(), inputs: { sample: inputs.sample as never }, profile: {} });
    expect(missing).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'inputs.timestep' });
    const badDims = await failure({ ...base(), inputs: { ...inputs, sample: { dtype: 'float32', dims: [2, -1] } } });
    expect(badDims).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'inputs.sample' });
    expect(badDims.message).toContain('inputs.sample.dims');
  });

  it('other option errors name their field', async () => {
    expect(await failure({ ...base(), balanceTolerance: -1 })).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'balanceTolerance' });
    expect(await failure({ ...base(), profile: { runs: 0 } })).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'profile.runs' });
    expect(await failure({ ...base(), calibrationRounds: -1 })).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'calibrationRounds' });
    expect(await failure({ ...base(), nodeCostsMs: { a1: -2 } })).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'nodeCostsMs.a1' });
  });

  it('a malformed plan.json → SplitPlanError naming the field', async () => {
    const good = await splitModel(base());
    const planDir = join(dir, 'broken-plan');
    await mkdir(planDir, { recursive: true });
    const broken = structuredClone(good.plan) as unknown as { stages: { inputs: { kind: string }[] }[] };
    (broken.stages[1]?.inputs[0] as { kind: string }).kind = 'telepathy';
    await writeFile(join(planDir, 'plan.json'), JSON.stringify(broken));
    const error = await loadSplitPlan(planDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SplitPlanError);
    expect(error).toMatchObject({ code: 'SPLIT_PLAN_INVALID', field: 'plan.stages[1].inputs[0].kind' });
    await writeFile(join(planDir, 'plan.json'), JSON.stringify({ ...good.plan, formatVersion: 99 }));
    expect(await loadSplitPlan(planDir).catch((e: unknown) => e)).toMatchObject({ field: 'plan.formatVersion' });
    expect(await loadSplitPlan(join(dir, 'no-such-dir')).catch((e: unknown) => e)).toMatchObject({ code: 'SPLIT_PLAN_INVALID', field: 'dir' });
  });
});
