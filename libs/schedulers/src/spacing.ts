import { linspace } from './noise-schedule.js';
import type { TimestepSpacing } from './scheduler.js';

/**
 * The integer timesteps of diffusers' DDIMScheduler / DDPMScheduler / PNDMScheduler
 * `set_timesteps`, descending: `leading` = (steps-1-i)·⌊trainSteps/steps⌋ + offset (e.g. 1000
 * train steps, 50 steps, offset 1 → 981, 961, …, 1); `trailing` = round(arange(trainSteps, 0,
 * -trainSteps/steps)) - 1 (999, 979, …, 19); `linspace` = round(linspace(0, trainSteps-1, steps)).
 */
export function discreteTimesteps(spacing: TimestepSpacing, trainSteps: number, steps: number, offset: number): Float64Array {
  switch (spacing) {
    case 'leading':
      return leadingTimesteps(trainSteps, steps).map((t) => t + offset);
    case 'trailing':
      return trailingTimesteps(trainSteps, steps);
    case 'linspace':
      return linspace(0, trainSteps - 1, steps).map(roundHalfEven).reverse();
  }
}

/**
 * Euler's timesteps (EulerDiscreteScheduler / EulerAncestralDiscreteScheduler): as
 * {@link discreteTimesteps} for `leading` and `trailing`, but `linspace` keeps the fractional
 * values (σ is interpolated between training timesteps).
 */
export function eulerTimesteps(spacing: TimestepSpacing, trainSteps: number, steps: number, offset: number): Float64Array {
  return spacing === 'linspace' ? linspaceTimesteps(trainSteps, steps) : discreteTimesteps(spacing, trainSteps, steps, offset);
}

/**
 * DPMSolverMultistepScheduler's timesteps (with lambda_min_clipped = -inf): `linspace` =
 * round(linspace(0, trainSteps-1, steps+1)) reversed, last (0) dropped; `leading` = multiples of
 * ⌊trainSteps/(steps+1)⌋ from steps·ratio down to ratio, plus offset; `trailing` as DDIM.
 */
export function dpmSolverTimesteps(spacing: TimestepSpacing, trainSteps: number, steps: number, offset: number): Float64Array {
  switch (spacing) {
    case 'linspace':
      return linspace(0, trainSteps - 1, steps + 1).map(roundHalfEven).reverse().slice(0, steps);
    case 'leading': {
      const ratio = Math.floor(trainSteps / (steps + 1));
      const out = new Float64Array(steps);
      for (let i = 0; i < steps; i++) out[i] = (steps - i) * ratio + offset;
      return out;
    }
    case 'trailing':
      return trailingTimesteps(trainSteps, steps);
  }
}

/**
 * diffusers' "leading" spacing with steps_offset = 0: t_i = (steps-1-i) · ⌊trainSteps/steps⌋,
 * e.g. 1000 train steps, 50 steps → 980, 960, …, 0.
 */
export function leadingTimesteps(trainSteps: number, steps: number): Float64Array {
  const ratio = Math.floor(trainSteps / steps);
  const out = new Float64Array(steps);
  for (let i = 0; i < steps; i++) out[i] = (steps - 1 - i) * ratio;
  return out;
}

/**
 * diffusers' "trailing" spacing: round(numpy.arange(trainSteps, 0, -trainSteps/steps)) - 1. For a
 * few step counts numpy's arange yields steps+1 values (e.g. 61 of 1000: the last one rounds to
 * -1); `trailingStepsValid` tells them apart, and the options refuse them.
 */
export function trailingTimesteps(trainSteps: number, steps: number): Float64Array {
  return numpyArange(trainSteps, 0, -trainSteps / steps).map((t) => roundHalfEven(t) - 1);
}

/** Whether "trailing" spacing gives exactly `steps` timesteps (see {@link trailingTimesteps}). */
export function trailingStepsValid(trainSteps: number, steps: number): boolean {
  return arangeLength(trainSteps, 0, -trainSteps / steps) === steps;
}

/**
 * diffusers' "linspace" spacing as Euler and Euler ancestral use it: linspace(0, trainSteps-1,
 * steps) reversed, fractional values kept in float64 (diffusers rounds them to float32: the
 * model input is then identical, and σ moves by < 1e-7 relative).
 */
export function linspaceTimesteps(trainSteps: number, steps: number): Float64Array {
  return linspace(0, trainSteps - 1, steps).reverse();
}

/**
 * numpy.arange(start, stop, step) for a float step, bit for bit: ⌈(stop-start)/step⌉ values
 * start, start+step, then start + i·δ with δ = (start+step) - start, as numpy's fill computes it.
 */
export function numpyArange(start: number, stop: number, step: number): Float64Array {
  const n = arangeLength(start, stop, step);
  const out = new Float64Array(n);
  if (n === 0) return out;
  out[0] = start;
  if (n === 1) return out;
  const next = start + step;
  out[1] = next;
  const delta = next - start;
  for (let i = 2; i < n; i++) out[i] = start + i * delta;
  return out;
}

function arangeLength(start: number, stop: number, step: number): number {
  return Math.max(0, Math.ceil((stop - start) / step));
}

/** numpy.round: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
