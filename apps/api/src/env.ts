import { DEFAULT_PREFIX, redisTargetFromEnv, resolveWebhookTargetPolicy, type RedisTarget, type WebhookTargetPolicyOptions } from '@asyncdiff/queue';
import { z } from 'zod';

import { LOG_LEVELS } from './log/logger.js';
import type { StartApiOptions } from './server.js';
import { parseWebhookSecret } from './webhooks/signing-keys.js';

/** A comma-separated list, trimmed, without empty entries. */
const list = (text: string | undefined): string[] =>
  (text ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);

const isWebhookSecret = (v: string): boolean => {
  try {
    parseWebhookSecret(v);
    return true;
  } catch {
    return false;
  }
};

const intVar = z.string().trim().regex(/^\d+$/, 'must be a non-negative integer').transform(Number);
const numVar = z.string().trim().regex(/^\d+(\.\d+)?$/, 'must be a positive number').transform(Number);
const boolVar = z.enum(['0', '1', 'true', 'false']);
const envSchema = z.object({
  PORT: intVar.pipe(z.number().max(65535)).optional(),
  HOST: z.string().trim().min(1).optional(),
  API_KEYS: z.string().optional(),
  API_ADMIN_KEYS: z.string().optional(),
  API_INSECURE: boolVar.optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  RATE_LIMIT_BURST: intVar.optional(),
  RATE_LIMIT_PER_SEC: numVar.optional(),
  WORK_RATE_BURST: intVar.optional(),
  WORK_RATE_PER_SEC: numVar.optional(),
  MAX_QUEUED_WORK_PER_KEY: intVar.optional(),
  MAX_QUEUED_WORK_TOTAL: intVar.optional(),
  MAX_SSE_STREAMS_PER_KEY: intVar.optional(),
  SSE_MAX_BUFFERED_BYTES: intVar.optional(),
  AUTH_FAILURE_BURST: intVar.optional(),
  AUTH_FAILURE_PER_SEC: numVar.optional(),
  HEADERS_TIMEOUT_MS: intVar.optional(),
  REQUEST_TIMEOUT_MS: intVar.optional(),
  KEEP_ALIVE_TIMEOUT_MS: intVar.optional(),
  DRAIN_TIMEOUT_MS: intVar.optional(),
  BODY_LIMIT_BYTES: intVar.optional(),
  WEBHOOK_SECRET: z.string().refine(isWebhookSecret, 'must be whsec_<base64 of 24…64 bytes> or at least 16 characters').optional(),
  WEBHOOK_PREVIOUS_SECRETS: z
    .string()
    .refine((v) => list(v).every(isWebhookSecret), 'must be comma-separated secrets, each whsec_<base64 of 24…64 bytes> or at least 16 characters')
    .optional(),
  WEBHOOK_LEGACY_SIGNATURE: boolVar.optional(),
  OUTPUT_RETENTION_DAYS: numVar.pipe(z.number().max(36_500)).optional(),
  OUTPUT_SWEEP_INTERVAL_MS: intVar.optional(),
  QUEUE_PREFIX: z.string().trim().min(1).optional(),
  TRUST_PROXY: boolVar.optional(),
  WEBHOOK_ALLOW_PRIVATE: boolVar.optional(),
  WEBHOOK_ALLOW_HOSTS: z.string().optional(),
  WEBHOOK_ALLOW_CIDRS: z.string().optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).optional(),
});


/**
 * `startApi` options from the environment, parsed once at the edge: PORT, HOST, Redis (REDIS_URL,
 * or REDIS_CLUSTER_NODES / REDIS_SENTINELS…: see `redisTargetFromEnv`),
 * QUEUE_PREFIX, API_KEYS and API_ADMIN_KEYS (comma separated), API_INSECURE, METRICS_TOKEN,
 * RATE_LIMIT_BURST, RATE_LIMIT_PER_SEC, WORK_RATE_BURST, WORK_RATE_PER_SEC,
 * MAX_QUEUED_WORK_PER_KEY, MAX_QUEUED_WORK_TOTAL, MAX_SSE_STREAMS_PER_KEY, SSE_MAX_BUFFERED_BYTES,
 * AUTH_FAILURE_BURST, AUTH_FAILURE_PER_SEC, HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS,
 * KEEP_ALIVE_TIMEOUT_MS, DRAIN_TIMEOUT_MS, BODY_LIMIT_BYTES, WEBHOOK_SECRET (`whsec_…`, or an older
 * free-text secret), WEBHOOK_PREVIOUS_SECRETS (comma separated, still signing during a rotation),
 * WEBHOOK_LEGACY_SIGNATURE (1: also the deprecated `Asyncdiff-Signature` header),
 * OUTPUT_RETENTION_DAYS (0 or unset: keep outputs), OUTPUT_SWEEP_INTERVAL_MS, TRUST_PROXY, and the
 * webhook target opt-ins WEBHOOK_ALLOW_PRIVATE (1: loopback/RFC 1918/CGNAT/unique-local receivers),
 * WEBHOOK_ALLOW_HOSTS and WEBHOOK_ALLOW_CIDRS (comma separated), and LOG_LEVEL. A bad value throws
 * naming the variable.
 */
