import { describe, expect, it } from 'vitest';
import {
  applyGuidance,
  createScheduler,
  InvalidSchedulerOptionError,
  resolveSchedulerOptions,
  SchedulerError,
  type NoiseScheduleSpec,
  type SchedulerOptions,
  type SchedulerState,
} from './index.js';

const linear: NoiseScheduleSpec = { type: 'linear', betaStart: 1e-4, betaEnd: 0.02, trainSteps: 1000 };

function optionError(fn: () => unknown): InvalidSchedulerOptionError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidSchedulerOptionError);
    return e as InvalidSchedulerOptionError;
  }
  return expect.fail('expected InvalidSchedulerOptionError');
}

describe('option validation', () => {
  const bad: [string, NoiseScheduleSpec, Partial<SchedulerOptions>][] = [
    ['steps', linear, { kind: 'ddim', steps: 0 }],
    ['steps', linear, { kind: 'ddim', steps: 1001 }],
    ['steps', linear, { kind: 'ddim', steps: 2.5 }],
    ['kind', linear, { kind: 'plms' as never, steps: 10 }],
    ['eta', linear, { kind: 'ddim', steps: 10, eta: -0.1 }],
    ['eta', linear, { kind: 'ddim', steps: 10, eta: 1.5 }],
    ['eta', linear, { kind: 'ddim', steps: 10, eta: Number.NaN }],
    ['eta', linear, { kind: 'euler', steps: 10, eta: 0.5 }],
    ['clipSample', linear, { kind: 'euler', steps: 10, clipSample: true }],
    ['clipSample', linear, { kind: 'ddim', steps: 10, clipSample: 'yes' as never }],
    ['useClippedModelOutput', linear, { kind: 'ddpm', steps: 10, useClippedModelOutput: true }],
    ['schedule.type', { ...linear, type: 'cosine' as never }, { kind: 'ddim', steps: 10 }],
    ['schedule.betaStart', { ...linear, betaStart: 0 }, { kind: 'ddim', steps: 10 }],
    ['schedule.betaEnd', { ...linear, betaEnd: 1e-5 }, { kind: 'ddim', steps: 10 }],
    ['schedule.trainSteps', { ...linear, trainSteps: 10.5 }, { kind: 'ddim', steps: 10 }],
  ];
  it.each(bad)('rejects a bad %s with a typed error naming it', (field, schedule, options) => {
    const e = optionError(() => createScheduler(schedule, options as SchedulerOptions));
    expect(e.code).toBe('INVALID_OPTION');
    expect(e.field).toBe(field);
    expect(e.message).toContain(field);
    expect(e.retryable).toBe(false);
  });

  it('fills in defaults', () => {
    expect(resolveSchedulerOptions(linear, { kind: 'ddim', steps: 50 })).toEqual({
      kind: 'ddim',
      steps: 50,
      eta: 0,
      clipSample: true,
      useClippedModelOutput: false,
    });
    expect(resolveSchedulerOptions(linear, { kind: 'euler', steps: 50, eta: 0 }).clipSample).toBe(false);
    expect(resolveSchedulerOptions(linear, { kind: 'ddpm', steps: 1000 }).clipSample).toBe(true);
  });
});

