import type { StageState } from '@asyncdiff/asyncdiff';
import { describe, expect, it } from 'vitest';

import { assertStageTransition, canStageTransition, InvalidStageTransitionError, isFinalStageState, STAGE_STATES } from './stage-lifecycle.js';

const allowed: readonly (readonly [StageState, StageState])[] = [
  ['starting', 'ready'],
  ['starting', 'draining'],
  ['starting', 'crashed'],
  ['ready', 'busy'],
  ['ready', 'draining'],
  ['ready', 'crashed'],
  ['busy', 'ready'],
  ['busy', 'busy'],
  ['busy', 'draining'],
  ['busy', 'crashed'],
  ['draining', 'stopped'],
  ['draining', 'crashed'],
];

const forbidden: readonly (readonly [StageState, StageState])[] = STAGE_STATES.flatMap((from) =>
  STAGE_STATES.filter((to) => !allowed.some(([f, t]) => f === from && t === to)).map((to) => [from, to] as const),
);

describe('stage lifecycle', () => {
  it.each(allowed)('allows %s → %s', (from, to) => {
    expect(canStageTransition(from, to)).toBe(true);
    expect(() => assertStageTransition(0, from, to)).not.toThrow();
  });

  it.each(forbidden)('forbids %s → %s with a typed error', (from, to) => {
    expect(canStageTransition(from, to)).toBe(false);
    let err: unknown;
    try {
      assertStageTransition(3, from, to);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidStageTransitionError);
    expect(err).toMatchObject({ code: 'STAGE_INVALID_TRANSITION', retryable: false, device: 3, from, to });
    expect((err as Error).message).toContain(`${from} → ${to}`);
  });

  it('has exactly stopped and crashed as final states, and nothing leaves them', () => {
    expect(STAGE_STATES.filter(isFinalStageState)).toEqual(['stopped', 'crashed']);
    expect(forbidden).toHaveLength(STAGE_STATES.length ** 2 - allowed.length);
  });
});
