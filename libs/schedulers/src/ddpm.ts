import { BaseScheduler } from './base-scheduler.js';
import type { ResolvedSchedulerOptions } from './scheduler.js';
import { leadingTimesteps } from './spacing.js';

/**
 * DDPM ancestral sampling (Ho et al. 2020) as diffusers' DDPMScheduler: "fixed_small" variance
 * (clamped at 1e-20), clip_sample_range = 1, "leading" spacing, steps_offset = 0, epsilon
 * prediction. No noise is added at the step whose timestep is 0.
 */
export class DdpmScheduler extends BaseScheduler {
  readonly kind = 'ddpm' as const;
  readonly initNoiseSigma = 1;
  readonly stochastic = true;
  readonly #ac: Float64Array;
  readonly #ratio: number;
  readonly #clip: boolean;

  constructor(alphasCumprod: Float64Array, options: ResolvedSchedulerOptions) {
    super(leadingTimesteps(alphasCumprod.length, options.steps));
    this.#ac = alphasCumprod;
    this.#ratio = Math.floor(alphasCumprod.length / options.steps);
    this.#clip = options.clipSample;
  }

  protected update(stepIndex: number, x: Float32Array, eps: Float32Array, noise: Float32Array | undefined): Float32Array {
    const t = this.timesteps[stepIndex] as number;
    const prevT = t - this.#ratio;
    const aT = this.#ac[t] as number;
    const aPrev = prevT >= 0 ? (this.#ac[prevT] as number) : 1;
    const bT = 1 - aT;
    const bPrev = 1 - aPrev;
    const curAlpha = aT / aPrev;
    const curBeta = 1 - curAlpha;
    const sqrtAT = Math.sqrt(aT);
    const sqrtBT = Math.sqrt(bT);
    const x0Coef = (Math.sqrt(aPrev) * curBeta) / bT;
    const xCoef = (Math.sqrt(curAlpha) * bPrev) / bT;
    const std = t > 0 ? Math.sqrt(Math.max((bPrev / bT) * curBeta, 1e-20)) : 0;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      let x0 = (xi - sqrtBT * (eps[i] as number)) / sqrtAT;
      if (this.#clip) x0 = Math.min(1, Math.max(-1, x0));
      let prev = x0Coef * x0 + xCoef * xi;
      if (std > 0 && noise !== undefined) prev += std * (noise[i] as number);
      out[i] = prev;
    }
    return out;
  }
}
