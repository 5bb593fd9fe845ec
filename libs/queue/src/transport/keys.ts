import type { JobStatus } from '../domain/lifecycle.js';

/**
 * Every Redis key and channel we own, under one prefix (BullMQ's queues live beside them as
 * `<prefix>:image:*`, `<prefix>:video:*`, `<prefix>:webhooks:*`). With the default `{asyncdiff}`
 * hash tag all of them share one Redis Cluster slot, so multi-key scripts stay legal.
 *
 * - `<p>:job:<id>`           hash  the job record (TTL `recordTtlSec`, refreshed on each change)
 * - `<p>:jobs:all`           zset  every job id, score 0, ordered by id (= creation time)
 * - `<p>:jobs:<status>`      zset  ids per status, same ordering (for `GET /v1/jobs?status=`)
 * - `<p>:idem:<sha256>`      str   `<jobId> <requestHash>` for an Idempotency-Key (TTL 24 h)
 * - `<p>:cancel:<id>`        str   cancel flag a worker checks at every step (TTL = record TTL)
 * - `<p>:stats:terminal`     hash  `<kind>:<status>` → count of jobs that ended so
 * - `<p>:rl:<client>`        hash  API rate-limit token bucket (`tokens`, `ts`)
 * - `<p>:webhook-secret`     str   webhook signing secret shared by API processes (when not configured)
 * - `<p>:jobs:finished`      zset  ids of jobs that reached a terminal state, scored by that time (ms; kept 24 h)
 * - `<p>:batch:<id>`         hash  a batch record (TTL `recordTtlSec`, refreshed on each change)
 * - `<p>:batch:<id>:jobs`    list  the batch's current child job ids, in child-index order
 * - `<p>:batches:all`        zset  every batch id, score 0, ordered by id (= creation time)
 * - `<p>:stats:batches`      hash  `open` / `<final state>` → number of batches so
 * - `<p>:dashboard-secret`   str   signs dashboard session cookies (shared by API processes)
 * - `<p>:owner:<o>:jobs:<s>` zset  ids of owner `<o>`'s jobs (`all` or per status), like `jobs:*`
 * - `<p>:owner:<o>:batches`  zset  ids of owner `<o>`'s batches, like `batches:all`
 * - `<p>:work:<o>`           str   work units of owner `<o>`'s jobs not yet ended (see `workUnits`)
 * - `<p>:work-total`         str   work units of every job not yet ended
 * - `<p>:outbox:webhooks`    list  webhook deliveries written atomically with the terminal
 *                                  transition (JSON `WebhookJobData`), until relayed into BullMQ
 * - `<p>:outputs:expiry`     zset  ids of ended jobs whose outputs expire, scored by `expiresAt` (ms); the
 *                                  output sweeper deletes their files and the entry (outlives the record)
 * - channel `<p>:events`     job events (JSON, `JobEvent`) for SSE and the dashboard
 * - channel `<p>:control`    worker control messages (JSON, `ControlMessage`): cancel
 */
export interface KeyLayout {
  readonly prefix: string;
  record(id: string): string;
  index(status?: JobStatus): string;
  idempotency(hash: string): string;
  cancelFlag(id: string): string;
  readonly terminalStats: string;
  rateLimit(client: string): string;
  readonly webhookSecret: string;
  /** Terminal jobs by the time they ended (stats over the last hour). */
  readonly finishedIndex: string;
  batch(id: string): string;
  batchMembers(id: string): string;
  readonly batchIndex: string;
  readonly batchStats: string;
  readonly dashboardSecret: string;
  /** Per-owner job index (all jobs, or one status). */
  ownerIndex(owner: string, status?: JobStatus): string;
  ownerBatchIndex(owner: string): string;
  /** Queued work (units) of one owner, and of everyone. */
  queuedWork(owner: string): string;
  readonly queuedWorkTotal: string;
  /** Webhook outbox: deliveries not yet moved into the `webhooks` queue (see `webhook-outbox.ts`). */
  readonly webhookOutbox: string;
  /** Ended jobs by the time their outputs expire (see `OutputExpiryIndex`). */
  readonly outputExpiry: string;
  readonly eventsChannel: string;
  readonly controlChannel: string;
}

/** The key layout for `prefix`. */
export function keyLayout(prefix: string): KeyLayout {
  return {
    prefix,
    record: (id) => `${prefix}:job:${id}`,
    index: (status) => `${prefix}:jobs:${status ?? 'all'}`,
    idempotency: (hash) => `${prefix}:idem:${hash}`,
    cancelFlag: (id) => `${prefix}:cancel:${id}`,
    terminalStats: `${prefix}:stats:terminal`,
    rateLimit: (client) => `${prefix}:rl:${client}`,
    webhookSecret: `${prefix}:webhook-secret`,
    finishedIndex: `${prefix}:jobs:finished`,
    batch: (id) => `${prefix}:batch:${id}`,
    batchMembers: (id) => `${prefix}:batch:${id}:jobs`,
    batchIndex: `${prefix}:batches:all`,
    batchStats: `${prefix}:stats:batches`,
    dashboardSecret: `${prefix}:dashboard-secret`,
    ownerIndex: (owner, status) => `${prefix}:owner:${owner}:jobs:${status ?? 'all'}`,
    ownerBatchIndex: (owner) => `${prefix}:owner:${owner}:batches`,
    queuedWork: (owner) => `${prefix}:work:${owner}`,
    queuedWorkTotal: `${prefix}:work-total`,
    webhookOutbox: `${prefix}:outbox:webhooks`,
    outputExpiry: `${prefix}:outputs:expiry`,
    eventsChannel: `${prefix}:events`,
    controlChannel: `${prefix}:control`,
  };
}
