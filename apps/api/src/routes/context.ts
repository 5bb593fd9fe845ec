import type { BatchClient, JobClient, JobRecord } from '@asyncdiff/queue';

import type { Logger, UrlFor } from '../deps.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import type { ResolvedApiOptions } from '../options.js';
import { toJobView, type JobView } from '../views/job-view.js';

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
}

/** The client view of a record, with its queue position when queued. */
export async function viewOf(ctx: RouteContext, record: JobRecord): Promise<JobView> {
  const position = record.status === 'queued' ? await ctx.jobs.queuePosition(record) : null;
  return toJobView(record, position, ctx.urlFor, ctx.options.outputUrlExpiresInSec);
}
