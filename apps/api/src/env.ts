import { DEFAULT_PREFIX, redisUrlFromEnv } from '@asyncdiff/queue';
import { z } from 'zod';

import type { StartApiOptions } from './server.js';

const intVar = z.string().trim().regex(/^\d+$/, 'must be a non-negative integer').transform(Number);
const envSchema = z.object({
  PORT: intVar.pipe(z.number().max(65535)).optional(),
  HOST: z.string().trim().min(1).optional(),
  API_KEYS: z.string().optional(),
  RATE_LIMIT_BURST: intVar.optional(),
  RATE_LIMIT_PER_SEC: z.string().trim().regex(/^\d+(\.\d+)?$/, 'must be a positive number').transform(Number).optional(),
  BODY_LIMIT_BYTES: intVar.optional(),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  QUEUE_PREFIX: z.string().trim().min(1).optional(),
  TRUST_PROXY: z.enum(['0', '1', 'true', 'false']).optional(),
});

/**
 * `startApi` options from the environment, parsed once at the edge: PORT, HOST, REDIS_URL,
 * QUEUE_PREFIX, API_KEYS (comma separated), RATE_LIMIT_BURST, RATE_LIMIT_PER_SEC,
 * BODY_LIMIT_BYTES, WEBHOOK_SECRET, TRUST_PROXY. A bad value throws naming the variable.
 */
export function apiOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StartApiOptions {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid environment variable ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  const apiKeys = (e.API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  return {
    port: e.PORT ?? 8080,
    host: e.HOST ?? '127.0.0.1',
    apiKeys,
    queue: { connection: redisUrlFromEnv(env), prefix: e.QUEUE_PREFIX ?? DEFAULT_PREFIX },
    ...(e.RATE_LIMIT_BURST !== undefined && { rateLimitBurst: e.RATE_LIMIT_BURST }),
    ...(e.RATE_LIMIT_PER_SEC !== undefined && { rateLimitPerSec: e.RATE_LIMIT_PER_SEC }),
    ...(e.BODY_LIMIT_BYTES !== undefined && { bodyLimitBytes: e.BODY_LIMIT_BYTES }),
    ...(e.WEBHOOK_SECRET !== undefined && { webhookSecret: e.WEBHOOK_SECRET }),
    ...(e.TRUST_PROXY !== undefined && { trustProxy: e.TRUST_PROXY === '1' || e.TRUST_PROXY === 'true' }),
  };
}
