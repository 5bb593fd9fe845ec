import { z } from 'zod';

/** Settings of the HTTP layer (auth, limits, SSE, server timeouts). All optional; see `resolveApiOptions`. */
export interface ApiOptions {
  /**
   * Bearer keys accepted on `/v1/*`; each sees and pays for its own jobs and batches only.
   * With neither these nor `apiAdminKeys`, auth is off and everyone sees everything. @defaultValue []
   */
  apiKeys?: readonly string[];
  /**
   * Admin keys: accepted on `/v1/*` too, see every job and batch, and are the only keys the
   * dashboard, bull-board and queue actions accept while keys are configured. @defaultValue []
   */
  apiAdminKeys?: readonly string[];
  /** When set, `/metrics` requires `Authorization: Bearer <metricsToken>`. @defaultValue open */
  metricsToken?: string;
  /** Token-bucket size per client (API key, or IP without auth), in requests; 0 disables limiting. @defaultValue 60 */
  rateLimitBurst?: number;
  /** Requests refilled per second per client. @defaultValue 10 */
  rateLimitPerSec?: number;
  /**
   * Work-unit bucket per client (see `workUnits`): submissions are charged their work; one
   * larger than the bucket is refused outright (WORK_TOO_LARGE). 0 disables it. @defaultValue 2000000
   */
  workRateBurst?: number;
  /** Work units refilled per second per client. @defaultValue 20000 */
  workRatePerSec?: number;
  /** Work units a key may have queued (jobs not yet ended); 0: no cap. @defaultValue 2000000 */
  maxQueuedWorkPerKey?: number;
  /** Work units the whole fleet may have queued (protects Redis memory); 0: no cap. @defaultValue 20000000 */
  maxQueuedWorkTotal?: number;
  /** Open SSE streams per client in one API process; 0: no cap. @defaultValue 16 */
  maxSseStreamsPerKey?: number;
  /** A stream whose unsent bytes pass this (a reader that does not keep up) is ended; the client reconnects. @defaultValue 262144 */
  sseMaxBufferedBytes?: number;
  /** Failed logins and bearer failures an IP may make at once… @defaultValue 10 */
  authFailureBurst?: number;
  /** …and how many more per second (then 429 with Retry-After, even for a right key). @defaultValue 0.1 */
  authFailurePerSec?: number;
  /** Largest accepted request body. @defaultValue 16384 */
  bodyLimitBytes?: number;
  /** Largest accepted `POST /v1/batches` body (a list of up to 5,000 job specs). @defaultValue 2097152 */
  batchBodyLimitBytes?: number;
  /** Lifetime of output URLs handed out by GET (never past the output's own `expiresAt`). @defaultValue 3600 */
  outputUrlExpiresInSec?: number;
  /**
   * Days a job's outputs are kept after it ends (fractions allowed): jobs submitted meanwhile are
   * stamped with it, their views show `expiresAt`, and the output sweeper removes their files
   * then. 0 keeps outputs until removed by hand. @defaultValue 0
   */
  outputRetentionDays?: number;
  /** Interval of SSE keep-alive comments. @defaultValue 15000 */
  sseHeartbeatMs?: number;
  /** Trust `X-Forwarded-For` for client IPs (behind a proxy). @defaultValue false */
  trustProxy?: boolean;
  /** Time a client has to send a request's headers (node `server.headersTimeout`). @defaultValue 10000 */
  headersTimeoutMs?: number;
  /** Time a client has to send a whole request, body included (`server.requestTimeout`); SSE responses are not limited. @defaultValue 30000 */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open (`server.keepAliveTimeout`). @defaultValue 5000 */
  keepAliveTimeoutMs?: number;
  /** On close (SIGTERM), how long in-flight requests may finish before connections are cut. @defaultValue 20000 */
  drainTimeoutMs?: number;
}

/** `ApiOptions` with defaults applied. */
export interface ResolvedApiOptions {
  readonly apiKeys: readonly string[];
  readonly apiAdminKeys: readonly string[];
  readonly metricsToken: string | null;
  readonly rateLimitBurst: number;
  readonly rateLimitPerSec: number;
  readonly workRateBurst: number;
  readonly workRatePerSec: number;
  readonly maxQueuedWorkPerKey: number;
  readonly maxQueuedWorkTotal: number;
  readonly maxSseStreamsPerKey: number;
  readonly sseMaxBufferedBytes: number;
  readonly authFailureBurst: number;
  readonly authFailurePerSec: number;
  readonly bodyLimitBytes: number;
  readonly batchBodyLimitBytes: number;
  readonly outputUrlExpiresInSec: number;
  /** `outputRetentionDays` in whole seconds (0: keep). */
  readonly outputRetentionSec: number;
  readonly sseHeartbeatMs: number;
  readonly trustProxy: boolean;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly drainTimeoutMs: number;
}

