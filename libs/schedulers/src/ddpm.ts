import { BaseScheduler } from './base-scheduler.js';
import type { PredictionType, SchedulerSetup } from './scheduler.js';
import { discreteTimesteps } from './spacing.js';

/**
 * DDPM ancestral sampling (Ho et al. 2020) as diffusers' DDPMScheduler: "fixed_small" variance
 * (clamped at 1e-20), integer timesteps by `timestepSpacing` (+ `stepsOffset` when leading), the
 * step after t is the next timestep of the list (ᾱ = 1 past the end), x0 clipped to
 * ±`clipSampleRange`, ε, v or x0 prediction. No noise is added at the step whose timestep is 0.
 */
export class DdpmScheduler extends BaseScheduler {
  readonly kind = 'ddpm' as const;
  readonly initNoiseSigma = 1;
  readonly stochastic = true;
  readonly #ac: Float64Array;
  readonly #clip: boolean;
  readonly #range: number;
  readonly #prediction: PredictionType;

  constructor(alphasCumprod: Float64Array, options: SchedulerSetup) {
    super(discreteTimesteps(options.timestepSpacing, alphasCumprod.length, options.steps, options.stepsOffset));
    this.#ac = alphasCumprod;
    this.#clip = options.clipSample;
    this.#range = options.clipSampleRange;
    this.#prediction = options.prediction;
  }

  protected x0Basis(stepIndex: number): { prediction: PredictionType; alphaBar: number } {
    return { prediction: this.#prediction, alphaBar: this.#ac[this.timesteps[stepIndex] as number] as number };
  }

  protected update(stepIndex: number, x: Float32Array, output: Float32Array, noise: Float32Array | undefined): Float32Array {
    const t = this.timesteps[stepIndex] as number;
    const prevT = stepIndex + 1 < this.steps ? (this.timesteps[stepIndex + 1] as number) : -1;
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
    const range = this.#range;
    const prediction = this.#prediction;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      const m = output[i] as number;
      let x0 = prediction === 'epsilon' ? (xi - sqrtBT * m) / sqrtAT : prediction === 'v-prediction' ? sqrtAT * xi - sqrtBT * m : m;
      if (this.#clip) x0 = Math.min(range, Math.max(-range, x0));
      let prev = x0Coef * x0 + xCoef * xi;
      if (std > 0 && noise !== undefined) prev += std * (noise[i] as number);
      out[i] = prev;
    }
    return out;
  }
}
