import { describe, expect, it } from 'vitest';
import {
  createScheduler,
  DIFFUSERS_SCHEDULER_CLASSES,
  SchedulerConfigError,
  schedulerConfigFromDiffusers,
  schedulerOptionsFromConfig,
  type DiffusersSchedulerConfig,
} from './index.js';
import { packageConfigText } from './test-fixtures/diffusers-reference.js';

const scaledLinear = { type: 'scaled-linear', betaStart: 0.00085, betaEnd: 0.012, trainSteps: 1000 } as const;
const sd15 = (): Record<string, unknown> => JSON.parse(packageConfigText('sd15')) as Record<string, unknown>;

function configError(json: unknown): SchedulerConfigError {
  try {
    schedulerConfigFromDiffusers(json);
  } catch (e) {
    expect(e).toBeInstanceOf(SchedulerConfigError);
    return e as SchedulerConfigError;
  }
  return expect.fail('expected SchedulerConfigError');
}

describe('schedulerConfigFromDiffusers on real packages', () => {
  it('reads SD 1.5 (PNDM, PLMS, offset 1, no spacing key)', () => {
    const c = schedulerConfigFromDiffusers(packageConfigText('sd15'));
    expect(c).toEqual({
      className: 'PNDMScheduler',
      kind: 'pndm',
      noiseSchedule: scaledLinear,
      settings: { prediction: 'epsilon', stepsOffset: 1, setAlphaToOne: false, clipSample: false, clipSampleRange: 1, skipPrkSteps: true },
    });
    const s = createScheduler(c.noiseSchedule, schedulerOptionsFromConfig(c, c.kind, 50));
    expect(s.steps).toBe(51);
    expect(Array.from(s.timesteps.slice(0, 4))).toEqual([981, 961, 961, 941]);
    expect(s.timesteps[50]).toBe(1);
  });

  it('reads SD 2.1 768 (DDIM, v-prediction, leading by default)', () => {
    const c = schedulerConfigFromDiffusers(packageConfigText('sd21'));
    expect(c.kind).toBe('ddim');
    expect(c.noiseSchedule).toEqual(scaledLinear);
    expect(c.settings).toEqual({ prediction: 'v-prediction', stepsOffset: 1, setAlphaToOne: false, clipSample: false, skipPrkSteps: true });
    const options = schedulerOptionsFromConfig(c, 'ddim', 50, { eta: 0.5 });
    expect(options).toEqual({ kind: 'ddim', steps: 50, prediction: 'v-prediction', stepsOffset: 1, setAlphaToOne: false, clipSample: false, eta: 0.5 });
    const s = createScheduler(c.noiseSchedule, options);
    expect([s.timesteps[0], s.timesteps[49]]).toEqual([981, 1]);
  });

  it('reads SDXL base (Euler, leading, init σ = √(σ_max² + 1))', () => {
    const c = schedulerConfigFromDiffusers(packageConfigText('sdxl'));
    expect(c.kind).toBe('euler');
    expect(c.settings).toMatchObject({ prediction: 'epsilon', timestepSpacing: 'leading', stepsOffset: 1, useKarrasSigmas: false });
    const s = createScheduler(c.noiseSchedule, schedulerOptionsFromConfig(c, 'euler', 30));
    expect([s.timesteps[0], s.timesteps[29]]).toEqual([958, 1]);
    expect(s.initNoiseSigma).toBeGreaterThan(1);
  });

  it("hands each kind only the settings its diffusers class takes (from_config), the rest keep the kind's defaults", () => {
    const c = schedulerConfigFromDiffusers(packageConfigText('sd15'));
    expect(schedulerOptionsFromConfig(c, 'euler', 20)).toEqual({ kind: 'euler', steps: 20, prediction: 'epsilon', stepsOffset: 1 });
    expect(schedulerOptionsFromConfig(c, 'ddpm', 20)).toEqual({ kind: 'ddpm', steps: 20, prediction: 'epsilon', stepsOffset: 1, clipSample: false, clipSampleRange: 1 });
    expect(schedulerOptionsFromConfig(c, 'euler', 20, { eta: 1 })).not.toHaveProperty('eta');
    // Euler's own default spacing (linspace) applies, as diffusers' EulerDiscreteScheduler.from_config gives it.
    const euler = createScheduler(c.noiseSchedule, schedulerOptionsFromConfig(c, 'euler', 20));
    expect(euler.timesteps[0]).toBe(999);
    const xl = schedulerConfigFromDiffusers(packageConfigText('sdxl'));
    const ddim = createScheduler(xl.noiseSchedule, schedulerOptionsFromConfig(xl, 'ddim', 50));
    expect([ddim.timesteps[0], ddim.timesteps[49]]).toEqual([981, 1]);
    for (const kind of ['ddim', 'ddpm', 'euler', 'euler-ancestral', 'dpmpp-2m', 'pndm'] as const) {
      for (const pkg of ['sd15', 'sd21', 'sdxl'] as const) {
        const config = schedulerConfigFromDiffusers(packageConfigText(pkg));
        expect(() => createScheduler(config.noiseSchedule, schedulerOptionsFromConfig(config, kind, 25)), `${pkg} → ${kind}`).not.toThrow();
      }
    }
  });

  it('maps every supported class, and fills diffusers defaults for absent schedule keys', () => {
    for (const [className, kind] of Object.entries(DIFFUSERS_SCHEDULER_CLASSES)) {
      const c: DiffusersSchedulerConfig = schedulerConfigFromDiffusers({ _class_name: className });
      expect(c.kind).toBe(kind);
      expect(c.noiseSchedule).toEqual({ type: 'linear', betaStart: 0.0001, betaEnd: 0.02, trainSteps: 1000 });
      expect(c.settings).toEqual({});
    }
  });

  it("reads Python's -Infinity (DPM-Solver's lambda_min_clipped) and the other DPM++ keys", () => {
    const text = `{"_class_name": "DPMSolverMultistepScheduler", "_diffusers_version": "0.27.0", "algorithm_type": "dpmsolver++",
      "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "euler_at_final": false, "final_sigmas_type": "zero",
      "lambda_min_clipped": -Infinity, "lower_order_final": true, "solver_order": 2, "solver_type": "heun", "use_karras_sigmas": true,
      "use_lu_lambdas": false, "variance_type": null, "timestep_spacing": "linspace", "note": "a -Infinity inside a string stays"}`;
    const c = schedulerConfigFromDiffusers(text);
    expect(c.kind).toBe('dpmpp-2m');
    expect(c.settings).toEqual({
      timestepSpacing: 'linspace',
      useKarrasSigmas: true,
      finalSigmasType: 'zero',
      solverType: 'heun',
      lowerOrderFinal: true,
      eulerAtFinal: false,
    });
  });
});

