import { type JobOutput, type JobRecord, type JobSpec, type JobStatus } from '@asyncdiff/queue';

import type { UrlFor } from '../deps.js';

/** An output as clients see it: the stored object plus a URL to fetch it (null without storage). */
export interface OutputView extends JobOutput {
  readonly url: string | null;
}

/** The JSON of a job in every response (documented by `jobViewSchema` in the OpenAPI document). */
export interface JobView {
  readonly id: string;
  readonly type: JobRecord['kind'];
  readonly status: JobStatus;
  readonly spec: JobSpec;
  readonly progress: JobRecord['progress'];
  readonly queuePosition: number | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly timings: Readonly<Record<string, number>>;
  readonly attempts: number;
  readonly host: string | null;
  readonly cancelRequested: boolean;
  readonly outputs: readonly OutputView[];
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly batchId: string | null;
  /** The failed/canceled job this one re-runs, and the job that re-ran this one. */
  readonly retryOf: string | null;
  readonly retriedBy: string | null;
  readonly links: { readonly self: string; readonly events: string; readonly cancel: string };
}

/** Path of a job resource (links are root-relative). */
export function jobPath(id: string): string {
  return `/v1/jobs/${encodeURIComponent(id)}`;
}

/** Builds the client view of a record; output URLs are minted with `urlFor` when given. */
export async function toJobView(record: JobRecord, queuePosition: number | null, urlFor: UrlFor | undefined, expiresInSec: number): Promise<JobView> {
  const outputs = await Promise.all(
    record.outputs.map(async (o) => ({ ...o, url: urlFor ? await urlFor(o.key, { expiresInSec }) : null })),
  );
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const self = jobPath(record.id);
  return {
    id: record.id,
    type: record.kind,
    status: record.status,
    spec: record.spec,
    progress: record.progress,
    queuePosition: record.status === 'queued' ? queuePosition : null,
    createdAt: new Date(record.createdAt).toISOString(),
    startedAt: iso(record.startedAt),
    finishedAt: iso(record.finishedAt),
    timings: record.timings,
    attempts: record.attempts,
    host: record.host ?? null,
    cancelRequested: record.cancelRequestedAt !== undefined,
    outputs,
    error: record.error ?? null,
    batchId: record.batchId ?? null,
    retryOf: record.retryOf ?? null,
    retriedBy: record.retriedBy ?? null,
    links: { self, events: `${self}/events`, cancel: `${self}/cancel` },
  };
}
