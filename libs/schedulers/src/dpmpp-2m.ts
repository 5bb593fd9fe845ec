import { BaseScheduler } from './base-scheduler.js';
import { SchedulerError } from './errors.js';
import { trainSigmas } from './noise-schedule.js';
import { alphaBarOfSigma } from './predicted-original.js';
import type { NoiseScheduleSpec, PredictionType, SchedulerSetup } from './scheduler.js';
import { alphaSigma, karrasSigmas, minTrainSigma, samplingSigmas, sigmaToTimestep } from './sigmas.js';
import { dpmSolverTimesteps, roundHalfEven } from './spacing.js';

/**
 * DPM-Solver++(2M) (Lu et al. 2022), as diffusers' DPMSolverMultistepScheduler with
 * solver_order = 2 and algorithm_type = "dpmsolver++": integer timesteps by `timestepSpacing`
 * (default linspace) or from Karras σ, `midpoint` or `heun` second-order update, final σ 0 or
 * σ_min, ε, v or x0 prediction. The first step is first order, and so is the last one when the
 * final σ is 0, with `eulerAtFinal`, or with `lowerOrderFinal` below 15 steps. Works on
 * variance-preserving samples: scaleModelInput is the identity and initNoiseSigma is 1.
 * Remembers the previous step's x0 prediction (float32, as diffusers keeps it), so steps must
 * run in order; step 0 starts afresh.
 */
export class DpmSolverPP2MScheduler extends BaseScheduler {
  readonly kind = 'dpmpp-2m' as const;
  readonly stochastic = false;
  readonly initNoiseSigma = 1;
  readonly #sigmas: Float64Array;
  readonly #options: SchedulerSetup;
  #previous: Float32Array | undefined;

  constructor(alphasCumprod: Float64Array, options: SchedulerSetup, schedule: NoiseScheduleSpec['type']) {
    const { timesteps, sigmas } = dpmSolverPlan(alphasCumprod, options, schedule);
    super(timesteps);
    this.#sigmas = sigmas;
    this.#options = options;
  }

  protected x0Basis(stepIndex: number): { prediction: PredictionType; alphaBar: number } {
    return { prediction: this.#options.prediction, alphaBar: alphaBarOfSigma(this.#sigmas[stepIndex] as number) };
  }

  protected update(stepIndex: number, x: Float32Array, output: Float32Array): Float32Array {
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
    const prediction = this.#options.prediction;
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      const m = output[i] as number;
      x0[i] = prediction === 'epsilon' ? (xi - s0.sigma * m) / s0.alpha : prediction === 'v-prediction' ? s0.alpha * xi - s0.sigma * m : m;
    }

    const lambdaT = Math.log(t.alpha) - Math.log(t.sigma);
    const lambda0 = Math.log(s0.alpha) - Math.log(s0.sigma);
    const h = lambdaT - lambda0;
    const xCoef = t.sigma / s0.sigma;
    const dCoef = t.alpha * (Math.exp(-h) - 1);
    const out = new Float32Array(x.length);
    const o = this.#options;
    const lowerOrderFinal =
      stepIndex === this.steps - 1 && (o.eulerAtFinal || (o.lowerOrderFinal && this.steps < 15) || o.finalSigmasType === 'zero');
    if (prev === undefined || lowerOrderFinal) {
      for (let i = 0; i < x.length; i++) out[i] = xCoef * (x[i] as number) - dCoef * (x0[i] as number);
    } else {
      const s1 = alphaSigma(this.#sigmas[stepIndex - 1] as number);
      const lambda1 = Math.log(s1.alpha) - Math.log(s1.sigma);
      const r0 = (lambda0 - lambda1) / h;
      // midpoint: - ½·α_t(e^-h - 1)·D1; heun: + α_t((e^-h - 1)/h + 1)·D1
      const heun = o.solverType === 'heun';
      const d1Coef = heun ? t.alpha * ((Math.exp(-h) - 1) / h + 1) : 0;
      for (let i = 0; i < x.length; i++) {
        const d0 = x0[i] as number;
        const d1 = (1 / r0) * (d0 - (prev[i] as number));
        out[i] = heun ? xCoef * (x[i] as number) - dCoef * d0 + d1Coef * d1 : xCoef * (x[i] as number) - dCoef * d0 - 0.5 * dCoef * d1;
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

/**
 * DPMSolverMultistepScheduler's `set_timesteps`: integer timesteps by spacing and σ interpolated
 * at them, or Karras σ over the whole training range with timesteps read back from σ (rounded,
 * except for the cosine schedule, where diffusers truncates), then the final σ.
 */
function dpmSolverPlan(
  alphasCumprod: Float64Array,
  s: SchedulerSetup,
  schedule: NoiseScheduleSpec['type'],
): { timesteps: Float64Array; sigmas: Float64Array } {
  const final = s.finalSigmasType === 'sigma-min' ? minTrainSigma(alphasCumprod) : 0;
  if (!s.useKarrasSigmas) {
    const timesteps = dpmSolverTimesteps(s.timestepSpacing, alphasCumprod.length, s.steps, s.stepsOffset);
    return { timesteps, sigmas: samplingSigmas(alphasCumprod, timesteps, final) };
  }
  const train = trainSigmas(alphasCumprod);
  const karras = karrasSigmas(train[0] as number, train[train.length - 1] as number, s.steps);
  const logSigmas = train.map(Math.log);
  const round = schedule === 'squaredcos-cap-v2' ? Math.trunc : roundHalfEven;
  const timesteps = karras.map((sigma) => round(sigmaToTimestep(sigma, logSigmas)));
  return { timesteps, sigmas: Float64Array.of(...karras, final) };
}
