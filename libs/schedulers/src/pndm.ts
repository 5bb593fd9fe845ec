import { BaseScheduler } from './base-scheduler.js';
import { InvalidSchedulerOptionError, SchedulerError } from './errors.js';
import { pndmMemoryShape, pndmPlan, type PndmEvaluation } from './pndm-plan.js';
import type { PredictionType, SchedulerSetup } from './scheduler.js';

/**
 * PNDM (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models") as diffusers'
 * PNDMScheduler, the default sampler of Stable Diffusion 1.x: linear multistep (PLMS, up to 4th
 * order Adams–Bashforth on the model outputs) with either a Heun start (`skipPrkSteps`, as SD
 * ships: steps+1 model evaluations) or a Runge–Kutta warm-up (steps+9 evaluations). Integer
 * timesteps by `timestepSpacing` (+ `stepsOffset`), ᾱ past the end 1 or ᾱ_0 by `setAlphaToOne`,
 * ε or v prediction. Remembers up to 3 model outputs (and a sample), so steps must run in order;
 * step 0 starts afresh.
 */
export class PndmScheduler extends BaseScheduler {
  readonly kind = 'pndm' as const;
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  readonly #ac: Float64Array;
  readonly #finalAlpha: number;
  readonly #prediction: PredictionType;
  readonly #plan: readonly PndmEvaluation[];
  /** Model outputs the multistep formula still needs, oldest first (≤ 3 between steps). */
  #outputs: Float32Array[] = [];
  /** The sample a Runge–Kutta group or the Heun redo starts from. */
  #sample: Float32Array | undefined;
  /** Runge–Kutta weighted sum of the current group's outputs. */
  #sum: Float64Array | undefined;

  constructor(alphasCumprod: Float64Array, options: SchedulerSetup) {
    const plan = pndmPlan(alphasCumprod.length, options);
    super(plan.timesteps);
    const last = alphasCumprod.length - 1;
    if (plan.evaluations.some((e) => e.t > last || e.prevT > last)) {
      throw new InvalidSchedulerOptionError('stepsOffset', `moves a pndm timestep past the last training timestep ${last}`);
    }
    this.#ac = alphasCumprod;
    this.#finalAlpha = options.setAlphaToOne ? 1 : (alphasCumprod[0] as number);
    this.#prediction = options.prediction;
    this.#plan = plan.evaluations;
  }

  protected x0Basis(stepIndex: number): { prediction: PredictionType; alphaBar: number } {
    return { prediction: this.#prediction, alphaBar: this.#ac[this.timesteps[stepIndex] as number] as number };
  }

  protected update(stepIndex: number, x: Float32Array, output: Float32Array): Float32Array {
    if (stepIndex === 0) this.#reset();
    else if (stepIndex !== this.nextStepIndex) {
      throw new SchedulerError(
        'STEP_OUT_OF_ORDER',
        'stepIndex',
        `pndm must run steps in order (or restart at 0): expected stepIndex ${this.nextStepIndex}, got ${stepIndex}`,
      );
    }
    const held = [...this.#outputs, this.#sample, this.#sum];
    if (held.some((a) => a !== undefined && a.length !== x.length)) {
      throw new SchedulerError('INVALID_INPUT', 'sample', `sample has ${x.length} elements, the previous steps had another length`);
    }
    const e = this.#plan[stepIndex] as PndmEvaluation;
    const m = output;
    switch (e.rule) {
      case 'prk0':
        this.#outputs.push(m.slice());
        this.#sample = x.slice();
        this.#sum = weighted(m, 1 / 6);
        return this.#prev(x, e, m);
      case 'prk1':
      case 'prk2': {
        const sum = this.#held(this.#sum);
        for (let i = 0; i < m.length; i++) sum[i] = (sum[i] as number) + (1 / 3) * (m[i] as number);
        return this.#prev(this.#held(this.#sample), e, m);
      }
      case 'prk3': {
        const sum = this.#held(this.#sum);
        const combined = new Float64Array(m.length);
        for (let i = 0; i < m.length; i++) combined[i] = (sum[i] as number) + (1 / 6) * (m[i] as number);
        const out = this.#prev(this.#held(this.#sample), e, combined);
        this.#sample = undefined;
        this.#sum = undefined;
        return out;
      }
      case 'plms-second': {
        const first = this.#held(this.#outputs[this.#outputs.length - 1]);
        const mean = new Float64Array(m.length);
        for (let i = 0; i < m.length; i++) mean[i] = ((m[i] as number) + (first[i] as number)) / 2;
        const out = this.#prev(this.#held(this.#sample), e, mean);
        this.#sample = undefined;
        return out;
      }
      case 'plms': {
        const outs = [...this.#outputs.slice(-3), m.slice()];
        this.#outputs = outs.slice(-3);
        if (outs.length === 1) this.#sample = x.slice();
        return this.#prev(x, e, adamsBashforth(outs));
      }
    }
  }

  /** Formula (9) of the PNDM paper: x_{t-δ} from x_t and an ε estimate (v converted first). */
  #prev(x: Float32Array, e: PndmEvaluation, m: ArrayLike<number>): Float32Array {
    const aT = this.#ac[e.t] as number;
    const aPrev = e.prevT >= 0 ? (this.#ac[e.prevT] as number) : this.#finalAlpha;
    const bT = 1 - aT;
    const bPrev = 1 - aPrev;
    const sampleCoef = Math.sqrt(aPrev / aT);
    const denom = aT * Math.sqrt(bPrev) + Math.sqrt(aT * bT * aPrev);
    const sqrtAT = Math.sqrt(aT);
    const sqrtBT = Math.sqrt(bT);
    const v = this.#prediction === 'v-prediction';
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      const eps = v ? sqrtAT * (m[i] as number) + sqrtBT * xi : (m[i] as number);
      out[i] = sampleCoef * xi - ((aPrev - aT) * eps) / denom;
    }
    return out;
  }

  #held<T>(a: T | undefined): T {
    if (a === undefined) throw new SchedulerError('INVALID_STATE', 'previousModelOutput', 'pndm memory is missing for this step');
    return a;
  }

  #reset(): void {
    this.#outputs = [];
    this.#sample = undefined;
    this.#sum = undefined;
  }

