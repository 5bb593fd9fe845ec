import { linspace } from './noise-schedule.js';

/**
 * diffusers' "leading" spacing with steps_offset = 0 (the DDIM/DDPM default for a DDPM-trained
 * model): t_i = (steps-1-i) · ⌊trainSteps/steps⌋, e.g. 1000 train steps, 50 steps → 980, 960, …, 0.
 * The step after t is t - ⌊trainSteps/steps⌋ (negative after the last step).
 */
export function leadingTimesteps(trainSteps: number, steps: number): Float64Array {
  const ratio = Math.floor(trainSteps / steps);
  const out = new Float64Array(steps);
  for (let i = 0; i < steps; i++) out[i] = (steps - 1 - i) * ratio;
  return out;
}

/**
 * diffusers' "linspace" spacing as Euler and Euler ancestral use it: linspace(0, trainSteps-1,
 * steps) reversed, fractional values kept (σ is interpolated between training timesteps).
 */
export function linspaceTimesteps(trainSteps: number, steps: number): Float64Array {
  return linspace(0, trainSteps - 1, steps).reverse();
}

/**
 * diffusers' "linspace" spacing as DPM-Solver multistep uses it: linspace(0, trainSteps-1,
 * steps+1) rounded half-to-even (numpy.round), reversed, last entry (0) dropped.
 */
export function dpmSolverTimesteps(trainSteps: number, steps: number): Float64Array {
  const grid = linspace(0, trainSteps - 1, steps + 1).map(roundHalfEven).reverse();
  return grid.slice(0, steps);
}

/** numpy.round: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
