import { findModelPackage } from '@asyncdiff/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { classConditioning } from './denoiser.js';
import { Engine } from './engine.js';

const model = findModelPackage('digits');

describe('Engine.generate beyond one runner batch', () => {
  // maxBatch 4 holds 2 images with guidance: 6 images need 3 chunks; 12 holds them in one.
  let chunked: Engine;
  let whole: Engine;
  const open = (maxBatch: number): Promise<Engine> => Engine.open({ model, parallel: { mode: 'async', stages: 2, warmup: 2 }, maxBatch });
  beforeAll(async () => {
    [chunked, whole] = await Promise.all([open(4), open(12)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([chunked?.close(), whole?.close()]);
  });

  const classIds = [0, 1, 2, 3, 4, 5];

  it('runs in chunks whose latents equal a one-chunk run of the same seeds, byte for byte', async () => {
    const progress: [number, number][] = [];
    const a = await chunked.generate({ conditioning: classConditioning(model, classIds), seed: 40, steps: 8, onStep: (p) => progress.push([p.step, p.steps]) });
    const b = await whole.generate({ conditioning: classConditioning(model, classIds), seed: 40, steps: 8 });
    expect(a.images).toBe(6);
    expect(a.latents.length).toBe(b.latents.length);
    expect(Buffer.from(a.latents.buffer).equals(Buffer.from(b.latents.buffer))).toBe(true);
    // Progress counts over all chunks, monotonically: 3 chunks × 8 steps.
    expect(progress).toEqual(Array.from({ length: 24 }, (_, i) => [i + 1, 24]));
    expect(a.phases.warmup.steps + a.phases.parallel.steps).toBe(24);
    // Image i is seed + i: the third chunk alone is images 4 and 5.
    const tail = await chunked.generate({ conditioning: classConditioning(model, [4, 5]), seed: 44, steps: 8 });
    expect(Buffer.from(tail.latents.buffer).equals(Buffer.from(a.latents.buffer, a.latents.byteLength * (4 / 6)))).toBe(true);
  }, 60_000);

  it('fits twice the images per chunk without guidance (one row per image)', async () => {
    const progress: number[] = [];
    const a = await chunked.generate({ conditioning: classConditioning(model, classIds), seed: 3, steps: 4, guidance: 1, onStep: (p) => progress.push(p.steps) });
    const b = await whole.generate({ conditioning: classConditioning(model, classIds), seed: 3, steps: 4, guidance: 1 });
    expect(new Set(progress)).toEqual(new Set([8])); // 2 chunks of 4 steps
    expect(Buffer.from(a.latents.buffer).equals(Buffer.from(b.latents.buffer))).toBe(true);
  }, 60_000);

  it('refuses to resume a chunked generation from a checkpoint, naming the field', async () => {
    const checkpoint = { step: 2, latent: new Float32Array(6 * 256), scheduler: { version: 1, kind: 'ddim', steps: 8, nextStepIndex: 2, previousModelOutput: [] } } as const;
    await expect(chunked.generate({ conditioning: classConditioning(model, classIds), seed: 1, steps: 8, resume: checkpoint as never })).rejects.toMatchObject({ code: 'SAMPLER_INVALID_OPTION', field: 'resume' });
  });
});
