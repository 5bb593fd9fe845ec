import { InvalidSchedulerOptionError } from './errors.js';
import { CONFIG_KNOBS, KNOB_KINDS, takesKnob } from './knobs.js';
import {
  PREDICTION_TYPES,
  SCHEDULER_KINDS,
  TIMESTEP_SPACINGS,
  type NoiseScheduleSpec,
  type ResolvedSchedulerOptions,
  type SchedulerKind,
  type SchedulerOptions,
  type SchedulerSetup,
} from './scheduler.js';
import { trailingStepsValid } from './spacing.js';

const SCHEDULE_TYPES: readonly NoiseScheduleSpec['type'][] = ['linear', 'scaled-linear', 'squaredcos-cap-v2'];

/** Checks a training noise schedule; throws `InvalidSchedulerOptionError` naming the field. */
export function validateNoiseSchedule(schedule: NoiseScheduleSpec): void {
  const s = schedule as Partial<NoiseScheduleSpec> | null;
  if (s === null || typeof s !== 'object') throw new InvalidSchedulerOptionError('schedule', 'must be an object');
  if (s.type === undefined || !SCHEDULE_TYPES.includes(s.type)) {
    throw new InvalidSchedulerOptionError('schedule.type', `must be one of ${SCHEDULE_TYPES.map((t) => `'${t}'`).join(', ')}, got ${String(s.type)}`);
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
 * `InvalidSchedulerOptionError` whose `field` and message name the option. Returns the classic
 * knobs; {@link resolveSchedulerSetup} returns all of them.
 */
export function resolveSchedulerOptions(schedule: NoiseScheduleSpec, options: SchedulerOptions): ResolvedSchedulerOptions {
  const { kind, steps, eta, clipSample, useClippedModelOutput } = resolveSchedulerSetup(schedule, options);
  return { kind, steps, eta, clipSample, useClippedModelOutput };
}

/**
 * Validates `options` against `schedule` and fills in every default, diffusers' config knobs
 * included (what `createScheduler` builds from). Rejections as {@link resolveSchedulerOptions}.
 */
export function resolveSchedulerSetup(schedule: NoiseScheduleSpec, options: SchedulerOptions): SchedulerSetup {
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
  for (const knob of CONFIG_KNOBS) {
    if (knob !== 'clipSample' && o[knob] !== undefined && !takesKnob(kind, knob)) {
      throw new InvalidSchedulerOptionError(knob, `applies only to ${KNOB_KINDS[knob].join(', ')}, not ${kind}`);
    }
  }
  const setup: SchedulerSetup = {
    kind,
    steps,
    eta,
    clipSample,
    useClippedModelOutput,
    prediction: oneOf(o.prediction ?? 'epsilon', PREDICTION_TYPES, 'prediction'),
    timestepSpacing: oneOf(o.timestepSpacing ?? defaultSpacing(kind), TIMESTEP_SPACINGS, 'timestepSpacing'),
    stepsOffset: integerIn(o.stepsOffset ?? 0, 0, schedule.trainSteps - 1, 'stepsOffset'),
    setAlphaToOne: bool(o.setAlphaToOne ?? kind === 'ddim', 'setAlphaToOne'),
    clipSampleRange: positive(o.clipSampleRange ?? 1, 'clipSampleRange'),
    skipPrkSteps: bool(o.skipPrkSteps ?? false, 'skipPrkSteps'),
    useKarrasSigmas: bool(o.useKarrasSigmas ?? false, 'useKarrasSigmas'),
    finalSigmasType: oneOf(o.finalSigmasType ?? 'zero', ['zero', 'sigma-min'] as const, 'finalSigmasType'),
    solverType: oneOf(o.solverType ?? 'midpoint', ['midpoint', 'heun'] as const, 'solverType'),
    lowerOrderFinal: bool(o.lowerOrderFinal ?? true, 'lowerOrderFinal'),
    eulerAtFinal: bool(o.eulerAtFinal ?? false, 'eulerAtFinal'),
  };
  checkCombination(setup, schedule.trainSteps);
  return setup;
}

/** The timestep spacing of `kind`'s diffusers class when the config does not say. */
function defaultSpacing(kind: SchedulerKind): SchedulerSetup['timestepSpacing'] {
  return kind === 'ddim' || kind === 'ddpm' || kind === 'pndm' ? 'leading' : 'linspace';
}

/** Refuses settings diffusers cannot run either (it would index past ᾱ or misplace a timestep). */
function checkCombination(s: SchedulerSetup, trainSteps: number): void {
  if (s.prediction === 'sample' && (s.kind === 'pndm' || s.kind === 'euler-ancestral')) {
    throw new InvalidSchedulerOptionError('prediction', `'sample' is not available for ${s.kind} (epsilon or v-prediction only)`);
  }
  const karrasTimesteps = s.kind === 'dpmpp-2m' && s.useKarrasSigmas;
  if (s.timestepSpacing === 'trailing' && !karrasTimesteps && !trailingStepsValid(trainSteps, s.steps)) {
    throw new InvalidSchedulerOptionError(
      'steps',
      `${s.steps} steps with trailing spacing give a timestep of -1 (numpy arange rounding, as in diffusers); choose another step count`,
    );
  }
  if (s.kind === 'pndm' && !s.skipPrkSteps && s.steps < 4) {
    throw new InvalidSchedulerOptionError('steps', `must be ≥ 4 for pndm with the PRK warm-up (skipPrkSteps false), got ${s.steps}`);
  }
  if (s.timestepSpacing === 'leading' && s.kind !== 'euler' && s.kind !== 'euler-ancestral' && !karrasTimesteps) {
    const first = s.kind === 'dpmpp-2m' ? s.steps * Math.floor(trainSteps / (s.steps + 1)) : (s.steps - 1) * Math.floor(trainSteps / s.steps);
    if (first + s.stepsOffset > trainSteps - 1) {
      throw new InvalidSchedulerOptionError(
        'stepsOffset',
        `${s.stepsOffset} puts the first of ${s.steps} leading timesteps at ${first + s.stepsOffset}, past the last training timestep ${trainSteps - 1}`,
      );
    }
  }
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidSchedulerOptionError(field, `must be one of ${allowed.join(', ')}, got ${String(value)}`);
  }
  return value as T;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidSchedulerOptionError(field, `must be a boolean, got ${String(value)}`);
  return value;
}

function integerIn(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidSchedulerOptionError(field, `must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

function positive(value: unknown, field: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new InvalidSchedulerOptionError(field, `must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}
