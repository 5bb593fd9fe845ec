import { InvalidArgumentError } from '../domain/errors.js';
import { hasHashTag, resolveRedisTarget, type RedisConnection, type RedisTarget } from './redis-target.js';
import { DEFAULT_REDIS_URL } from './redis.js';

/** Key prefix of everything we store, in a hash tag so every key lands in one Redis Cluster slot. */
export const DEFAULT_PREFIX = '{asyncdiff}';

/** Settings shared by the API side (`createJobClient`) and the worker side (`createJobWorker`). */
export interface QueueOptions {
  /**
   * Where Redis is: a URL (`redis://`, `redis+cluster://`, `redis+sentinel://`, see
   * `RedisConnection`) or a `RedisTarget`. @defaultValue `redis://127.0.0.1:6379` (read the
   * environment at the edge with `redisTargetFromEnv`)
   */
  connection?: RedisConnection;
  /** BullMQ prefix and prefix of our own keys; must hold a `{hash tag}` on a Redis Cluster. @defaultValue `{asyncdiff}` */
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
  /** Delivery attempts per webhook (with the delays below: about 24 h of retries). @defaultValue 36 */
  webhookAttempts?: number;
  /** First webhook retry delay; doubles each retry up to `webhookBackoffMaxMs`. @defaultValue 1000 */
  webhookBackoffDelayMs?: number;
  /** Longest wait between two webhook attempts. @defaultValue 3600000 (1 h) */
  webhookBackoffMaxMs?: number;
}

/** `QueueOptions` with every default applied. */
export interface ResolvedQueueOptions {
  readonly connection: RedisTarget;
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
  readonly webhookBackoffMaxMs: number;
}

const DAY_SEC = 24 * 3600;

/** Applies defaults and checks ranges; a bad value throws `InvalidArgumentError` naming it. */
export function resolveQueueOptions(options: QueueOptions = {}): ResolvedQueueOptions {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!/^[^\s:]{1,64}$/.test(prefix)) throw new InvalidArgumentError('prefix', 'must be 1-64 characters without spaces or ":"', 'INVALID_OPTIONS');
  const connection = resolveRedisTarget(options.connection ?? DEFAULT_REDIS_URL);
  // BullMQ's scripts and ours touch several keys at once: on a Cluster they must share a slot.
  if (connection.kind === 'cluster' && !hasHashTag(prefix)) {
    throw new InvalidArgumentError('prefix', `must contain a {hash tag} on a Redis Cluster (e.g. "{${prefix.replace(/[{}]/g, '')}}"), got "${prefix}"`, 'INVALID_OPTIONS');
  }
  return {
    connection,
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
    webhookAttempts: positiveInt('webhookAttempts', options.webhookAttempts, 36),
    webhookBackoffDelayMs: positiveInt('webhookBackoffDelayMs', options.webhookBackoffDelayMs, 1000, 0),
    webhookBackoffMaxMs: positiveInt('webhookBackoffMaxMs', options.webhookBackoffMaxMs, 3_600_000, 0),
  };
}

/** Reads an integer option ≥ `min`, or its default. */
export function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new InvalidArgumentError(name, `must be an integer >= ${min}, got ${value}`, 'INVALID_OPTIONS');
  return value;
}
