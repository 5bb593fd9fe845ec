import type { GeneratorPackage } from '@asyncdiff/models';

import type { JobSpec } from './job-spec.js';
import type { ModelCatalog } from './model-catalog.js';

/** Pixels of one work unit: a 16×16 sample (the shipped `digits` model) costs 1 unit per step. */
export const WORK_UNIT_PIXELS = 256;

/**
 * Units every job costs on top of its denoising: its record, queue entry and indexes take about
 * 3 KB of Redis (measured) and a host's attention even at 1 step, so a batch of 5,000 one-step
 * jobs is not free. With it a unit of queued work never holds more than ~60 bytes of Redis, which
 * is what lets a cap in units (`MAX_QUEUED_WORK_TOTAL`) bound Redis memory.
 */
export const JOB_OVERHEAD_UNITS = 50;

/** The denoiser's sample size of a model (its latent size for latent models): what a step computes over. */
export interface SampleSize {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
}

/**
 * What a job costs, in work units: `steps × count × frames × ⌈height × width / 256⌉ + 50`.
 * One number for admission everywhere — the API's work-rate bucket, the per-owner and total
 * queued-work caps — so cost follows the work a request asks for, not the number of requests.
 * Guidance and the output `scale` are left out: CFG at most doubles a step and upscaling is
 * cheap next to denoising; the formula stays predictable for clients.
 */
export function workUnits(spec: Pick<JobSpec, 'steps' | 'count'>, sample: SampleSize): number {
  const pixels = Math.max(1, Math.ceil((sample.height * sample.width) / WORK_UNIT_PIXELS));
  return spec.steps * spec.count * Math.max(1, sample.frames) * pixels + JOB_OVERHEAD_UNITS;
}

/**
 * The sample a job's denoiser steps over: a class model's own sample, or for a text-to-image
 * (diffusers) package the latent of the requested size (pixels ÷ the VAE's scale factor, 8 for SD).
 */
export function sampleSizeOf(spec: Pick<JobSpec, 'text'>, model: GeneratorPackage): SampleSize {
  if (model.format === 'asyncdiff') return model;
  const width = spec.text?.width ?? model.defaults.width;
  const height = spec.text?.height ?? model.defaults.height;
  const cell = Math.max(1, model.vae.scaleFactor);
  return { frames: 1, height: Math.ceil(height / cell), width: Math.ceil(width / cell) };
}

/** `workUnits` of a resolved spec, its sample size taken from the catalog (the spec was validated against it). */
export function workUnitsOf(spec: Pick<JobSpec, 'steps' | 'count' | 'model' | 'text'>, catalog: ModelCatalog): number {
  const model = catalog.find(spec.model);
  if (!model) throw new Error(`workUnitsOf: model ${spec.model} is not in the catalog`);
  return workUnits(spec, sampleSizeOf(spec, model));
}

/**
 * Caps on queued work (units of jobs not yet ended), checked atomically when jobs are recorded:
 * `perOwner` for the submitting owner, `total` for the whole fleet (protects Redis memory). A
 * cap of 0 disables it.
 */
export interface WorkLimits {
  readonly perOwner: number;
  readonly total: number;
}

/**
 * Admission hook a submitter passes: called once the request is valid, with its cost, before
 * anything is written (the API charges its work-rate bucket here). Throwing refuses the request.
 */
export type AdmitWork = (units: number) => Promise<void> | void;