export function apiOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StartApiOptions {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid environment variable ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  const flag = (v: string | undefined) => v === '1' || v === 'true';
  const optional = <K extends string, V>(name: K, value: V | undefined) => (value === undefined ? {} : ({ [name]: value } as { [P in K]: V }));
  const webhookTargets: WebhookTargetPolicyOptions = {
    allowPrivate: flag(e.WEBHOOK_ALLOW_PRIVATE),
    allowHosts: list(e.WEBHOOK_ALLOW_HOSTS),
    allowCidrs: list(e.WEBHOOK_ALLOW_CIDRS),
  };
  let redis: RedisTarget | undefined;
  try {
    redis = redisTargetFromEnv(env);
  } catch (err) {
    throw new Error(`invalid environment variable ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  try {
    resolveWebhookTargetPolicy(webhookTargets);
  } catch (err) {
    const variable = (err as { field?: string }).field === 'allowHosts' ? 'WEBHOOK_ALLOW_HOSTS' : 'WEBHOOK_ALLOW_CIDRS';
    throw new Error(`invalid environment variable ${variable}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return {
    port: e.PORT ?? 8080,
    host: e.HOST ?? '127.0.0.1',
    apiKeys: list(e.API_KEYS),
    apiAdminKeys: list(e.API_ADMIN_KEYS),
    ...(e.API_INSECURE !== undefined && { insecure: flag(e.API_INSECURE) }),
    ...optional('metricsToken', e.METRICS_TOKEN),
    ...optional('workRateBurst', e.WORK_RATE_BURST),
    ...optional('workRatePerSec', e.WORK_RATE_PER_SEC),
    ...optional('maxQueuedWorkPerKey', e.MAX_QUEUED_WORK_PER_KEY),
    ...optional('maxQueuedWorkTotal', e.MAX_QUEUED_WORK_TOTAL),
    ...optional('maxSseStreamsPerKey', e.MAX_SSE_STREAMS_PER_KEY),
    ...optional('sseMaxBufferedBytes', e.SSE_MAX_BUFFERED_BYTES),
    ...optional('authFailureBurst', e.AUTH_FAILURE_BURST),
    ...optional('authFailurePerSec', e.AUTH_FAILURE_PER_SEC),
    ...optional('headersTimeoutMs', e.HEADERS_TIMEOUT_MS),
    ...optional('requestTimeoutMs', e.REQUEST_TIMEOUT_MS),
    ...optional('keepAliveTimeoutMs', e.KEEP_ALIVE_TIMEOUT_MS),
    ...optional('drainTimeoutMs', e.DRAIN_TIMEOUT_MS),
    queue: { ...(redis !== undefined && { connection: redis }), prefix: e.QUEUE_PREFIX ?? DEFAULT_PREFIX },
    ...(e.RATE_LIMIT_BURST !== undefined && { rateLimitBurst: e.RATE_LIMIT_BURST }),
    ...(e.RATE_LIMIT_PER_SEC !== undefined && { rateLimitPerSec: e.RATE_LIMIT_PER_SEC }),
    ...(e.BODY_LIMIT_BYTES !== undefined && { bodyLimitBytes: e.BODY_LIMIT_BYTES }),
    ...(e.WEBHOOK_SECRET !== undefined && { webhookSecret: e.WEBHOOK_SECRET }),
    ...(e.WEBHOOK_PREVIOUS_SECRETS !== undefined && { webhookPreviousSecrets: list(e.WEBHOOK_PREVIOUS_SECRETS) }),
    ...(e.WEBHOOK_LEGACY_SIGNATURE !== undefined && { webhookLegacySignature: flag(e.WEBHOOK_LEGACY_SIGNATURE) }),
    ...optional('outputRetentionDays', e.OUTPUT_RETENTION_DAYS),
    ...optional('outputSweepIntervalMs', e.OUTPUT_SWEEP_INTERVAL_MS),
    ...(e.TRUST_PROXY !== undefined && { trustProxy: flag(e.TRUST_PROXY) }),
    ...(e.LOG_LEVEL !== undefined && { logLevel: e.LOG_LEVEL }),
    webhookTargets,
  };
}
