import { BaseScheduler } from './base-scheduler.js';
import type { PredictionType, SchedulerSetup } from './scheduler.js';
import { alphaBarOfSigma } from './predicted-original.js';
import { eulerSigmaSchedule, sigmaSpaceX0 } from './sigma-schedule.js';

/**
 * Euler's method on the probability-flow ODE in σ-space (Karras et al. 2022), as diffusers'
 * EulerDiscreteScheduler: timesteps by `timestepSpacing` (default linspace, fractional),
 * linearly interpolated σ or Karras σ, s_churn = 0 (deterministic), final σ 0 or σ_min, ε, v or
 * x0 prediction. Samples live in σ-space: the model input is sample / √(σ²+1) and the initial
 * noise is scaled by `initNoiseSigma`.
 */
export class EulerScheduler extends BaseScheduler {
  readonly kind = 'euler' as const;
  readonly stochastic = false;
  readonly initNoiseSigma: number;
  readonly #sigmas: Float64Array;
  readonly #prediction: PredictionType;

  constructor(alphasCumprod: Float64Array, options: SchedulerSetup) {
    const plan = eulerSigmaSchedule(alphasCumprod, options, false);
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

  protected update(stepIndex: number, x: Float32Array, output: Float32Array): Float32Array {
    const sigma = this.#sigmas[stepIndex] as number;
    const dt = (this.#sigmas[stepIndex + 1] as number) - sigma;
    const toX0 = sigmaSpaceX0(this.#prediction, sigma);
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      const x0 = toX0(xi, output[i] as number);
      const derivative = (xi - x0) / sigma;
      out[i] = xi + derivative * dt;
    }
    return out;
  }
}
