import type { BatchClient, JobClient, JobRecord, WorkLimits } from '@asyncdiff/queue';
import type { Response } from 'express';

import type { Logger, UrlFor } from '../deps.js';
import { canSee, clientOf, type KeyRing } from '../http/auth.js';
import type { AuthFailureLimiter } from '../http/auth-failures.js';
import type { WorkCharger } from '../http/rate-limit.js';
import type { SseHub } from '../http/sse.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import type { ResolvedApiOptions } from '../options.js';
import { toJobView, type JobView } from '../views/job-view.js';
import type { WebhookSecretView } from '../webhooks/secret-view.js';

/** What route handlers share. */
export interface RouteContext {
  readonly jobs: JobClient;
  /** Absent when the embedder gave none (batch routes then answer 503). */
  readonly batches: BatchClient | undefined;
  readonly urlFor: UrlFor | undefined;
  readonly options: ResolvedApiOptions;
  readonly metrics: ApiMetrics;
  readonly logger: Logger;
  readonly readiness: (() => Promise<void> | void) | undefined;
  readonly keys: KeyRing;
  readonly authFailures: AuthFailureLimiter;
  /** Charges submissions their work units (the work-rate bucket). */
  readonly work: WorkCharger;
  /** Queued-work caps submissions are admitted under. */
  readonly workLimits: WorkLimits;
  readonly sse: SseHub;
  /** Aborted when the server starts draining: long waits (`Prefer: wait`) answer at once. */
  readonly closing: AbortSignal;
  /** Stamped on new jobs: how long their outputs are kept after they end (0: until removed by hand). */
  readonly outputRetentionSec: number;
  /** The webhook signing secrets handed to admins; absent when this process has none. */
  readonly webhookSecret: WebhookSecretView | undefined;
}

/**
 * The submit settings of the request's client: its owner (and idempotency scope), the caps, and
 * the work-rate charge as the admission hook. `charged()` tells what to refund if nothing was created.
 */
export function submitAs(
  ctx: RouteContext,
  res: Response,
): { options: { owner: string; scope: string; workLimits: WorkLimits; outputRetentionSec?: number; admit: (units: number) => Promise<void> }; charged: () => number } {
  const client = clientOf(res);
  let units = 0;
  return {
    options: {
      owner: client.owner,
      // Without keys every client shares one key space (IPs change between retries).
      scope: client.owner,
      workLimits: ctx.workLimits,
      ...(ctx.outputRetentionSec > 0 && { outputRetentionSec: ctx.outputRetentionSec }),
      admit: async (u) => {
        await ctx.work.charge(client.id, u);
        units = u;
      },
    },
    charged: () => units,
  };
}

/** Whether the request's client may see a record (others' records are answered 404, never 403). */
export function visibleTo(res: Response, record: { readonly owner?: string }): boolean {
  return canSee(clientOf(res), record);
}

/** The client view of a record, with its queue position when queued. */
export async function viewOf(ctx: RouteContext, record: JobRecord): Promise<JobView> {
  const position = record.status === 'queued' ? await ctx.jobs.queuePosition(record) : null;
  return toJobView(record, position, ctx.urlFor, ctx.options.outputUrlExpiresInSec);
}
