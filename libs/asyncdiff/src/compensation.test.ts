import { describe, expect, it } from 'vitest';

import { combineInto, extrapolationWeights, isIdentity } from './compensation.js';
import { InvalidOptionError } from './errors.js';
import { buildSchedule, type Schedule } from './plan.js';
import { rewarmAt } from './rewarm.js';

const close = (got: number[], want: number[]): void => {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 12));
};

describe('extrapolationWeights', () => {
  it('first order on uniform timesteps (DDIM) is 2·h₁ − h₂, the issue formula', () => {
    close(extrapolationWeights(959, [979, 999]), [2, -1]);
    // h ≈ h₁ + (h₁ − h₂)(t − t₁)/(t₁ − t₂) on uneven spacing
    const [t, t1, t2] = [500, 700, 800];
    const r = (t - t1) / (t1 - t2);
    close(extrapolationWeights(t, [t1, t2]), [1 + r, -r]);
  });

  it('second order on uniform timesteps is 3h₁ − 3h₂ + h₃', () => {
    close(extrapolationWeights(7, [8, 9, 10]), [3, -3, 1]);
  });

  it('reproduces a quadratic exactly at the target, from uneven points', () => {
    const f = (t: number): number => 0.3 * t * t - 2 * t + 5;
    const at = [0.61, 0.8, 1.3];
    const w = extrapolationWeights(0.4, at);
    expect(w.reduce((a, wi, i) => a + wi * f(at[i]!), 0)).toBeCloseTo(f(0.4), 10);
  });

  it('damping blends towards the stale input: 0 is none, 1 the full polynomial', () => {
    close(extrapolationWeights(3, [4, 5], 0.5), [1.5, -0.5]);
    close(extrapolationWeights(3, [4, 5], 0), [1, 0]);
  });

  it('a repeated timestep (PNDM) is dropped; no distinct older one falls back to the stale input', () => {
    close(extrapolationWeights(6, [7, 7, 8]), [2, 0, -1]);
    close(extrapolationWeights(6, [7, 7]), [1, 0]);
    close(extrapolationWeights(6, [7]), [1]);
    expect(isIdentity(extrapolationWeights(6, [7, 7]))).toBe(true);
  });

  it('lowers the order rather than amplifying nearly coincident timesteps', () => {
    const w = extrapolationWeights(0, [10, 10.01, 20]);
    expect(w.every((x) => Math.abs(x) <= 16)).toBe(true);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});

describe('combineInto', () => {
  it('writes Σ w_j·src_j for 1, 2, 3 and 4 sources', () => {
    const src = [Float32Array.of(1, 2), Float32Array.of(3, 5), Float32Array.of(-1, 4), Float32Array.of(2, 2)];
    for (let k = 1; k <= 4; k++) {
      const w = [2, -1, 0.5, 3].slice(0, k);
      const dst = new Float32Array(2);
      combineInto(dst, src.slice(0, k), w);
      for (let i = 0; i < 2; i++) expect(dst[i]).toBeCloseTo(w.reduce((a, wj, j) => a + wj * src[j]![i]!, 0), 6);
    }
  });
});

/** "step:device<history as step@t,…" for every run that has a history. */
function histories(s: Schedule): string[] {
  return s.steps.flatMap((st) => st.runs.filter((r) => r.history).map((r) => `${st.step}:${r.device}<${r.history!.map((h) => `${h.step}@${h.t}`).join(',')}`));
}

describe('schedule history (compensated runs)', () => {
  it('stride 1: consumers combine the producer outputs of s-1 and s-2; C_0 and warm-up steps never compensate', () => {
    const s = buildSchedule({ steps: 6, stages: 2, stride: 1, warmup: 2, timeShift: false, compensation: 'linear' });
    expect(histories(s)).toEqual(['2:1<1@1,0@0', '3:1<2@2,1@1', '4:1<3@3,2@2', '5:1<4@4,3@3']);
  });

  it('quadratic uses three outputs once they exist', () => {
    const s = buildSchedule({ steps: 5, stages: 3, stride: 1, warmup: 2, timeShift: false, compensation: 'quadratic' });
    expect(histories(s)).toEqual(['2:1<1@1,0@0', '2:2<1@1,0@0', '3:1<2@2,1@1,0@0', '3:2<2@2,1@1,0@0', '4:1<3@3,2@2,1@1', '4:2<3@3,2@2,1@1']);
  });

  it('W = 1: the first parallel step has one output only and reads it as is', () => {
    const s = buildSchedule({ steps: 4, stages: 2, stride: 1, warmup: 1, timeShift: false, compensation: 'linear' });
    expect(histories(s)).toEqual(['2:1<1@1,0@0', '3:1<2@2,1@1']);
  });

  it('time shift: each output carries the timestep index it was made with', () => {
    const s = buildSchedule({ steps: 5, stages: 2, stride: 1, warmup: 2, timeShift: true, compensation: 'linear' });
    expect(histories(s)).toEqual(['2:1<1@1,0@0', '3:1<2@1,1@1', '4:1<3@2,2@1']);
  });

  it('stride 2: rounds combine the previous rounds (made one index ahead); the extra device too', () => {
    const s = buildSchedule({ steps: 9, stages: 2, stride: 2, warmup: 3, timeShift: false, compensation: 'linear' });
    expect(histories(s)).toEqual(['3:1<2@2,1@1', '3:2<2@2,1@1', '5:1<3@4,2@2', '5:2<3@4,2@2', '7:1<5@6,3@4', '7:2<5@6,3@4']);
  });

  it('none and W ≥ T attach nothing (W ≥ T stays exactly sequential)', () => {
    expect(histories(buildSchedule({ steps: 6, stages: 2, stride: 1, warmup: 2, timeShift: false }))).toEqual([]);
    expect(histories(buildSchedule({ steps: 6, stages: 2, stride: 1, warmup: 6, timeShift: false, compensation: 'quadratic' }))).toEqual([]);
  });

  it('a re-warm forgets the outputs before it', () => {
    const s = rewarmAt(buildSchedule({ steps: 8, stages: 2, stride: 1, warmup: 2, timeShift: false, compensation: 'linear' }), 4);
    expect(histories(s).filter((h) => Number(h.split(':')[0]) >= 4)).toEqual(['6:1<5@5,4@4', '7:1<6@6,5@5']);
  });

  it('an unknown kind is an invalid option naming the field', () => {
    const bad = () => buildSchedule({ steps: 6, stages: 2, stride: 1, warmup: 2, timeShift: false, compensation: 'cubic' as never });
    expect(bad).toThrow(InvalidOptionError);
    expect(bad).toThrow(/compensation must be one of none, linear, quadratic/);
  });
});
