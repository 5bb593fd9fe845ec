import { interpolate, trainSigmas } from './noise-schedule.js';

/**
 * σ at each sampling timestep, interpolated linearly between training timesteps (diffusers'
 * interpolation_type = "linear", no Karras sigmas), followed by a final σ = 0.
 */
export function samplingSigmas(alphasCumprod: Float64Array, timesteps: Float64Array): Float64Array {
  const train = trainSigmas(alphasCumprod);
  const out = new Float64Array(timesteps.length + 1);
  timesteps.forEach((t, i) => {
    out[i] = interpolate(t, train);
  });
  return out;
}

/** α_t = 1/√(σ²+1) and σ_t = σ·α_t: the variance-preserving pair behind a VE noise level σ. */
export function alphaSigma(sigma: number): { alpha: number; sigma: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return { alpha, sigma: sigma * alpha };
}
