import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyseGraph } from './graph-analysis.js';
import { readOnnxModel } from './onnx-io.js';
import { splitModel } from './split-model.js';
import { probeSplit } from './stage-probe.js';
import { floatValues, maxAbsDiff, runModel, runStageChain } from './test-fixtures/run-stages.js';
import type { SdFixture } from './test-fixtures/sd-pipelines.js';
import { SD_FIXTURES as FIXTURES, unetPath } from './test-fixtures/sd-pipelines.js';
import { sdFeeds } from './test-fixtures/sd-unet.js';
import { checkStageData } from './test-fixtures/stage-data.js';

describe('splitting the sd-fixtures pipelines\' UNets (torch exports with external data)', () => {
  let dir = '';
  let listings: string[][] = [];
  const folderListing = async (unetDir: string): Promise<string[]> => Promise.all((await readdir(unetDir)).sort().map(async (f) => `${f}:${(await stat(join(unetDir, f))).mtimeMs}`));
  const allListings = async (): Promise<string[][]> => Promise.all(FIXTURES.map((f) => folderListing(join(unetPath(f.name), '..'))));
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onnx-split-sd-fixtures-'));
    listings = await allListings();
  });
  afterAll(async () => {
    // The fixture folders are never written: splits go to the cache dir.
    expect(await allListings()).toEqual(listings);
    await rm(dir, { recursive: true, force: true });
  });

  for (const f of FIXTURES) {
    for (const stages of f.stages) {
      it(`${f.name}, N = ${stages}: own data per stage, timestep embedding and conditioning fresh in every stage, chain exact at two sizes and batches`, async () => {
        const path = unetPath(f.name);
        const split = await splitModel({ modelPath: path, stages, inputs: f.inputs(2, 8), costModel: 'flops', cacheDir: dir });
        expect(split.plan.analytic).toMatchObject({ unknownCostNodes: 0, unsupportedOps: {} });
        expect((await checkStageData(split, path)).problems).toEqual([]);
        const analysis = analyseGraph((await readOnnxModel(path)).model);
        // diffusers' `timesteps.expand(sample.shape[0])`: the embedding stays conditioning.
        expect(analysis.nodes.find((n) => n.name === '/time_embedding/linear_2/Gemm')?.latent).toBe(false);
        for (const b of split.plan.boundaries) expect(analysis.latentTensors.has(b.name)).toBe(true);
        for (const stage of split.plan.stages) {
          expect(stage.inputs.filter((i) => i.kind === 'conditioning').map((i) => i.name).sort()).toEqual([...f.conditioning].sort());
        }
        for (const [batch, size, seed] of [[1, 8, 1], [3, 16, 2]] as const) {
          const feeds = sdFeeds(f.inputs(batch, size), seed);
          const whole = (await runModel(path, feeds)).out_sample;
          const chained = (await runStageChain(split, feeds)).out_sample;
          // fp16: ORT fuses fp16↔fp32 casts differently when a cut separates them, so allow ~2 ulps.
          const scale = f.relative ? Math.max(...floatValues(whole as never).map(Math.abs)) : 1;
          expect(maxAbsDiff(chained as never, whole as never)).toBeLessThanOrEqual(f.tolerance * scale);
        }
      });
    }
  }

  it('an fp16 export cut from an ORT profile and calibration keeps its boundaries float16 (ORT runs fp16 Convs in float32 on CPU and profiles them so)', async () => {
    const f = FIXTURES.find((x) => x.name === 'tiny-sd15-fp16') as SdFixture;
    const path = unetPath(f.name);
    const split = await splitModel({ modelPath: path, stages: 2, inputs: f.inputs(2, 8), costModel: 'profile', measureStages: true, calibrationRounds: 1, profile: { runs: 1, warmupRuns: 0 }, cacheDir: dir });
    expect(split.plan.boundaries.length).toBeGreaterThan(0);
    for (const b of split.plan.boundaries) if (b.dtype !== 'int64') expect(b.dtype, b.name).toBe('float16');
    const feeds = sdFeeds(f.inputs(1, 8), 3);
    const whole = (await runModel(path, feeds)).out_sample;
    const chained = (await runStageChain(split, feeds)).out_sample;
    const scale = Math.max(...floatValues(whole as never).map(Math.abs));
    expect(maxAbsDiff(chained as never, whole as never)).toBeLessThanOrEqual(f.tolerance * scale);
  });

  it('probes each stage of a plan alone in its own process at other shapes, chaining real boundary tensors (shape tensors included)', async () => {
    const f = FIXTURES[0] as SdFixture;
    const split = await splitModel({ modelPath: unetPath(f.name), stages: 3, inputs: f.inputs(2, 8), costModel: 'flops', measureStages: true, profile: { runs: 1, warmupRuns: 0 }, cacheDir: dir });
    expect(split.plan.measurement?.method).toBe('child-process');
    expect(split.plan.stages.every((s) => (s.measuredPeakRssBytes ?? 0) > 0)).toBe(true);
    expect(split.plan.boundaries.some((b) => b.dtype === 'int64')).toBe(true);
    const probes = await probeSplit(split, f.inputs(1, 16), { runs: 1, warmupRuns: 0, intraOpNumThreads: 1 });
    expect(probes).toHaveLength(3);
    expect(probes[2]?.outputs.out_sample?.dims).toEqual([1, 4, 16, 16]);
    for (const p of probes) expect(p.peakRssBytes).toBeGreaterThan(p.rssAfterLoadBytes / 2);
  });
});
