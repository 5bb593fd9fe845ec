import { describe, expect, it } from 'vitest';
import { createScheduler, schedulerConfigFromDiffusers, schedulerOptionsFromConfig, type Scheduler, type SchedulerState } from './index.js';
import { loadConfigReference, type ConfigCase } from './test-fixtures/diffusers-reference.js';
import { closedForm } from './test-fixtures/reference.js';

const fixture = loadConfigReference();
const L = fixture.length;
const output = (i: number): Float32Array => closedForm(i, fixture.salts.eps, L);
const noise = (i: number): Float32Array => closedForm(i, fixture.salts.noise, L);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    const a = actual[k] as number;
    const e = expected[k] as number;
    if (!(Math.abs(a - e) <= rtol * Math.abs(e) + atol)) expect.fail(`${what}[${k}]: got ${a}, reference ${e} (diff ${Math.abs(a - e)})`);
  }
}

/** The scheduler the way a package would build it: config file → options for the chosen kind. */
function create(c: ConfigCase): Scheduler {
  const config = schedulerConfigFromDiffusers(c.config);
  return createScheduler(config.noiseSchedule, schedulerOptionsFromConfig(config, c.kind, c.steps, c.runtime));
}

function run(s: Scheduler, from: number, x: Float32Array): Float32Array {
  let y = x;
  for (let i = from; i < s.steps; i++) y = s.step(i, y, output(i), noise(i));
  return y;
}

describe.each(fixture.cases.map((c) => [c.name, c] as const))('%s vs tools/ref/schedulers_diffusers.py', (_name, c) => {
  it("has diffusers' timesteps, init noise sigma and stochasticity", () => {
    const s = create(c);
    expect(s.kind).toBe(c.kind);
    expect(s.steps).toBe(c.timesteps.length);
    c.timesteps.forEach((t, i) => {
      const got = s.timesteps[i] as number;
      if (Number.isInteger(t)) expect(got, `timestep ${i}`).toBe(t);
      else expect(Math.abs(got - t), `timestep ${i}: ${got} vs ${t}`).toBeLessThanOrEqual(1e-12 * t);
      expect(Math.fround(got), `float32 timestep ${i}`).toBe(c.timestepsFloat32[i]);
    });
    expect(Math.abs(s.initNoiseSigma - c.initNoiseSigma)).toBeLessThanOrEqual(1e-12 * c.initNoiseSigma);
    expect(s.stochastic).toBe(c.stochastic);
  });

  it('matches every step to 1e-6 relative, fed the reference previous sample', () => {
    const s = create(c);
    for (let i = 0; i < s.steps; i++) {
      const input = Float32Array.from(i === 0 ? c.initialSample : (c.outputs[i - 1] as number[]));
      const scaled = s.scaleModelInput(input, i);
      expectClose(scaled, Array.from(input, (v) => v * (c.inputScales[i] as number)), 1e-6, 1e-12, `scaleModelInput step ${i}`);
      expectClose(s.step(i, input, output(i), noise(i)), c.outputs[i] as number[], 1e-6, 1e-9, `step ${i}`);
    }
  });

  it('matches a full chained run', () => {
    const s = create(c);
    let x: Float32Array = Float32Array.from(c.initialSample);
    for (let i = 0; i < s.steps; i++) {
      x = s.step(i, x, output(i), noise(i));
      expectClose(x, c.outputs[i] as number[], 1e-5, 1e-7, `chained step ${i}`);
    }
  });

  it('resumes bit-identically from a JSON snapshot taken after any step, in a new scheduler', () => {
    const whole = create(c);
    const snapshots: { state: SchedulerState; x: Float32Array }[] = [];
    let x: Float32Array = Float32Array.from(c.initialSample);
    for (let i = 0; i < whole.steps; i++) {
      snapshots.push({ state: JSON.parse(JSON.stringify(whole.saveState())) as SchedulerState, x });
      x = whole.step(i, x, output(i), noise(i));
    }
    snapshots.forEach(({ state, x: atCut }, cut) => {
      const resumed = create(c);
      resumed.loadState(state);
      expect(run(resumed, cut, atCut), `resumed after step ${cut}`).toEqual(x);
    });
  });
});
