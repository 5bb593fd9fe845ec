import { readOnnxInputs, timestepBatchingOf, type GeneratorPackage, type TimestepBatching } from '@asyncdiff/models';
import { SPEC_LIMITS } from '@asyncdiff/queue';
import type { Express, RequestHandler } from 'express';
import type { z } from 'zod';

import type { modelListSchema } from '../openapi/schemas.js';
import type { RouteContext } from './context.js';

/** A model as `GET /v1/models` lists it: what a client needs to build a valid job. */
export type ModelView = z.infer<typeof modelListSchema>['models'][number];

/** Client view of a model package, ours or a diffusers export. */
export function toModelView(m: GeneratorPackage): ModelView {
  const outputFormats: ModelView['outputFormats'] = m.kind === 'image' ? ['png'] : ['gif', 'mp4', 'webm'];
  if (m.format === 'diffusers') {
    const latent = m.vae.scaleFactor;
    return {
      name: m.name,
      kind: m.kind,
      format: m.format,
      version: m.version,
      description: m.description,
      takesText: true,
      sample: { dims: [m.unet.inChannels, m.defaults.height / latent, m.defaults.width / latent], frames: 1, height: m.defaults.height / latent, width: m.defaults.width / latent },
      resolution: { width: m.defaults.width, height: m.defaults.height, ...m.resolution, scale: 1 },
      prompts: [],
      defaults: { steps: m.defaults.steps, guidance: m.defaults.guidance, scheduler: m.defaults.scheduler, timeoutSec: m.defaults.timeoutSec },
      outputFormats,
      batching: batchingOf(m.unet.path, 'timestep'),
    };
  }
  return {
    name: m.name,
    kind: m.kind,
    format: m.format,
    version: m.version,
    description: m.description,
    takesText: false,
    sample: { dims: [...m.sampleDims], frames: m.frames, height: m.height, width: m.width },
    resolution: { width: m.width, height: m.height, min: m.width, max: m.width, multiple: m.width, scale: SPEC_LIMITS.scale.default },
    prompts: m.classes.map((c) => ({ classId: c.id, label: c.label, aliases: [...c.aliases] })),
    defaults: { steps: m.defaults.steps, guidance: m.defaults.guidance, scheduler: m.defaults.scheduler, timeoutSec: m.defaults.timeoutSec },
    outputFormats,
    batching: batchingOf(m.denoiserPath, m.io.timestep),
  };
}

/** Timestep batching per denoiser file, read once (the graph's declared inputs, never its weights). */
const timestepCases = new Map<string, TimestepBatching>();

/** Every model may batch (a host decides per model whether it pays); how jobs join depends on the timestep input. */
function batchingOf(denoiserPath: string, timestepInput: string): ModelView['batching'] {
  let timestep = timestepCases.get(denoiserPath);
  if (timestep === undefined) {
    timestep = timestepBatchingOf(readOnnxInputs(denoiserPath).find((i) => i.name === timestepInput)?.dims);
    timestepCases.set(denoiserPath, timestep);
  }
  return { timestep, continuous: true, joinsAtAnyStep: timestep === 'per-sample' };
}

/** `GET /v1/models`. */
export function registerModelRoutes(app: Express, ctx: RouteContext, guard: readonly RequestHandler[]): void {
  app.get('/v1/models', ...guard, (_req, res) => {
    res.json({ models: ctx.jobs.models.list().map(toModelView) });
  });
}
