import type { ModelPackage } from '@asyncdiff/models';
import type { SchedulerKind, SchedulerOptions } from '@asyncdiff/schedulers';

/** Scheduler options from a request and the model's defaults (knobs only where they apply). */
export function schedulerOptions(m: ModelPackage, kind: SchedulerKind, steps: number, eta?: number): SchedulerOptions {
  const d = m.defaults;
  if (kind === 'ddim') return { kind, steps, eta: eta ?? d.eta, clipSample: d.clipSample, useClippedModelOutput: d.useClippedModelOutput };
  if (kind === 'ddpm') return { kind, steps, clipSample: d.clipSample };
  return { kind, steps };
}
