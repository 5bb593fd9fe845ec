import { SchedulerError } from './errors.js';
import { predictOriginalSample } from './predicted-original.js';
import type { PredictionType, Scheduler, SchedulerKind, SchedulerState } from './scheduler.js';

/**
 * Shared plumbing of the concrete schedulers: argument checks, the step counter and state
 * snapshots. Subclasses implement `update()` (the algorithm) and may keep extra memory.
 */
export abstract class BaseScheduler implements Scheduler {
  abstract readonly kind: SchedulerKind;
  abstract readonly stochastic: boolean;
  abstract readonly initNoiseSigma: number;
  readonly steps: number;
  readonly timesteps: Float64Array;
  protected nextStepIndex = 0;

  protected constructor(timesteps: Float64Array) {
    this.steps = timesteps.length;
    this.timesteps = timesteps;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    this.checkStepIndex(stepIndex);
    const s = this.inputScale(stepIndex);
    if (s === 1) return sample.slice();
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) out[i] = (sample[i] as number) * s;
    return out;
  }

  step(stepIndex: number, sample: Float32Array, eps: Float32Array, noise?: Float32Array): Float32Array {
    this.checkStepIndex(stepIndex);
    checkArray(sample, 'sample', sample.length);
    checkArray(eps, 'eps', sample.length);
    if (noise !== undefined) checkArray(noise, 'noise', sample.length);
    if (this.stochastic && noise === undefined) {
      throw new SchedulerError('MISSING_NOISE', 'noise', `noise is required at every step of a stochastic ${this.kind} scheduler`);
    }
    const out = this.update(stepIndex, sample, eps, noise);
    this.nextStepIndex = stepIndex + 1;
    return out;
  }

  predictOriginal(stepIndex: number, sample: Float32Array, output: Float32Array): Float32Array {
    this.checkStepIndex(stepIndex);
    checkArray(sample, 'sample', sample.length);
    checkArray(output, 'output', sample.length);
    const { prediction, alphaBar } = this.x0Basis(stepIndex);
    const s = this.inputScale(stepIndex);
    let vp = sample;
    if (s !== 1) {
      vp = new Float32Array(sample.length);
      for (let i = 0; i < sample.length; i++) vp[i] = (sample[i] as number) * s;
    }
    return predictOriginalSample(prediction, alphaBar, vp, output);
  }

  saveState(): SchedulerState {
    return { version: 1, kind: this.kind, steps: this.steps, nextStepIndex: this.nextStepIndex, previousModelOutput: this.saveMemory() };
  }

  loadState(state: SchedulerState): void {
    const s = state as Partial<SchedulerState> | null;
    if (s === null || typeof s !== 'object' || s.version !== 1) throw invalidState('version', 'must be 1');
    if (s.kind !== this.kind) throw invalidState('kind', `is ${String(s.kind)}, this scheduler is ${this.kind}`);
    if (s.steps !== this.steps) throw invalidState('steps', `is ${String(s.steps)}, this scheduler has ${this.steps}`);
    const next = s.nextStepIndex;
    if (typeof next !== 'number' || !Number.isInteger(next) || next < 0 || next > this.steps) {
      throw invalidState('nextStepIndex', `must be an integer in [0, ${this.steps}], got ${String(next)}`);
    }
    const prev = s.previousModelOutput;
    if (!Array.isArray(prev) || !prev.every((v) => typeof v === 'number')) {
      throw invalidState('previousModelOutput', 'must be an array of numbers');
    }
    this.loadMemory(prev, next);
    this.nextStepIndex = next;
  }

  /** Factor `scaleModelInput` multiplies by (1 unless the algorithm works in σ-space). */
  protected inputScale(_stepIndex: number): number {
    return 1;
  }

  /**
   * What the model output at `stepIndex` predicts and ᾱ of the noise level it was evaluated at
   * (σ-space kinds: 1/(σ²+1)); `predictOriginal` builds x̂0 from them.
   */
  protected abstract x0Basis(stepIndex: number): { readonly prediction: PredictionType; readonly alphaBar: number };

  /** The algorithm: the latent for stepIndex+1. Inputs are already validated. */
  protected abstract update(stepIndex: number, sample: Float32Array, eps: Float32Array, noise: Float32Array | undefined): Float32Array;

  /** Extra between-step memory, as JSON numbers. */
  protected saveMemory(): number[] {
    return [];
  }

  /** Restores `saveMemory()` output; `nextStepIndex` is the step the memory leads into. */
  protected loadMemory(memory: number[], _nextStepIndex: number): void {
    if (memory.length !== 0) throw invalidState('previousModelOutput', `must be empty for ${this.kind}`);
  }

  protected checkStepIndex(stepIndex: number): void {
    if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= this.steps) {
      throw new SchedulerError('STEP_OUT_OF_RANGE', 'stepIndex', `stepIndex must be an integer in [0, ${this.steps - 1}], got ${stepIndex}`);
    }
  }
}

function checkArray(a: Float32Array, field: string, length: number): void {
  if (!(a instanceof Float32Array)) throw new SchedulerError('INVALID_INPUT', field, `${field} must be a Float32Array`);
  if (a.length !== length) throw new SchedulerError('INVALID_INPUT', field, `${field} has ${a.length} elements, sample has ${length}`);
}

function invalidState(field: string, detail: string): SchedulerError {
  return new SchedulerError('INVALID_STATE', field, `state.${field} ${detail}`);
}
