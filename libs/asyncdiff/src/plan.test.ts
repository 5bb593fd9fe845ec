import { describe, expect, it } from 'vitest';

import { InvalidOptionError } from './errors.js';
import { buildSchedule, criticalPathUnits, scheduleToJson, type PlanOptions, type Schedule } from './plan.js';

/**
 * Each row spells one step: phase, runs as "device:component@t<inputsFrom", eps as "device@step".
 * The tables are written by hand from DESIGN.md §2, line by line; they are the specification.
 */
type Row = [step: number, phase: string, runs: string, eps: string];

function rows(s: Schedule): Row[] {
  return s.steps.map((st) => [
    st.step,
    st.phase,
    st.runs.map((r) => `${r.device}:${r.component}@${r.t}<${r.inputsFrom ?? '-'}`).join(' '),
    `${st.eps.device}@${st.eps.step}`,
  ]);
}

const base = { steps: 10, stages: 3, timeShift: false } as const;

describe('stride 1, N = 3, T = 10', () => {
  it('W = 3: three chained warm-up steps, then all components at once on step s-1 outputs', () => {
    expect(rows(buildSchedule({ ...base, stride: 1, warmup: 3 }))).toEqual([
      [0, 'warmup', '0:0@0<- 1:1@0<0 2:2@0<0', '2@0'],
      [1, 'warmup', '0:0@1<- 1:1@1<1 2:2@1<1', '2@1'],
      [2, 'warmup', '0:0@2<- 1:1@2<2 2:2@2<2', '2@2'],
      [3, 'parallel', '0:0@3<- 1:1@3<2 2:2@3<2', '2@3'],
      [4, 'parallel', '0:0@4<- 1:1@4<3 2:2@4<3', '2@4'],
      [5, 'parallel', '0:0@5<- 1:1@5<4 2:2@5<4', '2@5'],
      [6, 'parallel', '0:0@6<- 1:1@6<5 2:2@6<5', '2@6'],
      [7, 'parallel', '0:0@7<- 1:1@7<6 2:2@7<6', '2@7'],
      [8, 'parallel', '0:0@8<- 1:1@8<7 2:2@8<7', '2@8'],
      [9, 'parallel', '0:0@9<- 1:1@9<8 2:2@9<8', '2@9'],
    ]);
  });

  it('W = 4', () => {
    const r = rows(buildSchedule({ ...base, stride: 1, warmup: 4 }));
    expect(r.slice(3, 6)).toEqual([
      [3, 'warmup', '0:0@3<- 1:1@3<3 2:2@3<3', '2@3'],
      [4, 'parallel', '0:0@4<- 1:1@4<3 2:2@4<3', '2@4'],
      [5, 'parallel', '0:0@5<- 1:1@5<4 2:2@5<4', '2@5'],
    ]);
  });

  it('time shift conditions parallel steps on index s-1 (warm-up unchanged)', () => {
    const r = rows(buildSchedule({ ...base, stride: 1, warmup: 3, timeShift: true }));
    expect(r[2]).toEqual([2, 'warmup', '0:0@2<- 1:1@2<2 2:2@2<2', '2@2']);
    expect(r[3]).toEqual([3, 'parallel', '0:0@2<- 1:1@2<2 2:2@2<2', '2@3']);
    expect(r[9]).toEqual([9, 'parallel', '0:0@8<- 1:1@8<8 2:2@8<8', '2@9']);
  });
});

