import { describe, expect, it } from 'vitest';
import {
  createScheduler,
  InvalidSchedulerOptionError,
  resolveSchedulerSetup,
  SCHEDULER_KINDS,
  SchedulerError,
  type NoiseScheduleSpec,
  type SchedulerOptions,
  type SchedulerState,
} from './index.js';

const sd: NoiseScheduleSpec = { type: 'scaled-linear', betaStart: 0.00085, betaEnd: 0.012, trainSteps: 1000 };

function thrown(fn: () => unknown): SchedulerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SchedulerError);
    return e as SchedulerError;
  }
  return expect.fail('expected a SchedulerError');
}

describe('diffusers knobs in SchedulerOptions', () => {
  const bad: [string, Partial<SchedulerOptions>][] = [
    ['prediction', { kind: 'ddim', steps: 10, prediction: 'x0' as never }],
    ['prediction', { kind: 'pndm', steps: 10, prediction: 'sample' }],
    ['prediction', { kind: 'euler-ancestral', steps: 10, prediction: 'sample' }],
    ['timestepSpacing', { kind: 'ddim', steps: 10, timestepSpacing: 'even' as never }],
    ['stepsOffset', { kind: 'ddim', steps: 10, stepsOffset: -1 }],
    ['stepsOffset', { kind: 'ddim', steps: 10, stepsOffset: 0.5 }],
    ['stepsOffset', { kind: 'ddim', steps: 1000, stepsOffset: 1 }],
    ['stepsOffset', { kind: 'pndm', steps: 1000, stepsOffset: 1, skipPrkSteps: true }],
    ['stepsOffset', { kind: 'dpmpp-2m', steps: 999, timestepSpacing: 'leading', stepsOffset: 2 }],
    ['setAlphaToOne', { kind: 'euler', steps: 10, setAlphaToOne: true }],
    ['setAlphaToOne', { kind: 'ddim', steps: 10, setAlphaToOne: 'no' as never }],
    ['clipSampleRange', { kind: 'ddim', steps: 10, clipSampleRange: 0 }],
    ['clipSampleRange', { kind: 'dpmpp-2m', steps: 10, clipSampleRange: 2 }],
    ['skipPrkSteps', { kind: 'ddim', steps: 10, skipPrkSteps: true }],
    ['useKarrasSigmas', { kind: 'ddim', steps: 10, useKarrasSigmas: true }],
    ['useKarrasSigmas', { kind: 'euler-ancestral', steps: 10, useKarrasSigmas: false }],
    ['finalSigmasType', { kind: 'euler', steps: 10, finalSigmasType: 'one' as never }],
    ['solverType', { kind: 'euler', steps: 10, solverType: 'heun' }],
    ['solverType', { kind: 'dpmpp-2m', steps: 10, solverType: 'rk4' as never }],
    ['lowerOrderFinal', { kind: 'pndm', steps: 10, lowerOrderFinal: true }],
    ['eulerAtFinal', { kind: 'dpmpp-2m', steps: 10, eulerAtFinal: 1 as never }],
    ['steps', { kind: 'ddim', steps: 61, timestepSpacing: 'trailing' }],
    ['steps', { kind: 'euler', steps: 103, timestepSpacing: 'trailing' }],
    ['steps', { kind: 'pndm', steps: 3 }],
  ];
  it.each(bad)('rejects a bad %s with a typed error naming it', (field, options) => {
    const e = thrown(() => createScheduler(sd, options as SchedulerOptions));
    expect(e).toBeInstanceOf(InvalidSchedulerOptionError);
    expect(e.code).toBe('INVALID_OPTION');
    expect(e.field).toBe(field);
    expect(e.message).toContain(field);
  });

  it("fills in each kind's diffusers defaults", () => {
    const common = { eta: 0, useClippedModelOutput: false, prediction: 'epsilon', stepsOffset: 0, clipSampleRange: 1 } as const;
    const rest = { skipPrkSteps: false, useKarrasSigmas: false, finalSigmasType: 'zero', solverType: 'midpoint', lowerOrderFinal: true, eulerAtFinal: false } as const;
    expect(resolveSchedulerSetup(sd, { kind: 'ddim', steps: 20 })).toEqual({ kind: 'ddim', steps: 20, ...common, ...rest, clipSample: true, timestepSpacing: 'leading', setAlphaToOne: true });
    expect(resolveSchedulerSetup(sd, { kind: 'pndm', steps: 20 })).toEqual({ kind: 'pndm', steps: 20, ...common, ...rest, clipSample: false, timestepSpacing: 'leading', setAlphaToOne: false });
    expect(resolveSchedulerSetup(sd, { kind: 'euler', steps: 20 })).toMatchObject({ timestepSpacing: 'linspace', clipSample: false });
    expect(resolveSchedulerSetup(sd, { kind: 'dpmpp-2m', steps: 20 })).toMatchObject({ timestepSpacing: 'linspace' });
    expect(resolveSchedulerSetup(sd, { kind: 'ddpm', steps: 20 })).toMatchObject({ timestepSpacing: 'leading', clipSample: true });
  });

  it('accepts trailing step counts that numpy spaces cleanly, and the cosine schedule', () => {
    expect(createScheduler(sd, { kind: 'ddim', steps: 60, timestepSpacing: 'trailing' }).timesteps[59]).toBe(16);
    const cos: NoiseScheduleSpec = { type: 'squaredcos-cap-v2', betaStart: 0.0001, betaEnd: 0.02, trainSteps: 1000 };
    for (const kind of SCHEDULER_KINDS) expect(createScheduler(cos, { kind, steps: 10 }).steps).toBeGreaterThanOrEqual(10);
  });
});

