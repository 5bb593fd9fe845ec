import type { PhaseTimes } from '@asyncdiff/asyncdiff';

import type { Quality } from '../quality/measure.js';

import type { BenchConfig } from './configs.js';

/** Everything measured for one configuration. */
export interface ConfigResult {
  readonly config: BenchConfig;
  readonly latencyMs: { median: number; p10: number; p90: number; runs: number[] };
  readonly phases: PhaseTimes;
  /**
   * Stage processes only, mean per step (µs): the step, the slowest stage inside session.run,
   * and the hand-off on the critical path (doorbell wake-ups); shares are of the step.
   */
  readonly profile?: { stepUs: number; criticalSessionUs: number; outsideShare: number; handoffUs: number; handoffShare: number };
  readonly memory: { stagePeakRssMb: number[]; stageWeightsKb: number[] };
  readonly quality?: Quality;
  readonly qualityMs?: number;
}

