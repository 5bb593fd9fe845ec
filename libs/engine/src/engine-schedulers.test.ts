import type { SamplerCheckpoint } from '@asyncdiff/asyncdiff';
import { findModelPackage } from '@asyncdiff/models';
import { describe, expect, it } from 'vitest';

import { classConditioning } from './denoiser.js';
import { Engine } from './engine.js';

const model = findModelPackage('digits');

describe('the engine with a scheduler that runs more model evaluations than steps (pndm)', () => {
  it('samples all of them and resumes bit-identically from a checkpoint taken after any evaluation', async () => {
    const engine = await Engine.open({ model, parallel: { mode: 'sequential' }, runner: 'in-process' });
    try {
      const checkpoints: SamplerCheckpoint[] = [];
      const request = { conditioning: classConditioning(model, [3]), seed: 11, steps: 5, scheduler: 'pndm' as const };
      const whole = await engine.generate({ ...request, onStep: (p) => checkpoints.push({ ...p.checkpoint, latent: p.checkpoint.latent.slice() }) });
      // diffusers' PNDMScheduler without skip_prk_steps: 3 Runge–Kutta steps of 4 evaluations, then PLMS.
      expect(whole.evaluations).toBe(5 + 9);
      expect(checkpoints.map((c) => c.step)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
      for (const at of [1, 2, 5, 12, 13]) {
        const c = checkpoints[at - 1]!;
        // The scheduler state travels as JSON (Redis, another host).
        const resume = { ...c, scheduler: JSON.parse(JSON.stringify(c.scheduler)) as SamplerCheckpoint['scheduler'] };
        const resumed = await engine.generate({ ...request, resume });
        expect(resumed.latents, `resumed after evaluation ${at}`).toEqual(whole.latents);
      }
    } finally {
      await engine.close();
    }
  }, 60_000);
});
