import { BaseScheduler } from './base-scheduler.js';
import type { ResolvedSchedulerOptions } from './scheduler.js';
import { samplingSigmas } from './sigmas.js';
import { linspaceTimesteps } from './spacing.js';

/**
 * Euler's method on the probability-flow ODE in σ-space (Karras et al. 2022), as diffusers'
 * EulerDiscreteScheduler with its defaults: "linspace" spacing (fractional timesteps),
 * linearly interpolated σ, s_churn = 0 (deterministic), init_noise_sigma = max σ, epsilon
 * prediction. Samples live in σ-space: the model input is sample / √(σ²+1).
 */
export class EulerScheduler extends BaseScheduler {
  readonly kind = 'euler' as const;
  readonly stochastic = false;
  readonly initNoiseSigma: number;
  readonly #sigmas: Float64Array;

  constructor(alphasCumprod: Float64Array, options: ResolvedSchedulerOptions) {
    super(linspaceTimesteps(alphasCumprod.length, options.steps));
    this.#sigmas = samplingSigmas(alphasCumprod, this.timesteps);
    this.initNoiseSigma = Math.max(...this.#sigmas);
  }

  protected override inputScale(stepIndex: number): number {
    const s = this.#sigmas[stepIndex] as number;
    return 1 / Math.sqrt(s * s + 1);
  }

  protected update(stepIndex: number, x: Float32Array, eps: Float32Array): Float32Array {
    const sigma = this.#sigmas[stepIndex] as number;
    const dt = (this.#sigmas[stepIndex + 1] as number) - sigma;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      const x0 = xi - sigma * (eps[i] as number);
      const derivative = (xi - x0) / sigma;
      out[i] = xi + derivative * dt;
    }
    return out;
  }
}
