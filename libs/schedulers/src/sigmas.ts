import { interpolate, linspace, trainSigmas } from './noise-schedule.js';

/**
 * σ at each sampling timestep, interpolated linearly between training timesteps (diffusers'
 * interpolation_type = "linear", no Karras sigmas), followed by `final` (diffusers'
 * final_sigmas_type: 0 for "zero", the smallest training σ for "sigma_min").
 */
export function samplingSigmas(alphasCumprod: Float64Array, timesteps: Float64Array, final = 0): Float64Array {
  const train = trainSigmas(alphasCumprod);
  const out = new Float64Array(timesteps.length + 1);
  timesteps.forEach((t, i) => {
    out[i] = interpolate(t, train);
  });
  out[timesteps.length] = final;
  return out;
}

/** The smallest training σ, √((1-ᾱ_0)/ᾱ_0): diffusers' final σ for final_sigmas_type "sigma_min". */
export function minTrainSigma(alphasCumprod: Float64Array): number {
  const a0 = alphasCumprod[0] as number;
  return Math.sqrt((1 - a0) / a0);
}

/**
 * Karras et al. (2022) noise levels: `n` values from `sigmaMax` down to `sigmaMin`, evenly spaced
 * in σ^(1/ρ) with ρ = 7 (diffusers' `_convert_to_karras`).
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): Float64Array {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return linspace(0, 1, n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/**
 * The fractional training timestep whose σ is `sigma` (diffusers' `_sigma_to_t`): linear
 * interpolation in log σ between the two training timesteps around it, clamped to [0, T-1].
 * `logSigmas` is log σ_t of the training timesteps (increasing in t).
 */
export function sigmaToTimestep(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let low = 0;
  for (let j = 0; j < logSigmas.length; j++) if (logSigma - (logSigmas[j] as number) >= 0) low = j;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low] as number;
  const hi = logSigmas[low + 1] as number;
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * (low + 1);
}

/** α_t = 1/√(σ²+1) and σ_t = σ·α_t: the variance-preserving pair behind a VE noise level σ. */
export function alphaSigma(sigma: number): { alpha: number; sigma: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return { alpha, sigma: sigma * alpha };
}
