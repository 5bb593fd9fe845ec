import { BaseScheduler } from './base-scheduler.js';
import type { PredictionType, SchedulerSetup } from './scheduler.js';
import { alphaBarOfSigma } from './predicted-original.js';
import { eulerSigmaSchedule, sigmaSpaceX0 } from './sigma-schedule.js';

/**
 * Euler ancestral sampling in σ-space, as diffusers' EulerAncestralDiscreteScheduler: timesteps
 * by `timestepSpacing` (default linspace), interpolated σ, final σ 0, ε or v prediction: a
 * deterministic Euler step down to σ_down, then fresh noise of scale σ_up, where
 * σ_up = √(σ_next²(σ²-σ_next²)/σ²) and σ_down = √(σ_next² - σ_up²).
 */
export class EulerAncestralScheduler extends BaseScheduler {
  readonly kind = 'euler-ancestral' as const;
  readonly stochastic = true;
  readonly initNoiseSigma: number;
  readonly #sigmas: Float64Array;
  readonly #prediction: PredictionType;

  constructor(alphasCumprod: Float64Array, options: SchedulerSetup) {
    const plan = eulerSigmaSchedule(alphasCumprod, options, true);
    super(plan.timesteps);
    this.#sigmas = plan.sigmas;
    this.initNoiseSigma = plan.initNoiseSigma;
    this.#prediction = options.prediction;
  }

  protected override inputScale(stepIndex: number): number {
    const s = this.#sigmas[stepIndex] as number;
    return 1 / Math.sqrt(s * s + 1);
  }

  protected x0Basis(stepIndex: number): { prediction: PredictionType; alphaBar: number } {
    return { prediction: this.#prediction, alphaBar: alphaBarOfSigma(this.#sigmas[stepIndex] as number) };
  }

  protected update(stepIndex: number, x: Float32Array, output: Float32Array, noise: Float32Array | undefined): Float32Array {
    const sigma = this.#sigmas[stepIndex] as number;
    const next = this.#sigmas[stepIndex + 1] as number;
    const up = Math.sqrt((next * next * (sigma * sigma - next * next)) / (sigma * sigma));
    const down = Math.sqrt(next * next - up * up);
    const dt = down - sigma;
    const toX0 = sigmaSpaceX0(this.#prediction, sigma);
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      const x0 = toX0(xi, output[i] as number);
      const derivative = (xi - x0) / sigma;
      out[i] = xi + derivative * dt + (noise === undefined ? 0 : (noise[i] as number) * up);
    }
    return out;
  }
}
