import type { ModelPackage } from '@asyncdiff/models';
import type { Express, RequestHandler } from 'express';

import type { RouteContext } from './context.js';

/** A model as `GET /v1/models` lists it: what a client needs to build a valid job. */
export interface ModelView {
  readonly name: string;
  readonly kind: ModelPackage['kind'];
  readonly version: number;
  readonly description: string;
  readonly sample: { readonly dims: readonly number[]; readonly frames: number; readonly height: number; readonly width: number };
  readonly prompts: ReadonlyArray<{ readonly classId: number; readonly label: string; readonly aliases: readonly string[] }>;
  readonly defaults: { readonly steps: number; readonly guidance: number; readonly scheduler: string };
  readonly outputFormats: readonly string[];
}

/** Client view of a model package. */
export function toModelView(m: ModelPackage): ModelView {
  return {
    name: m.name,
    kind: m.kind,
    version: m.version,
    description: m.description,
    sample: { dims: m.sampleDims, frames: m.frames, height: m.height, width: m.width },
    prompts: m.classes.map((c) => ({ classId: c.id, label: c.label, aliases: c.aliases })),
    defaults: { steps: m.defaults.steps, guidance: m.defaults.guidance, scheduler: m.defaults.scheduler },
    outputFormats: m.kind === 'image' ? ['png'] : ['gif', 'mp4', 'webm'],
  };
}

/** `GET /v1/models`. */
export function registerModelRoutes(app: Express, ctx: RouteContext, guard: readonly RequestHandler[]): void {
  app.get('/v1/models', ...guard, (_req, res) => {
    res.json({ models: ctx.jobs.models.list().map(toModelView) });
  });
}
