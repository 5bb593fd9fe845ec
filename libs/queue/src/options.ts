import { InvalidArgumentError } from './errors.js';
import { DEFAULT_REDIS_URL } from './redis.js';

/** Key prefix of everything we store, in a hash tag so every key lands in one Redis Cluster slot. */
export const DEFAULT_PREFIX = '{asyncdiff}';

/** Settings shared by the API side (`createJobClient`) and the worker side (`createJobWorker`). */
export interface QueueOptions {
  /** Redis URL. @defaultValue `redis://127.0.0.1:6379` (read `REDIS_URL` at the edge with `redisUrlFromEnv`) */
  connection?: string;
  /** BullMQ prefix and prefix of our own keys. Keep a `{hash tag}` for Redis Cluster. @defaultValue `{asyncdiff}` */
  prefix?: string;
  /** How long a job record lives after its last change. @defaultValue 7 days */
  recordTtlSec?: number;
  /** How long an `Idempotency-Key` maps to its job. @defaultValue 24 hours */
  idempotencyTtlSec?: number;
  /** Runs per job before it fails for good (retryable errors only). @defaultValue 3 */
  attempts?: number;
  /** First retry delay; doubles each retry (BullMQ exponential backoff). @defaultValue 2000 */
  backoffDelayMs?: number;
  /** BullMQ keeps completed jobs this long… @defaultValue 1 hour */
  removeOnCompleteAgeSec?: number;
  /** …and at most this many. @defaultValue 1000 */
  removeOnCompleteCount?: number;
  /** BullMQ keeps failed jobs this long… @defaultValue 7 days */
  removeOnFailAgeSec?: number;
  /** …and at most this many. @defaultValue 5000 */
  removeOnFailCount?: number;
  /** A non-terminal record unchanged this long is checked against BullMQ on read. @defaultValue 15000 */
  reconcileAfterMs?: number;
  /** Delivery attempts per webhook. @defaultValue 8 */
  webhookAttempts?: number;
  /** First webhook retry delay; doubles each retry. @defaultValue 1000 */
  webhookBackoffDelayMs?: number;
}

/** `QueueOptions` with every default applied. */
export interface ResolvedQueueOptions {
  readonly connection: string;
  readonly prefix: string;
  readonly recordTtlSec: number;
  readonly idempotencyTtlSec: number;
  readonly attempts: number;
  readonly backoffDelayMs: number;
  readonly removeOnCompleteAgeSec: number;
  readonly removeOnCompleteCount: number;
  readonly removeOnFailAgeSec: number;
  readonly removeOnFailCount: number;
  readonly reconcileAfterMs: number;
  readonly webhookAttempts: number;
  readonly webhookBackoffDelayMs: number;
}

const DAY_SEC = 24 * 3600;

/** Applies defaults and checks ranges; a bad value throws `InvalidArgumentError` naming it. */
export function resolveQueueOptions(options: QueueOptions = {}): ResolvedQueueOptions {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!/^[^\s:]{1,64}$/.test(prefix)) throw new InvalidArgumentError('prefix', 'must be 1-64 characters without spaces or ":"', 'INVALID_OPTIONS');
  return {
    connection: options.connection ?? DEFAULT_REDIS_URL,
    prefix,
    recordTtlSec: positiveInt('recordTtlSec', options.recordTtlSec, 7 * DAY_SEC),
    idempotencyTtlSec: positiveInt('idempotencyTtlSec', options.idempotencyTtlSec, DAY_SEC),
    attempts: positiveInt('attempts', options.attempts, 3),
    backoffDelayMs: positiveInt('backoffDelayMs', options.backoffDelayMs, 2000, 0),
    removeOnCompleteAgeSec: positiveInt('removeOnCompleteAgeSec', options.removeOnCompleteAgeSec, 3600),
    removeOnCompleteCount: positiveInt('removeOnCompleteCount', options.removeOnCompleteCount, 1000, 0),
    removeOnFailAgeSec: positiveInt('removeOnFailAgeSec', options.removeOnFailAgeSec, 7 * DAY_SEC),
    removeOnFailCount: positiveInt('removeOnFailCount', options.removeOnFailCount, 5000, 0),
    reconcileAfterMs: positiveInt('reconcileAfterMs', options.reconcileAfterMs, 15_000, 0),
    webhookAttempts: positiveInt('webhookAttempts', options.webhookAttempts, 8),
    webhookBackoffDelayMs: positiveInt('webhookBackoffDelayMs', options.webhookBackoffDelayMs, 1000, 0),
  };
}

/** Reads an integer option ≥ `min`, or its default. */
export function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new InvalidArgumentError(name, `must be an integer >= ${min}, got ${value}`, 'INVALID_OPTIONS');
  return value;
}
