/**
 * @asyncdiff/schedulers — diffusion samplers over a model's training noise schedule (DDIM, DDPM,
 * Euler, Euler ancestral, DPM-Solver++(2M), following diffusers' formulas) and classifier-free
 * guidance. Plain functions over float32 arrays; no I/O.
 */
export type {
  NoiseScheduleSpec,
  ResolvedSchedulerOptions,
  Scheduler,
  SchedulerKind,
  SchedulerOptions,
  SchedulerState,
} from './scheduler.js';
export { SCHEDULER_KINDS } from './scheduler.js';
export { createScheduler } from './create-scheduler.js';
export { resolveSchedulerOptions, validateNoiseSchedule } from './options.js';
export { alphasCumprod } from './noise-schedule.js';
export { applyGuidance } from './guidance.js';
export type { SchedulerErrorCode } from './errors.js';
export { InvalidSchedulerOptionError, SchedulerError } from './errors.js';
