import { EngineError, type StageState } from '@asyncdiff/asyncdiff';

/**
 * Allowed transitions of a stage process as its parent sees it (`from` → `to`):
 * - starting → ready (loaded), draining (closed while loading), crashed (exited while loading).
 * - ready → busy (a run dispatched), draining (close), crashed (exited or found dead).
 * - busy → ready (the run finished or failed), busy (the next run, when a generation abandoned
 *   the last one — an abort or another stage's crash — without waiting for it), draining (close
 *   mid-run), crashed (exited, found dead, or killed as stuck).
 * - draining → stopped (exited after being asked), crashed (found dead before its exit arrived).
 * - stopped, crashed: final; a restarted stage is a new handle.
 */
const STAGE_TRANSITIONS: Readonly<Record<StageState, readonly StageState[]>> = {
  starting: ['ready', 'draining', 'crashed'],
  ready: ['busy', 'draining', 'crashed'],
  busy: ['ready', 'busy', 'draining', 'crashed'],
  draining: ['stopped', 'crashed'],
  stopped: [],
  crashed: [],
};

/** Every stage state, in lifecycle order (for tables and exhaustive tests). */
export const STAGE_STATES: readonly StageState[] = Object.keys(STAGE_TRANSITIONS) as StageState[];

/** Whether the stage lifecycle allows `from` → `to`. */
export function canStageTransition(from: StageState, to: StageState): boolean {
  return STAGE_TRANSITIONS[from].includes(to);
}

/** Whether a stage in this state is gone for good (its handle is replaced on restart). */
export function isFinalStageState(state: StageState): boolean {
  return STAGE_TRANSITIONS[state].length === 0;
}

/** A stage handle was asked for a transition its lifecycle forbids: a bug in the runner, not retryable. */
export class InvalidStageTransitionError extends EngineError {
  override readonly name = 'InvalidStageTransitionError';
  constructor(
    readonly device: number,
    readonly from: StageState,
    readonly to: StageState,
  ) {
    super('STAGE_INVALID_TRANSITION', `stage ${device}: invalid transition ${from} → ${to}`, false);
  }
}

/** Throws `InvalidStageTransitionError` unless `from` → `to` is allowed. */
export function assertStageTransition(device: number, from: StageState, to: StageState): void {
  if (!canStageTransition(from, to)) throw new InvalidStageTransitionError(device, from, to);
}
