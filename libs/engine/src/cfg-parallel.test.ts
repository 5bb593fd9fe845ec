import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { findGenerator, findModelPackage, type DiffusersPackage } from '@asyncdiff/models';
import { describe, expect, it } from 'vitest';

import { classConditioning } from './denoiser.js';
import { Engine, type EngineOptions } from './engine.js';
import type { ParallelOptions } from '@asyncdiff/asyncdiff';
import { TextToImage, openModelHost } from './text-to-image.js';

const PIPELINES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/pipelines');

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

async function latents(model: EngineOptions['model'], parallel: ParallelOptions, runner: 'process' | 'in-process', req: { classIds: number[]; guidance: number; steps: number; seed: number }): Promise<Float32Array> {
  const engine = await Engine.open({ model, parallel, runner, ...(runner === 'process' && { wait: 'sync' as const }) });
  try {
    if (model.format !== 'asyncdiff') throw new Error('class model expected');
    const r = await engine.generate({ conditioning: classConditioning(model, req.classIds), seed: req.seed, steps: req.steps, guidance: req.guidance, scheduler: 'ddim' });
    return r.latents;
  } finally {
    await engine.close();
  }
}

describe.each(['digits', 'moving-digits'])('%s: CFG-parallel (the guidance halves on two devices)', (name) => {
  const model = findModelPackage(name);
  const req = { classIds: [3, 8], guidance: 2, steps: 10, seed: 21 };

  it('equals sequential sampling (≤ 1e-5 on the latent), in stage processes and in process', async () => {
    const sequential = await latents(model, { mode: 'sequential' }, 'in-process', req);
    const cfg = await latents(model, { mode: 'cfg' }, 'process', req);
    const cfgInProcess = await latents(model, { mode: 'cfg' }, 'in-process', req);
    expect(maxAbsDiff(cfg, sequential)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(cfgInProcess, sequential)).toBeLessThanOrEqual(1e-5);
    // ORT's CPU kernels compute each batch row the same way whatever the batch: the halves at
    // batch 1 give the batch-2 result bit for bit, so an exact job's bytes never depend on the mode.
    expect(Buffer.from(cfg.buffer).equals(Buffer.from(sequential.buffer))).toBe(true);
    expect(Buffer.from(cfg.buffer).equals(Buffer.from(cfgInProcess.buffer))).toBe(true);
  }, 120_000);

  it('falls back cleanly without guidance: rows split across the branches, or one branch for one image', async () => {
    for (const classIds of [[5], [1, 2, 3]]) {
      const r = { ...req, classIds, guidance: 1 };
      const sequential = await latents(model, { mode: 'sequential' }, 'in-process', r);
      const cfg = await latents(model, { mode: 'cfg' }, 'in-process', r);
      expect(maxAbsDiff(cfg, sequential)).toBeLessThanOrEqual(1e-5);
    }
  }, 120_000);
});

describe('hybrid: an AsyncDiff pipeline per guidance branch (2 × N devices)', () => {
  const model = findModelPackage('digits');
  const req = { classIds: [3, 8], guidance: 2, steps: 12, seed: 11 };

  it('with W ≥ T reproduces sequential sampling; with W = 3 the stage processes compute exactly what the in-process reference does', async () => {
    const sequential = await latents(model, { mode: 'sequential' }, 'in-process', req);
    const exact = await latents(model, { mode: 'hybrid', stages: 2, warmup: 100 }, 'in-process', req);
    expect(maxAbsDiff(exact, sequential)).toBeLessThanOrEqual(1e-5);
    // On a 2-core machine the 4 stages share cores (oversubscribed): correctness, not speed, here.
    const asyncRef = await latents(model, { mode: 'hybrid', stages: 2, warmup: 3 }, 'in-process', req);
    const asyncProc = await latents(model, { mode: 'hybrid', stages: 2, warmup: 3 }, 'process', req);
    expect(maxAbsDiff(asyncRef, sequential)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(asyncProc, asyncRef)).toBeLessThanOrEqual(1e-5);
    // And equals plain AsyncDiff: each branch sees the same stale features AsyncDiff's batch does.
    const plainAsync = await latents(model, { mode: 'async', stages: 2, warmup: 3 }, 'in-process', req);
    expect(maxAbsDiff(asyncRef, plainAsync)).toBeLessThanOrEqual(1e-5);
  }, 180_000);
});

describe('CFG-parallel on a text-to-image pipeline (tiny SD 1.5 export)', () => {
  it('equals sequential sampling of the same prompt and seed', async () => {
    const model = findGenerator(path.join(PIPELINES, 'tiny-sd15')) as DiffusersPackage;
    const run = async (parallel: ParallelOptions, runner: 'process' | 'in-process'): Promise<Float32Array> => {
      const engine = await Engine.open({ model, parallel, runner, ...(runner === 'process' && { wait: 'sync' as const }) });
      const t2i = await TextToImage.open(engine, await openModelHost(model, { kind: 'in-process' }));
      try {
        return (await t2i.generate({ prompt: 'a lighthouse at dusk', negativePrompt: 'fog', count: 2, seed: 3, steps: 6 })).generation.latents;
      } finally {
        await t2i.close();
        await engine.close();
      }
    };
    const sequential = await run({ mode: 'sequential' }, 'in-process');
    const cfg = await run({ mode: 'cfg' }, 'process');
    expect(maxAbsDiff(cfg, sequential)).toBeLessThanOrEqual(1e-5);
    expect(Buffer.from(cfg.buffer).equals(Buffer.from(sequential.buffer))).toBe(true);
  }, 120_000);
});
