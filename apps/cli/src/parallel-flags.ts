import { availableParallelism } from 'node:os';

import { COMPENSATIONS } from '@asyncdiff/asyncdiff';
import { DEFAULT_PARALLEL, PARALLEL_MODES, devicesNeeded, isStale, resolveParallel, type ResolvedParallel } from '@asyncdiff/engine';

import { boolFlag, choiceFlag, intFlag, type ParsedFlags } from './args.js';

/** Flag definitions shared by every command that runs the engine. */
export const parallelFlagDefs = {
  mode: { type: 'string' },
  stages: { type: 'string' },
  stride: { type: 'string' },
  warmup: { type: 'string' },
  'time-shift': { type: 'boolean' },
  compensate: { type: 'string' },
} as const;

/**
 * Reads --mode (sequential | async | cfg | hybrid)/--stages/--stride/--warmup/--time-shift/--compensate
 * (none | linear | quadratic: staleness compensation of AsyncDiff's parallel steps). Without --mode, AsyncDiff is used when
 * the machine has a core per device for the configuration, else sequential (oversubscribed
 * AsyncDiff is slower than sequential; `--mode async` still forces it).
 */
export function parallelFromFlags(f: ParsedFlags): { parallel: ResolvedParallel; note?: string } {
  const explicit = f.values['mode'] !== undefined;
  const mode = choiceFlag(f, 'mode', PARALLEL_MODES, DEFAULT_PARALLEL.mode);
  const parallel = resolveParallel({
    mode,
    stages: intFlag(f, 'stages', DEFAULT_PARALLEL.stages, 1, 8),
    stride: Number(choiceFlag(f, 'stride', ['1', '2'] as const, String(DEFAULT_PARALLEL.stride) as '1' | '2')) as 1 | 2,
    warmup: intFlag(f, 'warmup', DEFAULT_PARALLEL.warmup, 1, 10_000),
    timeShift: boolFlag(f, 'time-shift'),
    compensation: choiceFlag(f, 'compensate', COMPENSATIONS, DEFAULT_PARALLEL.compensation),
  });
  const cores = availableParallelism();
  if (!explicit && isStale(parallel.mode) && devicesNeeded(parallel) > cores) {
    return { parallel: resolveParallel({ mode: 'sequential' }), note: `${cores} core(s) < ${devicesNeeded(parallel)} devices: running sequentially (use --mode async to force)` };
  }
  return { parallel };
}
