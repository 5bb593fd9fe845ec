/**
 * @asyncdiff/schedulers — diffusion samplers over a model's training noise schedule (DDIM, DDPM,
 * Euler, Euler ancestral, DPM-Solver++(2M), PNDM, following diffusers' formulas and timestep
 * arithmetic), configured either by options or by a diffusers package's scheduler_config.json,
 * and classifier-free guidance. Plain functions over float32 arrays; no I/O.
 */
export type {
  NoiseScheduleSpec,
  PredictionType,
  ResolvedSchedulerOptions,
  Scheduler,
  SchedulerKind,
  SchedulerOptions,
  SchedulerSetup,
  SchedulerState,
  TimestepSpacing,
} from './scheduler.js';
export { PREDICTION_TYPES, SCHEDULER_KINDS, TIMESTEP_SPACINGS } from './scheduler.js';
export { createScheduler } from './create-scheduler.js';
export { resolveSchedulerOptions, resolveSchedulerSetup, validateNoiseSchedule } from './options.js';
export type { SchedulerSettings } from './knobs.js';
export type { DiffusersSchedulerConfig } from './diffusers-config.js';
export { DIFFUSERS_SCHEDULER_CLASSES, schedulerConfigFromDiffusers } from './diffusers-config.js';
export type { SamplingRuntimeOptions } from './config-options.js';
export { schedulerOptionsFromConfig } from './config-options.js';
export { alphasCumprod } from './noise-schedule.js';
export { alphaBarOfSigma, predictOriginalSample } from './predicted-original.js';
export { applyGuidance } from './guidance.js';
export type { SchedulerErrorCode } from './errors.js';
export { InvalidSchedulerOptionError, SchedulerConfigError, SchedulerError } from './errors.js';
