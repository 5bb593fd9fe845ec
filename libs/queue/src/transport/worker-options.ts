import { hostname } from 'node:os';

import { InvalidArgumentError } from '../domain/errors.js';
import type { JobWorkerOptions, ResolvedJobWorkerOptions } from './job-worker.js';
import { JOB_KINDS } from '../domain/job-spec.js';
import { positiveInt } from './options.js';

/** Applies the worker defaults (see `JobWorkerOptions`); a bad value throws naming it. */
export function resolveJobWorkerOptions(options: JobWorkerOptions): ResolvedJobWorkerOptions {
  if (!JOB_KINDS.includes(options.queue)) throw new InvalidArgumentError('queue', `must be one of ${JOB_KINDS.join(', ')}`, 'INVALID_OPTIONS');
  if (typeof options.handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function', 'INVALID_OPTIONS');
  const lockDurationMs = positiveInt('lockDurationMs', options.lockDurationMs, 30_000, 1000);
  return {
    queue: options.queue,
    hostId: options.hostId ?? `${hostname()}/${process.pid}`,
    concurrency: positiveInt('concurrency', options.concurrency, 1),
    lockDurationMs,
    stalledIntervalMs: positiveInt('stalledIntervalMs', options.stalledIntervalMs, 30_000, 1000),
    maxStalledCount: positiveInt('maxStalledCount', options.maxStalledCount, 2, 0),
    shutdownGraceMs: positiveInt('shutdownGraceMs', options.shutdownGraceMs, 0, 0),
    autorun: options.autorun ?? true,
    progressIntervalMs: positiveInt('progressIntervalMs', options.progressIntervalMs, 0, 0),
  };
}
