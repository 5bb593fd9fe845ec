import { z } from 'zod';

import { SchedulerConfigError } from './errors.js';
import type { SchedulerSettings } from './knobs.js';
import type { NoiseScheduleSpec, SchedulerKind } from './scheduler.js';

/**
 * A model package's `scheduler/scheduler_config.json` (diffusers layout), read into our terms:
 * the sampler it was published with, the training noise schedule, and the settings the file
 * states. Settings the file leaves out are absent, so that each scheduler kind falls back to its
 * own default, as diffusers' `from_config` does (see `schedulerOptionsFromConfig`).
 */
export interface DiffusersSchedulerConfig {
  /** The diffusers class named by `_class_name`, e.g. `PNDMScheduler`. */
  readonly className: string;
  /** Our kind for `className`: the package's default sampler. */
  readonly kind: SchedulerKind;
  readonly noiseSchedule: NoiseScheduleSpec;
  readonly settings: SchedulerSettings;
}

/** diffusers class names we run, and the kind each becomes. */
export const DIFFUSERS_SCHEDULER_CLASSES: Readonly<Record<string, SchedulerKind>> = Object.freeze({
  PNDMScheduler: 'pndm',
  DDIMScheduler: 'ddim',
  DDPMScheduler: 'ddpm',
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler-ancestral',
  DPMSolverMultistepScheduler: 'dpmpp-2m',
});

const flag = z.boolean().nullable().optional();
const text = z.string().optional();

/** Types of the keys we read; ranges are checked here so that the error names the key. */
const configSchema = z.looseObject({
  _class_name: z.string(),
  num_train_timesteps: z.number().int().min(2).optional(),
  beta_start: z.number().gt(0).lt(1).optional(),
  beta_end: z.number().gt(0).lt(1).optional(),
  beta_schedule: text,
  trained_betas: z.array(z.number()).nullable().optional(),
  prediction_type: text,
  timestep_spacing: text,
  steps_offset: z.number().int().min(0).optional(),
  set_alpha_to_one: z.boolean().optional(),
  clip_sample: z.boolean().optional(),
  clip_sample_range: z.number().gt(0).optional(),
  thresholding: z.boolean().optional(),
  dynamic_thresholding_ratio: z.number().optional(),
  sample_max_value: z.number().optional(),
  skip_prk_steps: z.boolean().optional(),
  interpolation_type: text,
  use_karras_sigmas: flag,
  use_exponential_sigmas: flag,
  use_beta_sigmas: flag,
  use_lu_lambdas: flag,
  use_flow_sigmas: flag,
  use_dynamic_shifting: flag,
  sigma_min: z.number().nullable().optional(),
  sigma_max: z.number().nullable().optional(),
  timestep_type: text,
  rescale_betas_zero_snr: z.boolean().optional(),
  final_sigmas_type: text,
  solver_order: z.number().int().optional(),
  algorithm_type: text,
  solver_type: text,
  lower_order_final: z.boolean().optional(),
  euler_at_final: z.boolean().optional(),
  lambda_min_clipped: z.union([z.number(), z.literal('-Infinity')]).optional(),
  variance_type: z.string().nullable().optional(),
});

type RawConfig = z.infer<typeof configSchema>;

/**
 * Reads a diffusers `scheduler_config.json` (its text, or the parsed object). Keys we do not know
 * are ignored, as diffusers ignores keys a class does not take; `_`-prefixed keys are metadata.
 * Throws `SchedulerConfigError` naming the key: `INVALID_CONFIG` for a malformed value,
 * `UNSUPPORTED_CONFIG` for a value these schedulers do not implement (thresholding, trained
 * betas, zero-SNR rescaling, exponential/beta/Lu/flow sigmas, log-linear interpolation, DPM-Solver
 * orders other than 2 or algorithms other than dpmsolver++, an unsupported `_class_name`, …).
 */
