import { chmod, cp, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SplitCacheError, SplitError, SplitModelError, SplitOptionsError } from './errors.js';
import { analyseGraph } from './graph-analysis.js';
import type { ModelIdentity } from './model-identity.js';
import { readOnnxModel, writeOnnxModel } from './onnx-io.js';
import type { LoadedSplitPlan } from './plan-file.js';
import { loadSplitPlan } from './plan-file.js';
import { chooseCostSource } from './split-costs.js';
import { splitModel } from './split-model.js';
import type { SplitModelOptions } from './split-options.js';
import { AUTO_FLOPS_MIN_WEIGHT_BYTES, resolveSplitModelOptions } from './split-options.js';
import { maxAbsDiff, runModel, runStageChain } from './test-fixtures/run-stages.js';
import type { SdUnetOptions } from './test-fixtures/sd-unet.js';
import { sdFeeds, writeSdUnet } from './test-fixtures/sd-unet.js';
import { checkStageData } from './test-fixtures/stage-data.js';

/** Runs the whole model and the stage chain on the same random inputs; returns the largest difference. */
async function chainDiff(split: LoadedSplitPlan, modelPath: string, specs: Parameters<typeof sdFeeds>[0], seed: number): Promise<number> {
  const feeds = sdFeeds(specs, seed);
  const whole = (await runModel(modelPath, feeds)).out_sample;
  const chained = (await runStageChain(split, feeds)).out_sample;
  if (whole === undefined || chained === undefined) throw new Error('no out_sample');
  return maxAbsDiff(chained, whole);
}

/** Names of the graph inputs a stage file's nodes read. */
async function stageReads(path: string): Promise<Set<string>> {
  const { model } = await readOnnxModel(path);
  return new Set((model.graph?.node ?? []).flatMap((n) => n.input ?? []));
}

async function stageHasNode(path: string, part: string): Promise<boolean> {
  const { model } = await readOnnxModel(path);
  return (model.graph?.node ?? []).some((n) => (n.name ?? '').includes(part));
}

const CASES: { label: string; options: SdUnetOptions; conditioning: string[]; tolerance: number }[] = [
  { label: 'SD 1.5-shaped, fp32, float timestep', options: { kind: 'sd15' }, conditioning: ['timestep', 'encoder_hidden_states'], tolerance: 1e-5 },
  { label: 'SDXL-shaped, fp32, int64 timestep', options: { kind: 'sdxl', timestepDtype: 'int64' }, conditioning: ['timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids'], tolerance: 1e-5 },
  { label: 'SD 1.5-shaped, fp16 weights and activations', options: { kind: 'sd15', dtype: 'float16' }, conditioning: ['timestep', 'encoder_hidden_states'], tolerance: 1e-3 },
];