describe('step contract', () => {
  it('rejects bad step indices, lengths and missing noise', () => {
    const s = createScheduler(linear, { kind: 'ddim', steps: 10, eta: 1 });
    const x = new Float32Array(4);
    const err = (fn: () => unknown): SchedulerError => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(SchedulerError);
        return e as SchedulerError;
      }
      return expect.fail('expected SchedulerError');
    };
    expect(err(() => s.step(10, x, x, x)).code).toBe('STEP_OUT_OF_RANGE');
    expect(err(() => s.step(-1, x, x, x)).field).toBe('stepIndex');
    expect(err(() => s.scaleModelInput(x, 10)).code).toBe('STEP_OUT_OF_RANGE');
    expect(err(() => s.step(0, x, new Float32Array(3), x)).field).toBe('eps');
    expect(err(() => s.step(0, x, x, new Float32Array(5))).field).toBe('noise');
    const missing = err(() => s.step(0, x, x));
    expect(missing.code).toBe('MISSING_NOISE');
    expect(missing.message).toContain('noise');
    expect(createScheduler(linear, { kind: 'ddim', steps: 10 }).step(0, x, x)).toHaveLength(4);
  });

  it('makes dpmpp-2m run in order, restart at 0, and validate loaded state', () => {
    const s = createScheduler(linear, { kind: 'dpmpp-2m', steps: 5 });
    const x = Float32Array.from([0.5, -0.5]);
    s.step(0, x, x);
    expect(() => s.step(2, x, x)).toThrow(expect.objectContaining({ code: 'STEP_OUT_OF_ORDER' }));
    const first = createScheduler(linear, { kind: 'dpmpp-2m', steps: 5 }).step(0, x, x);
    expect(s.step(0, x, x)).toEqual(first);
    expect(() => s.step(1, new Float32Array(3), new Float32Array(3))).toThrow(expect.objectContaining({ field: 'sample' }));
    const state = s.saveState();
    expect(state).toMatchObject({ version: 1, kind: 'dpmpp-2m', steps: 5, nextStepIndex: 1 });
    expect(state.previousModelOutput).toHaveLength(2);
    const other = createScheduler(linear, { kind: 'dpmpp-2m', steps: 6 });
    expect(() => other.loadState(state)).toThrow(expect.objectContaining({ code: 'INVALID_STATE', field: 'steps' }));
    const ddim = createScheduler(linear, { kind: 'ddim', steps: 5 });
    expect(() => ddim.loadState(state)).toThrow(expect.objectContaining({ field: 'kind' }));
    const broken: SchedulerState = { ...state, previousModelOutput: [] };
    expect(() => createScheduler(linear, { kind: 'dpmpp-2m', steps: 5 }).loadState(broken)).toThrow(
      expect.objectContaining({ field: 'previousModelOutput' }),
    );
    expect(() => ddim.loadState({ ...state, kind: 'ddim', nextStepIndex: 9 })).toThrow(expect.objectContaining({ field: 'nextStepIndex' }));
  });

  it('leaves inputs untouched and returns new arrays', () => {
    for (const kind of ['ddim', 'ddpm', 'euler', 'euler-ancestral', 'dpmpp-2m'] as const) {
      const s = createScheduler(linear, { kind, steps: 4 });
      const x = Float32Array.from([0.25, -1.5, 2]);
      const e = Float32Array.from([0.1, 0.2, -0.3]);
      const n = Float32Array.from([1, -1, 0.5]);
      const copy = x.slice();
      const scaled = s.scaleModelInput(x, 0);
      expect(scaled).not.toBe(x);
      expect(s.step(0, x, e, n)).not.toBe(x);
      expect(x).toEqual(copy);
    }
  });
});

describe('shipped model defaults', () => {
  it('DDIM 50 steps uses leading spacing 980 … 0 and needs no noise', () => {
    const s = createScheduler(linear, { kind: 'ddim', steps: 50, eta: 0, clipSample: true });
    expect(s.timesteps[0]).toBe(980);
    expect(s.timesteps[49]).toBe(0);
    expect(s.stochastic).toBe(false);
    expect(s.initNoiseSigma).toBe(1);
  });
});

describe('applyGuidance', () => {
  it('computes eps_u + w (eps_c - eps_u)', () => {
    const c = Float32Array.from([1, 2, 3]);
    const u = Float32Array.from([0, 1, 5]);
    expect([...applyGuidance(c, u, 2)]).toEqual([2, 3, 1]);
    expect(applyGuidance(c, u, 1)).toEqual(c);
    expect(applyGuidance(c, u, 0)).toEqual(u);
    expect(() => applyGuidance(c, new Float32Array(2), 1)).toThrow(expect.objectContaining({ field: 'epsUncond' }));
    expect(() => applyGuidance(c, u, Number.NaN)).toThrow(expect.objectContaining({ field: 'scale' }));
  });
});
