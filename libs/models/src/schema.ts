import { SCHEDULER_KINDS } from '@asyncdiff/schedulers';
import { z } from 'zod';

import { JOB_TIMEOUT_SEC } from './model-package.js';

/** zod schema of a generator's model.json (the file format written by tools/train). */
export const modelJsonSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  kind: z.enum(['image', 'video']),
  version: z.number().int().positive(),
  description: z.string().default(''),
  sample: z.object({
    channels: z.number().int().positive(),
    frames: z.number().int().positive().optional(),
    height: z.number().int().positive(),
    width: z.number().int().positive(),
  }),
  valueRange: z.tuple([z.number(), z.number()]).default([-1, 1]),
  io: z.object({
    sample: z.string().min(1),
    timestep: z.string().min(1),
    classLabels: z.string().min(1),
    output: z.string().min(1),
  }),
  conditioning: z.object({
    type: z.literal('class'),
    classes: z
      .array(z.object({ id: z.number().int().nonnegative(), label: z.string().min(1), aliases: z.array(z.string()).default([]) }))
      .min(1),
    nullClass: z.number().int().nonnegative(),
  }),
  noiseSchedule: z.object({
    type: z.enum(['linear', 'scaled-linear']),
    betaStart: z.number().positive(),
    betaEnd: z.number().positive(),
    trainSteps: z.number().int().positive(),
  }),
  prediction: z.literal('epsilon'),
  defaults: z.object({
    steps: z.number().int().positive(),
    guidance: z.number().nonnegative(),
    scheduler: z.enum(SCHEDULER_KINDS),
    eta: z.number().nonnegative().default(0),
    clipSample: z.boolean().default(true),
    useClippedModelOutput: z.boolean().default(false),
    timeoutSec: z.number().int().min(JOB_TIMEOUT_SEC.min).max(JOB_TIMEOUT_SEC.max).default(JOB_TIMEOUT_SEC.default),
  }),
  files: z.object({ denoiser: z.string().min(1) }),
  evaluator: z.string().optional(),
});

/** Parsed model.json. */
export type ModelJson = z.infer<typeof modelJsonSchema>;
