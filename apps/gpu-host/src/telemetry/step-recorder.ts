import type { StageRunner } from '@asyncdiff/asyncdiff';
import { ProcessRunner } from '@asyncdiff/stages';

/** Where one step's time went, apart from its wall time (which the sampler reports). */
export interface StepShares {
  /** Hand-off on the step's critical path, ms (0 for an in-process runner: nothing is handed off). */
  readonly handoffMs: number;
  /** Per device of the engine: time inside `session.run` this step, ms (empty for an in-process runner). */
  readonly stageMs: readonly number[];
}

/**
 * Reads a runner's accounting step by step: the stage-process runner keeps running totals of
 * hand-off and per-stage `session.run` time (the same `RunnerStats` the benchmarks read); each
 * call returns what was added since the previous one. Engines are cached across jobs, so a
 * recorder starts from the totals as they are when the job takes the engine.
 */
export function stepRecorder(runner: StageRunner): () => StepShares {
  if (!(runner instanceof ProcessRunner)) return () => ({ handoffMs: 0, stageMs: [] });
  const stats = runner.stats;
  let handoffUs = stats.handoffUs;
  let sessionUs = [...stats.sessionUs];
  return () => {
    const shares = {
      handoffMs: round((stats.handoffUs - handoffUs) / 1000),
      stageMs: stats.sessionUs.map((us, d) => round((us - (sessionUs[d] ?? 0)) / 1000)),
    };
    handoffUs = stats.handoffUs;
    sessionUs = [...stats.sessionUs];
    return shares;
  };
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