describe('pndm', () => {
  const x = Float32Array.from([0.5, -0.25, 1]);
  const e = (i: number): Float32Array => Float32Array.from([0.1 * i, -0.2, 0.3 + i / 7]);

  it('runs steps+1 model evaluations with PLMS, steps+9 with the PRK warm-up, 1 for one step', () => {
    expect(createScheduler(sd, { kind: 'pndm', steps: 50, skipPrkSteps: true }).steps).toBe(51);
    expect(createScheduler(sd, { kind: 'pndm', steps: 1, skipPrkSteps: true }).steps).toBe(1);
    expect(createScheduler(sd, { kind: 'pndm', steps: 50 }).steps).toBe(59);
    expect(createScheduler(sd, { kind: 'pndm', steps: 4 }).steps).toBe(13);
  });

  it('runs in order, restarts at 0, and leaves its inputs alone', () => {
    const s = createScheduler(sd, { kind: 'pndm', steps: 5, skipPrkSteps: true });
    const copy = x.slice();
    const first = s.step(0, x, e(0));
    expect(x).toEqual(copy);
    expect(first).not.toBe(x);
    expect(thrown(() => s.step(2, x, e(2))).code).toBe('STEP_OUT_OF_ORDER');
    expect(s.step(0, x, e(0))).toEqual(first);
    expect(thrown(() => s.step(1, new Float32Array(2), new Float32Array(2))).field).toBe('sample');
    expect(s.stochastic).toBe(false);
    expect(s.scaleModelInput(x, 0)).toEqual(x);
  });

  it('saves its multistep memory in previousModelOutput and validates it on load', () => {
    const s = createScheduler(sd, { kind: 'pndm', steps: 5, skipPrkSteps: true });
    let y: Float32Array = x;
    for (let i = 0; i < 4; i++) y = s.step(i, y, e(i));
    const state = s.saveState();
    expect(state).toMatchObject({ version: 1, kind: 'pndm', steps: 6, nextStepIndex: 4 });
    expect(state.previousModelOutput).toHaveLength(3 * x.length);
    const fresh = (): ReturnType<typeof createScheduler> => createScheduler(sd, { kind: 'pndm', steps: 5, skipPrkSteps: true });
    const broken: SchedulerState = { ...state, previousModelOutput: state.previousModelOutput.slice(1) };
    expect(thrown(() => fresh().loadState(broken))).toMatchObject({ code: 'INVALID_STATE', field: 'previousModelOutput' });
    expect(thrown(() => fresh().loadState({ ...state, previousModelOutput: [] }))).toMatchObject({ code: 'INVALID_STATE', field: 'previousModelOutput' });
    expect(thrown(() => fresh().loadState({ ...state, steps: 5 }))).toMatchObject({ field: 'steps' });
    const finished: SchedulerState = { ...state, nextStepIndex: 6, previousModelOutput: [] };
    expect(() => fresh().loadState(finished)).not.toThrow();
    const resumed = fresh();
    resumed.loadState(state);
    expect(thrown(() => resumed.step(4, new Float32Array(4), new Float32Array(4))).field).toBe('sample');
  });
});