describe('schedulerConfigFromDiffusers refuses what it cannot run, naming the key', () => {
  const unsupported: [string, Record<string, unknown>][] = [
    ['_class_name', { _class_name: 'LMSDiscreteScheduler' }],
    ['thresholding', { thresholding: true }],
    ['rescale_betas_zero_snr', { rescale_betas_zero_snr: true }],
    ['trained_betas', { trained_betas: [0.001, 0.002] }],
    ['beta_schedule', { beta_schedule: 'sigmoid' }],
    ['prediction_type', { prediction_type: 'flow_prediction' }],
    ['timestep_spacing', { timestep_spacing: 'even' }],
    ['interpolation_type', { interpolation_type: 'log_linear' }],
    ['timestep_type', { timestep_type: 'continuous' }],
    ['use_exponential_sigmas', { use_exponential_sigmas: true }],
    ['use_beta_sigmas', { use_beta_sigmas: true }],
    ['use_lu_lambdas', { use_lu_lambdas: true }],
    ['sigma_min', { sigma_min: 0.002 }],
    ['final_sigmas_type', { final_sigmas_type: 'max' }],
    ['solver_order', { solver_order: 3 }],
    ['algorithm_type', { algorithm_type: 'sde-dpmsolver++' }],
    ['solver_type', { solver_type: 'bh2' }],
    ['lambda_min_clipped', { lambda_min_clipped: -5.1 }],
    ['variance_type', { variance_type: 'learned_range' }],
  ];
  it.each(unsupported)('%s → UNSUPPORTED_CONFIG', (key, patch) => {
    const e = configError({ ...sd15(), ...patch });
    expect(e.code).toBe('UNSUPPORTED_CONFIG');
    expect(e.field).toBe(key);
    expect(e.message).toContain(key);
    expect(e.retryable).toBe(false);
  });

  it('lists the supported classes when _class_name is not one', () => {
    const e = configError({ _class_name: 'UniPCMultistepScheduler' });
    for (const name of Object.keys(DIFFUSERS_SCHEDULER_CLASSES)) expect(e.message).toContain(name);
  });

  const invalid: [string, unknown][] = [
    ['_class_name', { beta_start: 0.00085 }],
    ['_class_name', { _class_name: ['PNDMScheduler'] }],
    ['steps_offset', { ...sd15(), steps_offset: -1 }],
    ['steps_offset', { ...sd15(), steps_offset: 1.5 }],
    ['num_train_timesteps', { ...sd15(), num_train_timesteps: 'many' }],
    ['beta_start', { ...sd15(), beta_start: 0 }],
    ['beta_end', { ...sd15(), beta_end: 0.0001 }],
    ['clip_sample_range', { ...sd15(), clip_sample_range: 0 }],
    ['use_karras_sigmas', { ...sd15(), use_karras_sigmas: 'yes' }],
    ['skip_prk_steps', { ...sd15(), skip_prk_steps: 1 }],
    ['(root)', null],
    ['(root)', [sd15()]],
    ['(file)', '{"_class_name": "PNDMScheduler",'],
  ];
  it.each(invalid)('%s malformed → INVALID_CONFIG', (key, json) => {
    const e = configError(json);
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.field).toBe(key);
    expect(e.message).toContain(key);
  });

  it('ignores keys it does not know, as diffusers ignores keys a class does not take', () => {
    expect(schedulerConfigFromDiffusers({ ...sd15(), some_future_key: 3 }).settings).toEqual(schedulerConfigFromDiffusers(sd15()).settings);
  });
});
