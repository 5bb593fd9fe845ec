import type { StepPhase } from './plan.js';

/** Time split of one phase: inside the runner (model + hand-off) vs the sampler's own math. */
export interface PhaseTime {
  steps: number;
  runnerMs: number;
  samplerMs: number;
}

/** Where a generation's time went, per step phase (what the benchmark's profile reports). */
export type PhaseTimes = Record<StepPhase, PhaseTime>;

/** Zeroed phase times. */
export function emptyPhaseTimes(): PhaseTimes {
  return {
    warmup: { steps: 0, runnerMs: 0, samplerMs: 0 },
    parallel: { steps: 0, runnerMs: 0, samplerMs: 0 },
    reuse: { steps: 0, runnerMs: 0, samplerMs: 0 },
  };
}
