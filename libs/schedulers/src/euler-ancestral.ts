import { BaseScheduler } from './base-scheduler.js';
import type { ResolvedSchedulerOptions } from './scheduler.js';
import { samplingSigmas } from './sigmas.js';
import { linspaceTimesteps } from './spacing.js';

/**
 * Euler ancestral sampling in σ-space, as diffusers' EulerAncestralDiscreteScheduler with its
 * defaults ("linspace" spacing, interpolated σ, init_noise_sigma = max σ, epsilon prediction):
 * a deterministic Euler step down to σ_down, then fresh noise of scale σ_up, where
 * σ_up = √(σ_next²(σ²-σ_next²)/σ²) and σ_down = √(σ_next² - σ_up²).
 */
export class EulerAncestralScheduler extends BaseScheduler {
  readonly kind = 'euler-ancestral' as const;
  readonly stochastic = true;
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

  protected update(stepIndex: number, x: Float32Array, eps: Float32Array, noise: Float32Array | undefined): Float32Array {
    const sigma = this.#sigmas[stepIndex] as number;
    const next = this.#sigmas[stepIndex + 1] as number;
    const up = Math.sqrt((next * next * (sigma * sigma - next * next)) / (sigma * sigma));
    const down = Math.sqrt(next * next - up * up);
    const dt = down - sigma;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      const x0 = xi - sigma * (eps[i] as number);
      const derivative = (xi - x0) / sigma;
      out[i] = xi + derivative * dt + (noise === undefined ? 0 : (noise[i] as number) * up);
    }
    return out;
  }
}
