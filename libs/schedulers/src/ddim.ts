import { BaseScheduler } from './base-scheduler.js';
import type { ResolvedSchedulerOptions } from './scheduler.js';
import { leadingTimesteps } from './spacing.js';

/**
 * DDIM (Song et al. 2021) as diffusers' DDIMScheduler with set_alpha_to_one = true,
 * clip_sample_range = 1, "leading" spacing, steps_offset = 0, epsilon prediction.
 */
export class DdimScheduler extends BaseScheduler {
  readonly kind = 'ddim' as const;
  readonly initNoiseSigma = 1;
  readonly stochastic: boolean;
  readonly #ac: Float64Array;
  readonly #ratio: number;
  readonly #eta: number;
  readonly #clip: boolean;
  readonly #useClipped: boolean;

  constructor(alphasCumprod: Float64Array, options: ResolvedSchedulerOptions) {
    super(leadingTimesteps(alphasCumprod.length, options.steps));
    this.#ac = alphasCumprod;
    this.#ratio = Math.floor(alphasCumprod.length / options.steps);
    this.#eta = options.eta;
    this.#clip = options.clipSample;
    this.#useClipped = options.useClippedModelOutput;
    this.stochastic = options.eta > 0;
  }

  protected update(stepIndex: number, x: Float32Array, eps: Float32Array, noise: Float32Array | undefined): Float32Array {
    const t = this.timesteps[stepIndex] as number;
    const prevT = t - this.#ratio;
    const aT = this.#ac[t] as number;
    const aPrev = prevT >= 0 ? (this.#ac[prevT] as number) : 1;
    const bT = 1 - aT;
    const sqrtAT = Math.sqrt(aT);
    const sqrtBT = Math.sqrt(bT);
    const variance = ((1 - aPrev) / bT) * (1 - aT / aPrev);
    const std = this.#eta * Math.sqrt(variance);
    const sqrtAPrev = Math.sqrt(aPrev);
    const dirCoef = Math.sqrt(1 - aPrev - std * std);
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      let e = eps[i] as number;
      let x0 = (xi - sqrtBT * e) / sqrtAT;
      if (this.#clip) x0 = Math.min(1, Math.max(-1, x0));
      if (this.#useClipped) e = (xi - sqrtAT * x0) / sqrtBT;
      let prev = sqrtAPrev * x0 + dirCoef * e;
      if (noise !== undefined && this.#eta > 0) prev += std * (noise[i] as number);
      out[i] = prev;
    }
    return out;
  }
}