const key = z.string().min(16, 'API keys must be at least 16 characters').max(256);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const resolvedSchema = z
  .object({
    apiKeys: z.array(key),
    apiAdminKeys: z.array(key),
    metricsToken: z.string().min(16, 'must be at least 16 characters').max(256).nullable(),
    rateLimitBurst: count,
    rateLimitPerSec: z.number().positive(),
    workRateBurst: count,
    workRatePerSec: z.number().positive(),
    maxQueuedWorkPerKey: count,
    maxQueuedWorkTotal: count,
    maxSseStreamsPerKey: count,
    sseMaxBufferedBytes: z.number().int().min(1024),
    authFailureBurst: z.number().int().min(1),
    authFailurePerSec: z.number().positive(),
    bodyLimitBytes: z.number().int().min(1024).max(10 * 1024 * 1024),
    batchBodyLimitBytes: z.number().int().min(1024).max(64 * 1024 * 1024),
    outputUrlExpiresInSec: z.number().int().min(1).max(604_800),
    outputRetentionSec: z.number().int().min(0),
    sseHeartbeatMs: z.number().int().min(100),
    trustProxy: z.boolean(),
    headersTimeoutMs: z.number().int().min(100).max(600_000),
    requestTimeoutMs: z.number().int().min(100).max(3_600_000),
    keepAliveTimeoutMs: z.number().int().min(100).max(600_000),
    drainTimeoutMs: z.number().int().min(0).max(600_000),
  })
  .refine((o) => o.requestTimeoutMs >= o.headersTimeoutMs, { path: ['requestTimeoutMs'], message: 'must be at least headersTimeoutMs' });

/** Applies defaults and validates; a bad value throws naming the option. */
export function resolveApiOptions(options: ApiOptions = {}): ResolvedApiOptions {
  const candidate = {
    apiKeys: [...(options.apiKeys ?? [])],
    apiAdminKeys: [...(options.apiAdminKeys ?? [])],
    metricsToken: options.metricsToken ?? null,
    rateLimitBurst: options.rateLimitBurst ?? 60,
    rateLimitPerSec: options.rateLimitPerSec ?? 10,
    workRateBurst: options.workRateBurst ?? 2_000_000,
    workRatePerSec: options.workRatePerSec ?? 20_000,
    maxQueuedWorkPerKey: options.maxQueuedWorkPerKey ?? 2_000_000,
    maxQueuedWorkTotal: options.maxQueuedWorkTotal ?? 20_000_000,
    maxSseStreamsPerKey: options.maxSseStreamsPerKey ?? 16,
    sseMaxBufferedBytes: options.sseMaxBufferedBytes ?? 256 * 1024,
    authFailureBurst: options.authFailureBurst ?? 10,
    authFailurePerSec: options.authFailurePerSec ?? 0.1,
    bodyLimitBytes: options.bodyLimitBytes ?? 16 * 1024,
    batchBodyLimitBytes: options.batchBodyLimitBytes ?? 2 * 1024 * 1024,
    outputUrlExpiresInSec: options.outputUrlExpiresInSec ?? 3600,
    outputRetentionSec: retentionSec(options.outputRetentionDays),
    sseHeartbeatMs: options.sseHeartbeatMs ?? 15_000,
    trustProxy: options.trustProxy ?? false,
    headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 5_000,
    drainTimeoutMs: options.drainTimeoutMs ?? 20_000,
  };
  const parsed = resolvedSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid API option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Days → whole seconds, rounded up so a tiny positive retention never reads as "keep forever". */
function retentionSec(days: number | undefined): number {
  if (days === undefined) return 0;
  if (!Number.isFinite(days) || days < 0 || days > 36_500) throw new Error(`invalid API option outputRetentionDays: must be a number 0…36500, got ${days}`);
  return Math.ceil(days * 86_400);
}

/** Whether the API checks keys at all (any key or admin key configured). */
export function keysConfigured(options: Pick<ResolvedApiOptions, 'apiKeys' | 'apiAdminKeys'>): boolean {
  return options.apiKeys.length + options.apiAdminKeys.length > 0;
}
