import { assertNever } from './assert-never.js';
import { DdimScheduler } from './ddim.js';
import { DdpmScheduler } from './ddpm.js';
import { DpmSolverPP2MScheduler } from './dpmpp-2m.js';
import { EulerAncestralScheduler } from './euler-ancestral.js';
import { EulerScheduler } from './euler.js';
import { alphasCumprod } from './noise-schedule.js';
import { resolveSchedulerSetup } from './options.js';
import { PndmScheduler } from './pndm.js';
import type { NoiseScheduleSpec, Scheduler, SchedulerOptions } from './scheduler.js';

/**
 * A fresh scheduler for one sampling run of a model trained with `schedule`. Throws
 * `InvalidSchedulerOptionError` (naming the option) for invalid options.
 */
export function createScheduler(schedule: NoiseScheduleSpec, options: SchedulerOptions): Scheduler {
  const resolved = resolveSchedulerSetup(schedule, options);
  const ac = alphasCumprod(schedule);
  switch (resolved.kind) {
    case 'ddim':
      return new DdimScheduler(ac, resolved);
    case 'ddpm':
      return new DdpmScheduler(ac, resolved);
    case 'euler':
      return new EulerScheduler(ac, resolved);
    case 'euler-ancestral':
      return new EulerAncestralScheduler(ac, resolved);
    case 'dpmpp-2m':
      return new DpmSolverPP2MScheduler(ac, resolved, schedule.type);
    case 'pndm':
      return new PndmScheduler(ac, resolved);
    default:
      return assertNever(resolved.kind);
  }
}
