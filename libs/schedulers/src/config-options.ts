import type { DiffusersSchedulerConfig } from './diffusers-config.js';
import { CONFIG_KNOBS, takesKnob } from './knobs.js';
import type { SchedulerKind, SchedulerOptions } from './scheduler.js';

/** Per-request DDIM knobs that diffusers passes to `step()` rather than keeping in the config. */
export interface SamplingRuntimeOptions {
  readonly eta?: number;
  readonly useClippedModelOutput?: boolean;
}

/**
 * The options for running `kind` (the package's default, or another the user picked) with
 * `steps` steps on a package whose scheduler config is `config`, as diffusers'
 * `Kind.from_config(pipe.scheduler.config)` would set it up: every setting of the file that
 * `kind`'s class takes applies (betas, spacing, offset, prediction type, …); the rest keep
 * `kind`'s own defaults. `runtime` adds the per-request DDIM knobs (ignored by other kinds).
 */
export function schedulerOptionsFromConfig(
  config: DiffusersSchedulerConfig,
  kind: SchedulerKind,
  steps: number,
  runtime: SamplingRuntimeOptions = {},
): SchedulerOptions {
  const options: SchedulerOptions = { kind, steps };
  const settings = config.settings as Record<string, unknown>;
  const target = options as unknown as Record<string, unknown>;
  for (const knob of CONFIG_KNOBS) {
    if (settings[knob] !== undefined && takesKnob(kind, knob)) target[knob] = settings[knob];
  }
  if (kind === 'ddim') {
    if (runtime.eta !== undefined) options.eta = runtime.eta;
    if (runtime.useClippedModelOutput !== undefined) options.useClippedModelOutput = runtime.useClippedModelOutput;
  }
  return options;
}
