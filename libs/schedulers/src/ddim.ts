import { BaseScheduler } from './base-scheduler.js';
import type { PredictionType, SchedulerSetup } from './scheduler.js';
import { discreteTimesteps } from './spacing.js';

/**
 * DDIM (Song et al. 2021) as diffusers' DDIMScheduler: integer timesteps by `timestepSpacing`
 * (+ `stepsOffset` when leading), the step after t is t - ⌊trainSteps/steps⌋ whatever the spacing
 * (ᾱ = 1 or ᾱ_0 past the end, by `setAlphaToOne`), x0 clipped to ±`clipSampleRange`, ε, v or x0
 * prediction. Defaults: leading spacing, offset 0, set_alpha_to_one, range 1, epsilon.
 */
export class DdimScheduler extends BaseScheduler {
  readonly kind = 'ddim' as const;
  readonly initNoiseSigma = 1;
  readonly stochastic: boolean;
  readonly #ac: Float64Array;
  readonly #ratio: number;
  readonly #finalAlpha: number;
  readonly #eta: number;
  readonly #clip: boolean;
  readonly #range: number;
  readonly #useClipped: boolean;
  readonly #prediction: PredictionType;

  constructor(alphasCumprod: Float64Array, options: SchedulerSetup) {
    super(discreteTimesteps(options.timestepSpacing, alphasCumprod.length, options.steps, options.stepsOffset));
    this.#ac = alphasCumprod;
    this.#ratio = Math.floor(alphasCumprod.length / options.steps);
    this.#finalAlpha = options.setAlphaToOne ? 1 : (alphasCumprod[0] as number);
    this.#eta = options.eta;
    this.#clip = options.clipSample;
    this.#range = options.clipSampleRange;
    this.#useClipped = options.useClippedModelOutput;
    this.#prediction = options.prediction;
    this.stochastic = options.eta > 0;
  }

  protected x0Basis(stepIndex: number): { prediction: PredictionType; alphaBar: number } {
    return { prediction: this.#prediction, alphaBar: this.#ac[this.timesteps[stepIndex] as number] as number };
  }

  protected update(stepIndex: number, x: Float32Array, output: Float32Array, noise: Float32Array | undefined): Float32Array {
    const t = this.timesteps[stepIndex] as number;
    const prevT = t - this.#ratio;
    const aT = this.#ac[t] as number;
    const aPrev = prevT >= 0 ? (this.#ac[prevT] as number) : this.#finalAlpha;
    const bT = 1 - aT;
    const sqrtAT = Math.sqrt(aT);
    const sqrtBT = Math.sqrt(bT);
    const variance = ((1 - aPrev) / bT) * (1 - aT / aPrev);
    const std = this.#eta * Math.sqrt(variance);
    const sqrtAPrev = Math.sqrt(aPrev);
    const dirCoef = Math.sqrt(1 - aPrev - std * std);
    const range = this.#range;
    const prediction = this.#prediction;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      const m = output[i] as number;
      let x0: number;
      let e: number;
      if (prediction === 'epsilon') {
        x0 = (xi - sqrtBT * m) / sqrtAT;
        e = m;
      } else if (prediction === 'v-prediction') {
        x0 = sqrtAT * xi - sqrtBT * m;
        e = sqrtAT * m + sqrtBT * xi;
      } else {
        x0 = m;
        e = (xi - sqrtAT * x0) / sqrtBT;
      }
      if (this.#clip) x0 = Math.min(range, Math.max(-range, x0));
      if (this.#useClipped) e = (xi - sqrtAT * x0) / sqrtBT;
      let prev = sqrtAPrev * x0 + dirCoef * e;
      if (noise !== undefined && this.#eta > 0) prev += std * (noise[i] as number);
      out[i] = prev;
    }
    return out;
  }
}
