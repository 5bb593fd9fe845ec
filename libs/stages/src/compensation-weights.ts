import type { Compensation, PlannedRun } from '@asyncdiff/asyncdiff';
import { COMPENSATION_ORDER, EngineError, extrapolationWeights, isIdentity } from '@asyncdiff/asyncdiff';

/**
 * A run's compensation weights over its producers' last runs (empty: read them as they are).
 * Refuses a compensation older than the stages' output channels keep (`maxCompensation`).
 */
export function compensationWeights(run: PlannedRun, timestepValues: Float64Array, maxCompensation: Compensation): number[] {
  const history = run.history;
  if (!history) return [];
  const weights = extrapolationWeights(timestepValues[run.t] as number, history.map((h) => timestepValues[h.t] as number));
  if (isIdentity(weights)) return [];
  const keeps = COMPENSATION_ORDER[maxCompensation] + 1;
  if (weights.length > keeps) {
    throw new EngineError('RUNNER_BAD_STEP', `compensation over ${weights.length} outputs, this runner keeps ${keeps} (maxCompensation ${maxCompensation})`, false, 'compensation');
  }
  return weights;
}
