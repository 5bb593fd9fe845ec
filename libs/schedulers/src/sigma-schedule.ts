import { trainSigmas } from './noise-schedule.js';
import type { PredictionType, SchedulerSetup } from './scheduler.js';
import { karrasSigmas, minTrainSigma, samplingSigmas, sigmaToTimestep } from './sigmas.js';
import { eulerTimesteps } from './spacing.js';

/** The σ-space plan of an Euler-type scheduler: timesteps, σ per step (+ final σ), initial σ. */
export interface SigmaSchedule {
  readonly timesteps: Float64Array;
  /** σ at each step index, then the σ after the last step. */
  readonly sigmas: Float64Array;
  readonly initNoiseSigma: number;
}

/**
 * EulerDiscreteScheduler's / EulerAncestralDiscreteScheduler's `set_timesteps`: timesteps by
 * spacing, σ interpolated at them; with Karras sigmas (Euler only) σ is re-spaced between the
 * same end points and the timesteps read back from σ; the final σ is 0 or the smallest training
 * σ (Euler only). init σ = max σ, or √(max σ² + 1) with leading spacing, as diffusers has it.
 */
export function eulerSigmaSchedule(alphasCumprod: Float64Array, s: SchedulerSetup, ancestral: boolean): SigmaSchedule {
  const n = s.steps;
  let timesteps = eulerTimesteps(s.timestepSpacing, alphasCumprod.length, n, s.stepsOffset);
  const final = !ancestral && s.finalSigmasType === 'sigma-min' ? minTrainSigma(alphasCumprod) : 0;
  let sigmas = samplingSigmas(alphasCumprod, timesteps, final);
  if (!ancestral && s.useKarrasSigmas) {
    const karras = karrasSigmas(sigmas[n - 1] as number, sigmas[0] as number, n);
    const logSigmas = trainSigmas(alphasCumprod).map(Math.log);
    timesteps = karras.map((sigma) => sigmaToTimestep(sigma, logSigmas));
    sigmas = Float64Array.of(...karras, final);
  }
  const max = Math.max(...sigmas);
  const initNoiseSigma = s.timestepSpacing === 'leading' ? Math.sqrt(max * max + 1) : max;
  return { timesteps, sigmas, initNoiseSigma };
}

/**
 * x0 from the model output in σ-space (Euler's `pred_original_sample`): ε → x - σ·ε;
 * v → v·(-σ/√(σ²+1)) + x/(σ²+1); sample → the output itself.
 */
export function sigmaSpaceX0(prediction: PredictionType, sigma: number): (x: number, m: number) => number {
  switch (prediction) {
    case 'epsilon':
      return (x, m) => x - sigma * m;
    case 'v-prediction': {
      const c = -sigma / Math.sqrt(sigma * sigma + 1);
      const d = sigma * sigma + 1;
      return (x, m) => m * c + x / d;
    }
    case 'sample':
      return (_x, m) => m;
  }
}
