import { describe, expect, it } from 'vitest';

import { createScheduler, predictOriginalSample, type NoiseScheduleSpec, type PredictionType, type SchedulerKind } from './index.js';

const LINEAR: NoiseScheduleSpec = { type: 'linear', betaStart: 1e-4, betaEnd: 0.02, trainSteps: 1000 };

/** A deterministic, non-trivial test vector. */
const wave = (n: number, phase: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + phase) * 1.7);

describe('predictOriginalSample (hand-computed at ᾱ = 0.64: √ᾱ = 0.8, √(1-ᾱ) = 0.6)', () => {
  const x = Float32Array.of(1, -0.5, 0);
  const m = Float32Array.of(0.5, 1, -2);
  it('ε-prediction: (x - 0.6·ε)/0.8', () => {
    expect(Array.from(predictOriginalSample('epsilon', 0.64, x, m))).toEqual([0.875, -1.375, 1.5].map(Math.fround));
  });
  it('v-prediction: 0.8·x - 0.6·v', () => {
    expect(Array.from(predictOriginalSample('v-prediction', 0.64, x, m))).toEqual([0.5, -1, 1.2].map(Math.fround));
  });
  it('x0-prediction: the output itself (a copy)', () => {
    const out = predictOriginalSample('sample', 0.64, x, m);
    expect(out).toEqual(m);
    expect(out).not.toBe(m);
  });
});

describe('Scheduler.predictOriginal', () => {
  it('equals the last DDIM step (η = 0, ᾱ_prev = 1, no clipping), for ε and v', () => {
    for (const prediction of ['epsilon', 'v-prediction'] as const) {
      const s = createScheduler(LINEAR, { kind: 'ddim', steps: 10, clipSample: false, prediction });
      const x = wave(32, 0.1);
      const m = wave(32, 2.0);
      const last = s.steps - 1;
      const x0 = s.predictOriginal(last, x, m);
      const stepped = s.step(last, x, m);
      for (let i = 0; i < x.length; i++) expect(x0[i]).toBeCloseTo(stepped[i] as number, 5);
    }
  });

  it('equals the last Euler and DPM++(2M) step (final σ = 0 lands on x̂0)', () => {
    for (const kind of ['euler', 'dpmpp-2m'] as const satisfies readonly SchedulerKind[]) {
      for (const prediction of ['epsilon', 'v-prediction'] as const satisfies readonly PredictionType[]) {
        const s = createScheduler(LINEAR, { kind, steps: 6, prediction });
        const x = wave(16, 0.4);
        let y = x;
        for (let i = 0; i < s.steps - 1; i++) y = s.step(i, y, wave(16, i));
        const last = s.steps - 1;
        const m = wave(16, 5);
        const x0 = s.predictOriginal(last, y, m);
        const stepped = s.step(last, y, m);
        for (let i = 0; i < x.length; i++) expect(x0[i], `${kind} ${prediction} [${i}]`).toBeCloseTo(stepped[i] as number, 4);
      }
    }
  });

  it('brings σ-space samples to variance-preserving space: Euler ε at step 0 is x - σ_max·ε', () => {
    const s = createScheduler(LINEAR, { kind: 'euler', steps: 8 });
    const sigmaMax = s.initNoiseSigma; // linspace spacing: init σ = σ of step 0
    const x = wave(8, 0.3);
    const m = wave(8, 1.1);
    const x0 = s.predictOriginal(0, x, m);
    for (let i = 0; i < x.length; i++) expect(x0[i]).toBeCloseTo((x[i] as number) - sigmaMax * (m[i] as number), 4);
  });

  it('changes no scheduler state: a run with previews between steps equals one without', () => {
    for (const kind of ['dpmpp-2m', 'pndm', 'ddim'] as const) {
      const a = createScheduler(LINEAR, { kind, steps: 5 });
      const b = createScheduler(LINEAR, { kind, steps: 5 });
      let xa = wave(12, 0.2);
      let xb = xa;
      for (let i = 0; i < a.steps; i++) {
        const m = wave(12, 3 * i);
        b.predictOriginal(i, xb, m);
        xa = a.step(i, xa, m);
        xb = b.step(i, xb, m);
      }
      expect(xb).toEqual(xa);
    }
  });

  it('rejects a step index out of range and outputs of the wrong length, naming the argument', () => {
    const s = createScheduler(LINEAR, { kind: 'ddim', steps: 4 });
    expect(() => s.predictOriginal(4, new Float32Array(2), new Float32Array(2))).toThrow(expect.objectContaining({ code: 'STEP_OUT_OF_RANGE', field: 'stepIndex' }));
    expect(() => s.predictOriginal(0, new Float32Array(2), new Float32Array(3))).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', field: 'output' }));
  });
});
