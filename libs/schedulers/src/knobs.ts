import type { SchedulerKind, SchedulerOptions } from './scheduler.js';

/** The knobs of {@link SchedulerOptions} that come from diffusers' scheduler config. */
export type ConfigKnob =
  | 'prediction'
  | 'timestepSpacing'
  | 'stepsOffset'
  | 'setAlphaToOne'
  | 'clipSample'
  | 'clipSampleRange'
  | 'skipPrkSteps'
  | 'useKarrasSigmas'
  | 'finalSigmasType'
  | 'solverType'
  | 'lowerOrderFinal'
  | 'eulerAtFinal';

/** Scheduler settings of a model package, in option names; absent = the kind's default. */
export type SchedulerSettings = Partial<Pick<SchedulerOptions, ConfigKnob>>;

const ALL: readonly SchedulerKind[] = ['ddim', 'ddpm', 'euler', 'euler-ancestral', 'dpmpp-2m', 'pndm'];

/**
 * Which kinds take each knob: the parameters of the matching diffusers class's __init__ (so a
 * package's setting reaches exactly the classes diffusers' `from_config` would hand it to).
 */
export const KNOB_KINDS: { readonly [K in ConfigKnob]: readonly SchedulerKind[] } = {
  prediction: ALL,
  timestepSpacing: ALL,
  stepsOffset: ALL,
  setAlphaToOne: ['ddim', 'pndm'],
  clipSample: ['ddim', 'ddpm'],
  clipSampleRange: ['ddim', 'ddpm'],
  skipPrkSteps: ['pndm'],
  useKarrasSigmas: ['euler', 'dpmpp-2m'],
  finalSigmasType: ['euler', 'dpmpp-2m'],
  solverType: ['dpmpp-2m'],
  lowerOrderFinal: ['dpmpp-2m'],
  eulerAtFinal: ['dpmpp-2m'],
};

/** Every config knob, in a fixed order. */
export const CONFIG_KNOBS = Object.keys(KNOB_KINDS) as readonly ConfigKnob[];

/** Whether `kind`'s diffusers class takes `knob`. */
export function takesKnob(kind: SchedulerKind, knob: ConfigKnob): boolean {
  return KNOB_KINDS[knob].includes(kind);
}
