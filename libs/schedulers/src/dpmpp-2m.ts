import { BaseScheduler } from './base-scheduler.js';
import { SchedulerError } from './errors.js';
import type { ResolvedSchedulerOptions } from './scheduler.js';
import { alphaSigma, samplingSigmas } from './sigmas.js';
import { dpmSolverTimesteps } from './spacing.js';

/**
 * DPM-Solver++(2M) (Lu et al. 2022), as diffusers' DPMSolverMultistepScheduler with its
 * defaults: solver_order = 2, algorithm_type = "dpmsolver++", solver_type = "midpoint",
 * lower_order_final = true, final_sigmas_type = "zero", "linspace" spacing (integer
 * timesteps), epsilon prediction. The first and the last step are first order (the last lands on
 * σ = 0, i.e. returns the x0 prediction). Works on variance-preserving samples: scaleModelInput
 * is the identity and initNoiseSigma is 1. Remembers the previous step's x0 prediction (float32,
 * as diffusers keeps it), so steps must run in order; step 0 starts afresh.
 */
export class DpmSolverPP2MScheduler extends BaseScheduler {
  readonly kind = 'dpmpp-2m' as const;
  readonly stochastic = false;
  readonly initNoiseSigma = 1;
  readonly #sigmas: Float64Array;
  #previous: Float32Array | undefined;

  constructor(alphasCumprod: Float64Array, options: ResolvedSchedulerOptions) {
    super(dpmSolverTimesteps(alphasCumprod.length, options.steps));
    this.#sigmas = samplingSigmas(alphasCumprod, this.timesteps);
  }

  protected update(stepIndex: number, x: Float32Array, eps: Float32Array): Float32Array {
    if (stepIndex === 0) this.#previous = undefined;
    else if (stepIndex !== this.nextStepIndex) {
      throw new SchedulerError(
        'STEP_OUT_OF_ORDER',
        'stepIndex',
        `dpmpp-2m must run steps in order (or restart at 0): expected stepIndex ${this.nextStepIndex}, got ${stepIndex}`,
      );
    }
    const prev = this.#previous;
    if (prev !== undefined && prev.length !== x.length) {
      throw new SchedulerError('INVALID_INPUT', 'sample', `sample has ${x.length} elements, the previous step had ${prev.length}`);
    }
    const s0 = alphaSigma(this.#sigmas[stepIndex] as number);
    const t = alphaSigma(this.#sigmas[stepIndex + 1] as number);
    const x0 = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) x0[i] = ((x[i] as number) - s0.sigma * (eps[i] as number)) / s0.alpha;

    const lambdaT = Math.log(t.alpha) - Math.log(t.sigma);
    const lambda0 = Math.log(s0.alpha) - Math.log(s0.sigma);
    const h = lambdaT - lambda0;
    const xCoef = t.sigma / s0.sigma;
    const dCoef = t.alpha * (Math.exp(-h) - 1);
    const out = new Float32Array(x.length);
    const lowerOrderFinal = stepIndex === this.steps - 1;
    if (prev === undefined || lowerOrderFinal) {
      for (let i = 0; i < x.length; i++) out[i] = xCoef * (x[i] as number) - dCoef * (x0[i] as number);
    } else {
      const s1 = alphaSigma(this.#sigmas[stepIndex - 1] as number);
      const lambda1 = Math.log(s1.alpha) - Math.log(s1.sigma);
      const r0 = (lambda0 - lambda1) / h;
      for (let i = 0; i < x.length; i++) {
        const d0 = x0[i] as number;
        const d1 = (1 / r0) * (d0 - (prev[i] as number));
        out[i] = xCoef * (x[i] as number) - dCoef * d0 - 0.5 * dCoef * d1;
      }
    }
    this.#previous = x0;
    return out;
  }

  protected override saveMemory(): number[] {
    return this.#previous === undefined ? [] : Array.from(this.#previous);
  }

  protected override loadMemory(memory: number[], nextStepIndex: number): void {
    if (nextStepIndex > 0 && nextStepIndex < this.steps && memory.length === 0) {
      throw new SchedulerError('INVALID_STATE', 'previousModelOutput', 'state.previousModelOutput is required after step 0 of dpmpp-2m');
    }
    this.#previous = memory.length === 0 ? undefined : Float32Array.from(memory);
  }
}