describe('stride 2, N = 3 (+1 device), T = 10', () => {
  it('W = 3: rounds at odd s compute index s+1 on devices 0..2 and s on device 3; even s reuse', () => {
    expect(rows(buildSchedule({ ...base, stride: 2, warmup: 3 }))).toEqual([
      [0, 'warmup', '0:0@0<- 1:1@0<0 2:2@0<0', '2@0'],
      [1, 'warmup', '0:0@1<- 1:1@1<1 2:2@1<1', '2@1'],
      [2, 'warmup', '0:0@2<- 1:1@2<2 2:2@2<2', '2@2'],
      [3, 'parallel', '0:0@4<- 1:1@4<2 2:2@4<2 3:2@3<2', '3@3'],
      [4, 'reuse', '', '2@3'],
      [5, 'parallel', '0:0@6<- 1:1@6<3 2:2@6<3 3:2@5<3', '3@5'],
      [6, 'reuse', '', '2@5'],
      [7, 'parallel', '0:0@8<- 1:1@8<5 2:2@8<5 3:2@7<5', '3@7'],
      [8, 'reuse', '', '2@7'],
      // last step: index s, not s+1
      [9, 'parallel', '0:0@9<- 1:1@9<7 2:2@9<7 3:2@9<7', '3@9'],
    ]);
  });

  it('W = 4: the first post-warm-up step (even) reuses the last warm-up prediction', () => {
    expect(rows(buildSchedule({ ...base, stride: 2, warmup: 4 }))).toEqual([
      [0, 'warmup', '0:0@0<- 1:1@0<0 2:2@0<0', '2@0'],
      [1, 'warmup', '0:0@1<- 1:1@1<1 2:2@1<1', '2@1'],
      [2, 'warmup', '0:0@2<- 1:1@2<2 2:2@2<2', '2@2'],
      [3, 'warmup', '0:0@3<- 1:1@3<3 2:2@3<3', '2@3'],
      [4, 'reuse', '', '2@3'],
      [5, 'parallel', '0:0@6<- 1:1@6<3 2:2@6<3 3:2@5<3', '3@5'],
      [6, 'reuse', '', '2@5'],
      [7, 'parallel', '0:0@8<- 1:1@8<5 2:2@8<5 3:2@7<5', '3@7'],
      [8, 'reuse', '', '2@7'],
      [9, 'parallel', '0:0@9<- 1:1@9<7 2:2@9<7 3:2@9<7', '3@9'],
    ]);
  });

  it('time shift moves every post-warm-up index by -1', () => {
    const r = rows(buildSchedule({ ...base, stride: 2, warmup: 3, timeShift: true }));
    expect(r[3]).toEqual([3, 'parallel', '0:0@3<- 1:1@3<2 2:2@3<2 3:2@2<2', '3@3']);
    expect(r[9]).toEqual([9, 'parallel', '0:0@8<- 1:1@8<7 2:2@8<7 3:2@8<7', '3@9']);
  });
});

describe('schedule properties', () => {
  it('W ≥ T is plain sequential sampling', () => {
    for (const stride of [1, 2] as const) {
      const s = buildSchedule({ steps: 6, stages: 4, stride, warmup: 6, timeShift: false });
      expect(s.steps.every((st) => st.phase === 'warmup' && st.runs.length === 4)).toBe(true);
      expect(criticalPathUnits(s)).toBe(24);
    }
  });

  it('every eps refers to a run that happened on that device at or before the step', () => {
    for (const stride of [1, 2] as const) {
      for (const warmup of [1, 2, 3, 4, 9]) {
        for (const stages of [1, 2, 3, 4]) {
          const s = buildSchedule({ steps: 50, stages, stride, warmup, timeShift: false });
          for (const st of s.steps) {
            const producer = s.steps[st.eps.step];
            expect(st.eps.step).toBeLessThanOrEqual(st.step);
            expect(producer?.runs.some((r) => r.device === st.eps.device && r.component === stages - 1)).toBe(true);
            // parallel inputs always come from the producer's most recent run (double buffering is enough)
            for (const run of st.runs) {
              if (run.inputsFrom === null || st.phase === 'warmup') continue;
              const lastRun = [...s.steps.slice(0, st.step)].reverse().find((p) => p.runs.length > 0);
              expect(run.inputsFrom).toBe(lastRun?.step);
            }
          }
        }
      }
    }
  });

  it('critical path matches the paper: 50 steps, N=2, W=1 stride 1 costs 51 units (ideal 1.96x)', () => {
    const s = buildSchedule({ steps: 50, stages: 2, stride: 1, warmup: 1, timeShift: false });
    expect(criticalPathUnits(s)).toBe(2 + 49);
  });

  it('prints the documented JSON shape', () => {
    const json = scheduleToJson(buildSchedule({ steps: 2, stages: 2, stride: 1, warmup: 1, timeShift: false }));
    expect(json).toEqual([
      { step: 0, runs: [{ device: 0, component: 0, t: 0 }, { device: 1, component: 1, t: 0 }], eps: { device: 1, step: 0 } },
      { step: 1, runs: [{ device: 0, component: 0, t: 1 }, { device: 1, component: 1, t: 1 }], eps: { device: 1, step: 1 } },
    ]);
  });

  it.each([
    [{ steps: 0 }, 'steps'],
    [{ stages: 9 }, 'stages'],
    [{ stages: 0 }, 'stages'],
    [{ stride: 3 }, 'stride'],
    [{ warmup: 0 }, 'warmup'],
    [{ steps: 2.5 }, 'steps'],
  ] as [Partial<PlanOptions>, string][])('rejects %o naming %s', (bad, field) => {
    const o = { steps: 10, stages: 2, stride: 1, warmup: 3, timeShift: false, ...bad } as PlanOptions;
    try {
      buildSchedule(o);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidOptionError);
      expect((e as InvalidOptionError).field).toBe(field);
      expect((e as Error).message).toContain(field);
    }
  });
});