describe('splitting an SD/SDXL-shaped UNet with external data (analytic costs)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-split-sd-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  CASES.forEach((c, caseIndex) => {
    for (const stages of [2, 3]) {
      it(`${c.label}, N = ${stages}: own data per stage, conditioning fresh in every stage, chain exact at two sizes and batches`, async () => {
        const { modelPath, inputs } = await writeSdUnet(join(dir, `case${caseIndex}-n${stages}`), c.options);
        const split = await splitModel({ modelPath, stages, inputs: inputs(2, 8), costModel: 'flops', cacheDir: join(dir, 'cache') });
        const { plan } = split;
        expect(plan.assignment.costSource).toBe('flops');
        expect(plan.analytic).toMatchObject({ unknownCostNodes: 0, unsupportedOps: {} });
        expect(plan.analytic?.totalGflop).toBeGreaterThan(0);

        // Each stage file references only its own data file, which holds exactly its weights.
        const report = await checkStageData(split, modelPath);
        expect(report.problems).toEqual([]);
        const sourceBytes = (await stat(join(dirname(modelPath), 'model.onnx_data'))).size;
        for (const [k, bytes] of report.externalBytes.entries()) {
          expect(plan.stages[k]?.dataFile).toBe(`stage-${k}.onnx_data`);
          expect(bytes).toBeGreaterThan(0);
          expect(bytes).toBeLessThan(sourceBytes);
        }

        // Conditioning is an input wherever it is read, and never handed between stages.
        const analysis = analyseGraph((await readOnnxModel(modelPath)).model);
        for (const b of plan.boundaries) expect(analysis.latentTensors.has(b.name)).toBe(true);
        expect(plan.boundaries.map((b) => b.name)).not.toContain('time_embedding.linear_2.add_out');
        for (const stage of plan.stages) {
          const path = split.stagePaths[stage.index] as string;
          const reads = await stageReads(path);
          const declared = stage.inputs.filter((i) => i.kind !== 'boundary').map((i) => i.name);
          expect(declared.sort()).toEqual(['sample', ...c.conditioning].filter((n) => reads.has(n)).sort());
          expect(reads.has('encoder_hidden_states')).toBe(await stageHasNode(path, '.attn2.'));
          expect(reads.has('timestep')).toBe(await stageHasNode(path, '.time_emb_proj.'));
          if (c.options.kind === 'sdxl') expect(reads.has('text_embeds') && reads.has('time_ids')).toBe(reads.has('timestep'));
        }
        expect(plan.stages.filter((s) => s.inputs.some((i) => i.name === 'encoder_hidden_states')).length).toBeGreaterThanOrEqual(2);

        // Symbolic dims are kept: one split serves other batches and resolutions.
        for (const [batch, size, seed] of [[1, 8, 1], [3, 16, 2]] as const) {
          expect(await chainDiff(split, modelPath, inputs(batch, size), seed)).toBeLessThanOrEqual(c.tolerance);
        }
      });
    }
  });

  it('splits a read-only model folder into the cache dir without touching the folder; an unwritable cache dir is SPLIT_CACHE_UNWRITABLE', async () => {
    const { modelPath, inputs } = await writeSdUnet(join(dir, 'read-only'), { kind: 'sd15' });
    const unetDir = dirname(modelPath);
    const listing = async (): Promise<string[]> => Promise.all((await readdir(unetDir)).sort().map(async (f) => `${f}:${(await stat(join(unetDir, f))).mtimeMs}`));
    const before = await listing();
    for (const f of await readdir(unetDir)) await chmod(join(unetDir, f), 0o444);
    await chmod(unetDir, 0o555);
    try {
      const split = await splitModel({ modelPath, stages: 2, inputs: inputs(2, 8), costModel: 'flops', cacheDir: join(dir, 'read-only-cache') });
      expect(split.planDir.startsWith(join(dir, 'read-only-cache'))).toBe(true);
      expect((await checkStageData(split, modelPath)).problems).toEqual([]);
      expect(await chainDiff(split, modelPath, inputs(2, 8), 3)).toBeLessThanOrEqual(1e-5);
      expect(await listing()).toEqual(before);

      const error = await splitModel({ modelPath, stages: 2, inputs: inputs(2, 8), costModel: 'flops', cacheDir: join(modelPath, 'splits') }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SplitCacheError);
      expect(error).toMatchObject({ code: 'SPLIT_CACHE_UNWRITABLE', field: 'cacheDir' });
      expect((error as Error).message).toContain('pass a writable cacheDir');
    } finally {
      await chmod(unetDir, 0o755);
    }
  });

  it('reuses a cached plan; another host with a copy of the model finds the same split; a shipped plan dir runs without the source', async () => {
    const { modelPath, inputs } = await writeSdUnet(join(dir, 'host-a'), { kind: 'sdxl' });
    const cacheDir = join(dir, 'fleet-cache');
    const options: SplitModelOptions = { modelPath, stages: 2, inputs: inputs(2, 8), costModel: 'flops', cacheDir };
    const first = await splitModel(options);
    expect(first.fromCache).toBe(false);
    const planMtime = (await stat(join(first.planDir, 'plan.json'))).mtimeMs;
    const again = await splitModel(options);
    expect(again).toMatchObject({ fromCache: true, planDir: first.planDir });
    expect(again.plan).toEqual(first.plan);
    expect((await stat(join(first.planDir, 'plan.json'))).mtimeMs).toBe(planMtime);

    // Host B: the same model copied elsewhere (new paths, inodes and mtimes), the shared cache.
    await cp(join(dir, 'host-a'), join(dir, 'host-b'), { recursive: true });
    const hostB = join(dir, 'host-b', 'unet', 'model.onnx');
    expect((await stat(hostB)).mtimeMs).not.toBe((await stat(modelPath)).mtimeMs);
    expect(await splitModel({ ...options, modelPath: hostB })).toMatchObject({ fromCache: true, planDir: first.planDir });

    // Shipped: the plan dir copied to another store loads and runs on its own.
    const shipped = join(dir, 'shipped', first.plan.key);
    await cp(first.planDir, shipped, { recursive: true });
    const loaded = await loadSplitPlan(shipped);
    const feeds = sdFeeds(inputs(2, 8), 4);
    const reference = (await runModel(modelPath, feeds)).out_sample;
    await rm(join(dir, 'host-a'), { recursive: true, force: true });
    await rm(first.planDir, { recursive: true, force: true });
    expect(maxAbsDiff((await runStageChain(loaded, feeds)).out_sample as never, reference as never)).toBeLessThanOrEqual(1e-5);

    // Different weights (same graph, same size) are a different split.
    const data = join(dir, 'host-b', 'unet', 'model.onnx_data');
    const { model } = await readOnnxModel(hostB);
    const bytes = await readFile(data);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(data, bytes);
    await writeOnnxModel(hostB, model);
    const changed = await splitModel({ ...options, modelPath: hostB });
    expect(changed.fromCache).toBe(false);
    expect(changed.plan.source.modelSha256).not.toBe(first.plan.source.modelSha256);
  });

  it('with measureStages, loads and times each stage alone in its own child process and records its peak RSS', async () => {
    const { modelPath, inputs } = await writeSdUnet(join(dir, 'probe'), { kind: 'sd15' });
    const split = await splitModel({ modelPath, stages: 2, inputs: inputs(2, 8), costModel: 'flops', measureStages: true, profile: { runs: 2, warmupRuns: 1 }, cacheDir: join(dir, 'cache') });
    expect(split.plan.measurement).toMatchObject({ method: 'child-process', runs: 2, warmupRuns: 1 });
    for (const stage of split.plan.stages) {
      expect(stage.measuredRunMs).toBeGreaterThan(0);
      expect(stage.measuredLoadMs).toBeGreaterThan(0);
      expect(stage.measuredPeakRssBytes).toBeGreaterThan(20 * 1024 * 1024);
    }
    expect(split.plan.balance.fullModelMeasuredMs).toBeNull();
  });

  it('caps each stage\'s weights with maxStageWeightShare (at some cost in balance); an impossible cap names the field', async () => {
    const { modelPath, inputs } = await writeSdUnet(join(dir, 'weight-cap'), { kind: 'sd15' });
    const options: SplitModelOptions = { modelPath, stages: 2, inputs: inputs(2, 8), costModel: 'flops', cacheDir: join(dir, 'cache') };
    const analysis = analyseGraph((await readOnnxModel(modelPath)).model);
    const total = [...analysis.initializers.values()].reduce((sum, i) => sum + i.bytes, 0);
    const free = await splitModel(options);
    // The time-balanced cut puts more than 56 % of the weights in one stage; the cap binds.
    const cap = 0.56;
    expect(Math.max(...free.plan.stages.map((s) => s.parameterBytes))).toBeGreaterThan(cap * total);
    const capped = await splitModel({ ...options, maxStageWeightShare: cap });
    expect(capped.plan.assignment.maxStageWeightShare).toBe(cap);
    for (const s of capped.plan.stages) expect(s.parameterBytes).toBeLessThanOrEqual(cap * total);
    // A constraint never makes the best achievable slowest stage faster.
    expect(capped.plan.balance.optimalSlowestCostMs).toBeGreaterThanOrEqual(free.plan.balance.optimalSlowestCostMs as number);
    expect((await checkStageData(capped, modelPath)).problems).toEqual([]);
    expect(await chainDiff(capped, modelPath, inputs(2, 8), 5)).toBeLessThanOrEqual(1e-5);
    const impossible = await splitModel({ ...options, maxStageWeightShare: 0.05 }).catch((e: unknown) => e);
    expect(impossible).toBeInstanceOf(SplitOptionsError);
    expect(impossible).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'maxStageWeightShare' });
    expect(await splitModel({ ...options, maxStageWeightShare: 1.5 }).catch((e: unknown) => e)).toMatchObject({ field: 'maxStageWeightShare' });
  });

  it('costModel auto profiles small models and costs large ones analytically', async () => {
    const { modelPath, inputs } = await writeSdUnet(join(dir, 'auto'), { kind: 'sd15' });
    const split = await splitModel({ modelPath, stages: 2, inputs: inputs(2, 8), profile: { runs: 1, warmupRuns: 0 }, measureStages: false, cacheDir: join(dir, 'cache') });
    expect(split.plan.assignment.costSource).toBe('profile');
    const identity = (bytes: number): ModelIdentity => ({ sha256: 'x', scheme: 'graph-sha256+data-sha256', externalData: ['model.onnx_data'], externalDataBytes: bytes });
    const o = resolveSplitModelOptions({ modelPath, stages: 2, inputs: inputs(2, 8) });
    expect(chooseCostSource(o, identity(AUTO_FLOPS_MIN_WEIGHT_BYTES))).toBe('flops');
    expect(chooseCostSource(o, identity(AUTO_FLOPS_MIN_WEIGHT_BYTES - 1))).toBe('profile');
    expect(chooseCostSource({ ...o, inputs: null, profile: null }, identity(AUTO_FLOPS_MIN_WEIGHT_BYTES))).toBe('uniform');
    expect(chooseCostSource({ ...o, costModel: 'profile' }, identity(AUTO_FLOPS_MIN_WEIGHT_BYTES))).toBe('profile');
  });

  it('rejects bad options and broken external data with SplitError codes naming the field', async () => {
    const { modelPath, inputs } = await writeSdUnet(join(dir, 'bad'), { kind: 'sdxl' });
    const base: SplitModelOptions = { modelPath, stages: 2, inputs: inputs(2, 8), costModel: 'flops', cacheDir: join(dir, 'bad-cache') };
    const failure = async (options: SplitModelOptions): Promise<SplitError> => {
      const error = await splitModel(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SplitError);
      return error as SplitError;
    };
    expect(await failure({ ...base, costModel: 'guess' as never })).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'costModel' });
    const { inputs: _none, ...noInputs } = base;
    expect(await failure({ ...noInputs, profile: false })).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'inputs' });
    expect(await failure({ ...base, analyticRates: { gflopsPerSecond: 0 } })).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'analyticRates.gflopsPerSecond' });
    const { text_embeds: _t, ...missing } = inputs(2, 8);
    const noText = await failure({ ...base, inputs: missing });
    expect(noText).toBeInstanceOf(SplitOptionsError);
    expect(noText).toMatchObject({ code: 'SPLIT_INVALID_OPTION', field: 'inputs.text_embeds' });
    expect(await failure({ ...base, inputs: { ...inputs(2, 8), time_ids: { dtype: 'float32', dims: [2, 5] } } })).toMatchObject({ field: 'inputs.time_ids' });

    const data = join(dirname(modelPath), 'model.onnx_data');
    const { model } = await readOnnxModel(modelPath);
    // A truncated data file: some tensor's range now ends past the file.
    const full = (await stat(data)).size;
    await truncate(data, full - 100);
    const truncated = await failure({ ...base, force: true });
    expect(truncated).toBeInstanceOf(SplitModelError);
    expect(truncated).toMatchObject({ code: 'SPLIT_MODEL_UNREADABLE', field: 'modelPath' });
    expect(truncated.message).toMatch(/tensor ".+": external data \[\d+, \d+\) lies outside "model.onnx_data"/);
    // A location leaving the model's directory.
    const escaping = structuredClone(model);
    const victim = (escaping.graph?.initializer ?? []).find((t) => t.dataLocation === 1);
    for (const e of victim?.externalData ?? []) if (e.key === 'location') e.value = '../elsewhere.bin';
    await writeFile(join(dir, 'bad', 'elsewhere.bin'), new Uint8Array(1 << 20));
    await writeOnnxModel(modelPath, escaping);
    const escaped = await failure({ ...base, force: true });
    expect(escaped).toMatchObject({ code: 'SPLIT_MODEL_UNREADABLE', field: 'modelPath' });
    expect(escaped.message).toContain(`tensor "${victim?.name}"`);
    // A missing data file.
    await writeOnnxModel(modelPath, model);
    await rm(data);
    expect(await failure({ ...base, force: true })).toMatchObject({ code: 'SPLIT_MODEL_UNREADABLE', field: 'modelPath' });
  });
});