export function schedulerConfigFromDiffusers(json: unknown): DiffusersSchedulerConfig {
  const parsed = configSchema.safeParse(typeof json === 'string' ? parseConfigText(json) : json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0] === undefined ? '(root)' : String(issue.path[0]);
    throw new SchedulerConfigError('INVALID_CONFIG', key, `is invalid: ${issue?.message ?? 'not an object'}`);
  }
  const c = parsed.data;
  const kind = DIFFUSERS_SCHEDULER_CLASSES[c._class_name];
  if (kind === undefined) {
    throw new SchedulerConfigError(
      'UNSUPPORTED_CONFIG',
      '_class_name',
      `${c._class_name} is not supported; supported: ${Object.keys(DIFFUSERS_SCHEDULER_CLASSES).join(', ')}`,
    );
  }
  refuseUnsupported(c);
  const betaStart = c.beta_start ?? 0.0001;
  const betaEnd = c.beta_end ?? 0.02;
  if (betaEnd < betaStart) throw new SchedulerConfigError('INVALID_CONFIG', 'beta_end', `${betaEnd} is below beta_start ${betaStart}`);
  const noiseSchedule: NoiseScheduleSpec = {
    type: pick(c, 'beta_schedule', { linear: 'linear', scaled_linear: 'scaled-linear', squaredcos_cap_v2: 'squaredcos-cap-v2' } as const) ?? 'linear',
    betaStart,
    betaEnd,
    trainSteps: c.num_train_timesteps ?? 1000,
  };
  const settings: SchedulerSettings = {
    ...defined('prediction', pick(c, 'prediction_type', { epsilon: 'epsilon', v_prediction: 'v-prediction', sample: 'sample' } as const)),
    ...defined('timestepSpacing', pick(c, 'timestep_spacing', { leading: 'leading', trailing: 'trailing', linspace: 'linspace' } as const)),
    ...defined('stepsOffset', c.steps_offset),
    ...defined('setAlphaToOne', c.set_alpha_to_one),
    ...defined('clipSample', c.clip_sample),
    ...defined('clipSampleRange', c.clip_sample_range),
    ...defined('skipPrkSteps', c.skip_prk_steps),
    ...defined('useKarrasSigmas', c.use_karras_sigmas ?? undefined),
    ...defined('finalSigmasType', pick(c, 'final_sigmas_type', { zero: 'zero', sigma_min: 'sigma-min' } as const)),
    ...defined('solverType', pick(c, 'solver_type', { midpoint: 'midpoint', heun: 'heun' } as const)),
    ...defined('lowerOrderFinal', c.lower_order_final),
    ...defined('eulerAtFinal', c.euler_at_final),
  };
  return { className: c._class_name, kind, noiseSchedule, settings };
}

/** Values diffusers accepts that these schedulers do not implement: refused, naming the key. */
function refuseUnsupported(c: RawConfig): void {
  const refuse = (key: string, detail: string): never => {
    throw new SchedulerConfigError('UNSUPPORTED_CONFIG', key, detail);
  };
  if (c.trained_betas != null) refuse('trained_betas', 'is not supported (give beta_schedule, beta_start and beta_end)');
  if (c.thresholding === true) refuse('thresholding', 'true (dynamic thresholding) is not supported');
  if (c.rescale_betas_zero_snr === true) refuse('rescale_betas_zero_snr', 'true is not supported');
  for (const key of ['use_exponential_sigmas', 'use_beta_sigmas', 'use_lu_lambdas', 'use_flow_sigmas', 'use_dynamic_shifting'] as const) {
    if (c[key] === true) refuse(key, 'true is not supported');
  }
  for (const key of ['sigma_min', 'sigma_max'] as const) if (c[key] != null) refuse(key, 'is not supported (only null: the training range)');
  if (c.interpolation_type !== undefined && c.interpolation_type !== 'linear') refuse('interpolation_type', `'${c.interpolation_type}' is not supported (linear only)`);
  if (c.timestep_type !== undefined && c.timestep_type !== 'discrete') refuse('timestep_type', `'${c.timestep_type}' is not supported (discrete only)`);
  if (c.solver_order !== undefined && c.solver_order !== 2) refuse('solver_order', `${c.solver_order} is not supported (2 only: DPM-Solver++(2M))`);
  if (c.algorithm_type !== undefined && c.algorithm_type !== 'dpmsolver++') refuse('algorithm_type', `'${c.algorithm_type}' is not supported (dpmsolver++ only)`);
  if (c.lambda_min_clipped !== undefined && c.lambda_min_clipped !== '-Infinity') refuse('lambda_min_clipped', 'is not supported (only -inf)');
  if (c.variance_type != null && c.variance_type !== 'fixed_small') refuse('variance_type', `'${c.variance_type}' is not supported (fixed_small only)`);
}

/** Maps a string value of `key` through `names`; absent → undefined; anything else is refused. */
function pick<T extends string>(c: RawConfig, key: keyof RawConfig & string, names: Readonly<Record<string, T>>): T | undefined {
  const value = c[key];
  if (value === undefined) return undefined;
  const mapped = typeof value === 'string' && Object.hasOwn(names, value) ? names[value] : undefined;
  if (mapped === undefined) {
    throw new SchedulerConfigError('UNSUPPORTED_CONFIG', key, `'${String(value)}' is not supported; supported: ${Object.keys(names).join(', ')}`);
  }
  return mapped;
}

function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * JSON.parse for configs written by Python's json module, which spells -inf / inf / nan as bare
 * `-Infinity` / `Infinity` / `NaN` (e.g. DPM-Solver's lambda_min_clipped): those become strings.
 */
function parseConfigText(text: string): unknown {
  const tolerant = text.replace(/"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)/g, (match, bare: string | undefined) => (bare === undefined ? match : JSON.stringify(bare)));
  try {
    return JSON.parse(tolerant) as unknown;
  } catch (e) {
    throw new SchedulerConfigError('INVALID_CONFIG', '(file)', `is not JSON: ${(e as Error).message}`);
  }
}
