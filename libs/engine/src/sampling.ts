import type { GeneratorPackage } from '@asyncdiff/models';
import { createScheduler, schedulerConfigFromDiffusers, schedulerOptionsFromConfig, type Scheduler, type SchedulerKind } from '@asyncdiff/schedulers';

import { schedulerOptions } from './scheduler-options.js';

/** A package's sampling side: its defaults and how to make a fresh scheduler for a generation. */
export interface Sampling {
  readonly defaults: { readonly steps: number; readonly guidance: number; readonly scheduler: SchedulerKind };
  /** A fresh (stateful) scheduler for one generation. */
  create(kind: SchedulerKind, steps: number, eta?: number): Scheduler;
}

/**
 * Our packages sample with their model.json noise schedule and defaults; diffusers packages with
 * their scheduler_config.json applied to whichever scheduler is asked for, as diffusers'
 * `Scheduler.from_config(pipe.scheduler.config)` does (betas, spacing, offset, prediction type).
 */
export function samplingOf(model: GeneratorPackage): Sampling {
  if (model.format === 'asyncdiff') {
    return {
      defaults: model.defaults,
      create: (kind, steps, eta) => createScheduler(model.noiseSchedule, schedulerOptions(model, kind, steps, eta)),
    };
  }
  const config = schedulerConfigFromDiffusers(model.schedulerConfig);
  return {
    defaults: { steps: model.defaults.steps, guidance: model.defaults.guidance, scheduler: config.kind },
    create: (kind, steps, eta) => createScheduler(config.noiseSchedule, schedulerOptionsFromConfig(config, kind, steps, eta === undefined ? {} : { eta })),
  };
}
