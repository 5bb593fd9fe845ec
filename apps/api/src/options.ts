import { z } from 'zod';

/** Settings of the HTTP layer (auth, limits, SSE, webhooks). All optional; see `resolveApiOptions`. */
export interface ApiOptions {
  /** Bearer keys accepted on `/v1/*`; empty disables auth. @defaultValue [] */
  apiKeys?: readonly string[];
  /** Token-bucket size per client (API key, or IP without auth); 0 disables limiting. @defaultValue 60 */
  rateLimitBurst?: number;
  /** Tokens refilled per second per client. @defaultValue 10 */
  rateLimitPerSec?: number;
  /** Largest accepted request body. @defaultValue 16384 */
  bodyLimitBytes?: number;
  /** Largest accepted `POST /v1/batches` body (a list of up to 5,000 job specs). @defaultValue 2097152 */
  batchBodyLimitBytes?: number;
  /** Lifetime of output URLs handed out by GET. @defaultValue 3600 */
  outputUrlExpiresInSec?: number;
  /** Interval of SSE keep-alive comments. @defaultValue 15000 */
  sseHeartbeatMs?: number;
  /** Trust `X-Forwarded-For` for client IPs (behind a proxy). @defaultValue false */
  trustProxy?: boolean;
}

/** `ApiOptions` with defaults applied. */
export interface ResolvedApiOptions {
  readonly apiKeys: readonly string[];
  readonly rateLimitBurst: number;
  readonly rateLimitPerSec: number;
  readonly bodyLimitBytes: number;
  readonly batchBodyLimitBytes: number;
  readonly outputUrlExpiresInSec: number;
  readonly sseHeartbeatMs: number;
  readonly trustProxy: boolean;
}

const resolvedSchema = z.object({
  apiKeys: z.array(z.string().min(16, 'API keys must be at least 16 characters').max(256)),
  rateLimitBurst: z.number().int().min(0),
  rateLimitPerSec: z.number().positive(),
  bodyLimitBytes: z.number().int().min(1024).max(10 * 1024 * 1024),
  batchBodyLimitBytes: z.number().int().min(1024).max(64 * 1024 * 1024),
  outputUrlExpiresInSec: z.number().int().min(1).max(604_800),
  sseHeartbeatMs: z.number().int().min(100),
  trustProxy: z.boolean(),
});

/** Applies defaults and validates; a bad value throws naming the option. */
export function resolveApiOptions(options: ApiOptions = {}): ResolvedApiOptions {
  const candidate = {
    apiKeys: [...(options.apiKeys ?? [])],
    rateLimitBurst: options.rateLimitBurst ?? 60,
    rateLimitPerSec: options.rateLimitPerSec ?? 10,
    bodyLimitBytes: options.bodyLimitBytes ?? 16 * 1024,
    batchBodyLimitBytes: options.batchBodyLimitBytes ?? 2 * 1024 * 1024,
    outputUrlExpiresInSec: options.outputUrlExpiresInSec ?? 3600,
    sseHeartbeatMs: options.sseHeartbeatMs ?? 15_000,
    trustProxy: options.trustProxy ?? false,
  };
  const parsed = resolvedSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid API option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
