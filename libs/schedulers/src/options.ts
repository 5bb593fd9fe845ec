import { InvalidSchedulerOptionError } from './errors.js';
import { SCHEDULER_KINDS, type NoiseScheduleSpec, type ResolvedSchedulerOptions, type SchedulerOptions } from './scheduler.js';

/** Checks a training noise schedule; throws `InvalidSchedulerOptionError` naming the field. */
export function validateNoiseSchedule(schedule: NoiseScheduleSpec): void {
  const s = schedule as Partial<NoiseScheduleSpec> | null;
  if (s === null || typeof s !== 'object') throw new InvalidSchedulerOptionError('schedule', 'must be an object');
  if (s.type !== 'linear' && s.type !== 'scaled-linear') {
    throw new InvalidSchedulerOptionError('schedule.type', `must be 'linear' or 'scaled-linear', got ${String(s.type)}`);
  }
  const { betaStart, betaEnd, trainSteps } = s;
  if (typeof betaStart !== 'number' || !(betaStart > 0 && betaStart < 1)) {
    throw new InvalidSchedulerOptionError('schedule.betaStart', `must be in (0, 1), got ${String(betaStart)}`);
  }
  if (typeof betaEnd !== 'number' || !(betaEnd >= betaStart && betaEnd < 1)) {
    throw new InvalidSchedulerOptionError('schedule.betaEnd', `must be in [betaStart, 1), got ${String(betaEnd)}`);
  }
  if (typeof trainSteps !== 'number' || !Number.isInteger(trainSteps) || trainSteps < 2) {
    throw new InvalidSchedulerOptionError('schedule.trainSteps', `must be an integer ≥ 2, got ${String(trainSteps)}`);
  }
}

/**
 * Validates `options` against `schedule` and fills in defaults. Every rejection is an
 * `InvalidSchedulerOptionError` whose `field` and message name the option.
 */
export function resolveSchedulerOptions(schedule: NoiseScheduleSpec, options: SchedulerOptions): ResolvedSchedulerOptions {
  validateNoiseSchedule(schedule);
  const o = options as Partial<SchedulerOptions> | null;
  if (o === null || typeof o !== 'object') throw new InvalidSchedulerOptionError('options', 'must be an object');
  const kind = o.kind;
  if (kind === undefined || !SCHEDULER_KINDS.includes(kind)) {
    throw new InvalidSchedulerOptionError('kind', `must be one of ${SCHEDULER_KINDS.join(', ')}, got ${String(kind)}`);
  }
  const steps = o.steps;
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1 || steps > schedule.trainSteps) {
    throw new InvalidSchedulerOptionError('steps', `must be an integer in [1, ${schedule.trainSteps}] (trainSteps), got ${String(steps)}`);
  }
  const eta = o.eta ?? 0;
  if (typeof eta !== 'number' || !(eta >= 0 && eta <= 1)) {
    throw new InvalidSchedulerOptionError('eta', `must be a number in [0, 1], got ${String(eta)}`);
  }
  if (eta !== 0 && kind !== 'ddim') throw new InvalidSchedulerOptionError('eta', `applies only to ddim, not ${kind}`);
  const clippable = kind === 'ddim' || kind === 'ddpm';
  const clipSample = o.clipSample ?? clippable;
  if (typeof clipSample !== 'boolean') throw new InvalidSchedulerOptionError('clipSample', `must be a boolean, got ${String(clipSample)}`);
  if (clipSample && !clippable) throw new InvalidSchedulerOptionError('clipSample', `applies only to ddim and ddpm, not ${kind}`);
  const useClippedModelOutput = o.useClippedModelOutput ?? false;
  if (typeof useClippedModelOutput !== 'boolean') {
    throw new InvalidSchedulerOptionError('useClippedModelOutput', `must be a boolean, got ${String(useClippedModelOutput)}`);
  }
  if (useClippedModelOutput && kind !== 'ddim') {
    throw new InvalidSchedulerOptionError('useClippedModelOutput', `applies only to ddim, not ${kind}`);
  }
  return { kind, steps, eta, clipSample, useClippedModelOutput };
}
