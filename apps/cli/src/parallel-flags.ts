import { availableParallelism } from 'node:os';

import { DEFAULT_PARALLEL, devicesNeeded, resolveParallel, type ResolvedParallel } from '@asyncdiff/stages';

import { boolFlag, choiceFlag, intFlag, type ParsedFlags } from './args.js';

/** Flag definitions shared by every command that runs the engine. */
export const parallelFlagDefs = {
  mode: { type: 'string' },
  stages: { type: 'string' },
  stride: { type: 'string' },
  warmup: { type: 'string' },
  'time-shift': { type: 'boolean' },
} as const;

/**
 * Reads --mode/--stages/--stride/--warmup/--time-shift. Without --mode, AsyncDiff is used when
 * the machine has a core per device for the configuration, else sequential (oversubscribed
 * AsyncDiff is slower than sequential; `--mode async` still forces it).
 */
export function parallelFromFlags(f: ParsedFlags): { parallel: ResolvedParallel; note?: string } {
  const explicit = f.values['mode'] !== undefined;
  const mode = choiceFlag(f, 'mode', ['sequential', 'async'] as const, DEFAULT_PARALLEL.mode);
  const parallel = resolveParallel({
    mode,
    stages: intFlag(f, 'stages', DEFAULT_PARALLEL.stages, 1, 8),
    stride: Number(choiceFlag(f, 'stride', ['1', '2'] as const, String(DEFAULT_PARALLEL.stride) as '1' | '2')) as 1 | 2,
    warmup: intFlag(f, 'warmup', DEFAULT_PARALLEL.warmup, 1, 10_000),
    timeShift: boolFlag(f, 'time-shift'),
  });
  const cores = availableParallelism();
  if (!explicit && parallel.mode === 'async' && devicesNeeded(parallel) > cores) {
    return { parallel: resolveParallel({ mode: 'sequential' }), note: `${cores} core(s) < ${devicesNeeded(parallel)} devices: running sequentially (use --mode async to force)` };
  }
  return { parallel };
}
