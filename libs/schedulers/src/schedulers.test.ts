import { describe, expect, it } from 'vitest';
import { createScheduler, type Scheduler, type SchedulerState } from './index.js';
import { closedForm, loadReference, type ReferenceCase } from './test-fixtures/reference.js';

const fixture = loadReference();
const L = fixture.length;
const eps = (i: number): Float32Array => closedForm(i, fixture.salts.eps, L);
const noise = (i: number): Float32Array => closedForm(i, fixture.salts.noise, L);

/** |actual - expected| ≤ rtol·|expected| + atol, elementwise, with a useful failure message. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    const a = actual[k] as number;
    const e = expected[k] as number;
    if (!(Math.abs(a - e) <= rtol * Math.abs(e) + atol)) {
      expect.fail(`${what}[${k}]: got ${a}, reference ${e} (diff ${Math.abs(a - e)})`);
    }
  }
}

function create(c: ReferenceCase): Scheduler {
  return createScheduler(c.schedule, c.options);
}

describe.each(fixture.cases.map((c) => [c.name, c] as const))('%s vs tools/ref/schedulers_ref.py', (_name, c) => {
  it('has the reference timesteps, init noise sigma and stochasticity', () => {
    const s = create(c);
    expect(s.kind).toBe(c.options.kind);
    expect(s.steps).toBe(c.options.steps);
    expectClose(s.timesteps, c.timesteps, 1e-15, 0, 'timesteps');
    expect(s.initNoiseSigma).toBeCloseTo(c.initNoiseSigma, 10);
    expect(s.stochastic).toBe(c.stochastic);
  });

  it('matches every step to 1e-6 relative, fed the reference previous sample', () => {
    const s = create(c);
    for (let i = 0; i < c.options.steps; i++) {
      const input = Float32Array.from(i === 0 ? c.initialSample : (c.outputs[i - 1] as number[]));
      const scaled = s.scaleModelInput(input, i);
      expectClose(scaled, Array.from(input, (v) => v * (c.inputScales[i] as number)), 1e-6, 1e-12, `scaleModelInput step ${i}`);
      const out = s.step(i, input, eps(i), noise(i));
      expectClose(out, c.outputs[i] as number[], 1e-6, 1e-9, `step ${i}`);
    }
  });

  it('matches a full chained run', () => {
    const s = create(c);
    let x: Float32Array = Float32Array.from(c.initialSample);
    for (let i = 0; i < c.options.steps; i++) {
      x = s.step(i, x, eps(i), noise(i));
      expectClose(x, c.outputs[i] as number[], 1e-5, 1e-7, `chained step ${i}`);
    }
  });

  it('resumes from a JSON state snapshot in a new scheduler with identical results', () => {
    const steps = c.options.steps;
    const cut = Math.floor(steps / 2);
    const a = create(c);
    let x: Float32Array = Float32Array.from(c.initialSample);
    let state: SchedulerState | undefined;
    let atCut: Float32Array = x;
    for (let i = 0; i < steps; i++) {
      if (i === cut) {
        state = JSON.parse(JSON.stringify(a.saveState())) as SchedulerState;
        atCut = x;
      }
      x = a.step(i, x, eps(i), noise(i));
    }
    const b = create(c);
    b.loadState(state ?? b.saveState());
    let y = atCut;
    for (let i = cut; i < steps; i++) y = b.step(i, y, eps(i), noise(i));
    expect(y).toEqual(x);
  });
});

it('checks the linear training schedule against the reference ᾱ', async () => {
  const { alphasCumprod } = await import('./index.js');
  const ac = alphasCumprod({ type: 'linear', betaStart: 1e-4, betaEnd: 0.02, trainSteps: 1000 });
  expectClose([0, 1, 499, 998, 999].map((t) => ac[t] as number), fixture.alphasCumprodLinear, 1e-13, 0, 'alphasCumprod');
});