  protected override saveMemory(): number[] {
    const parts: ArrayLike<number>[] = [...this.#outputs];
    if (this.#sample) parts.push(this.#sample);
    if (this.#sum) parts.push(this.#sum);
    return parts.flatMap((p) => Array.from(p));
  }

  protected override loadMemory(memory: number[], nextStepIndex: number): void {
    this.#reset();
    if (nextStepIndex === this.steps && memory.length === 0) return; // finished: nothing left to step
    const shape = pndmMemoryShape(this.#plan, nextStepIndex);
    const count = shape.outputs + (shape.sample ? 1 : 0) + (shape.sum ? 1 : 0);
    if (count === 0 ? memory.length !== 0 : memory.length === 0 || memory.length % count !== 0) {
      throw new SchedulerError(
        'INVALID_STATE',
        'previousModelOutput',
        `state.previousModelOutput must hold ${count} equal-length arrays after ${nextStepIndex} pndm steps, got ${memory.length} numbers`,
      );
    }
    const n = count === 0 ? 0 : memory.length / count;
    const part = (k: number): number[] => memory.slice(k * n, (k + 1) * n);
    for (let k = 0; k < shape.outputs; k++) this.#outputs.push(Float32Array.from(part(k)));
    let k = shape.outputs;
    if (shape.sample) this.#sample = Float32Array.from(part(k++));
    if (shape.sum) this.#sum = Float64Array.from(part(k));
  }
}

/** `w·m`, elementwise, in float64. */
function weighted(m: Float32Array, w: number): Float64Array {
  const out = new Float64Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = w * (m[i] as number);
  return out;
}

/** The Adams–Bashforth combination of 1 … 4 outputs (oldest first), as PLMS weights them. */
function adamsBashforth(e: readonly Float32Array[]): ArrayLike<number> {
  const [a, b, c, d] = [e[e.length - 1], e[e.length - 2], e[e.length - 3], e[e.length - 4]];
  if (a === undefined) throw new SchedulerError('INVALID_STATE', 'previousModelOutput', 'pndm has no model output');
  if (b === undefined) return a;
  const out = new Float64Array(a.length);
  if (c === undefined) {
    for (let i = 0; i < a.length; i++) out[i] = (3 * (a[i] as number) - (b[i] as number)) / 2;
  } else if (d === undefined) {
    for (let i = 0; i < a.length; i++) out[i] = (23 * (a[i] as number) - 16 * (b[i] as number) + 5 * (c[i] as number)) / 12;
  } else {
    for (let i = 0; i < a.length; i++) {
      out[i] = (1 / 24) * (55 * (a[i] as number) - 59 * (b[i] as number) + 37 * (c[i] as number) - 9 * (d[i] as number));
    }
  }
  return out;
}
