import { type JobOutput, type JobRecord, type JobSpec, type JobStatus, type JobWarning } from '@asyncdiff/queue';

import type { UrlFor } from '../deps.js';

/**
 * An output as clients see it: the stored object plus a URL to fetch it (null without storage, and
 * once it has expired) and when it expires.
 */
export interface OutputView extends JobOutput {
  readonly url: string | null;
  readonly expiresAt: string | null;
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
  /** When the outputs are removed (the retention policy); null while running or without one. */
  readonly expiresAt: string | null;
  readonly outputs: readonly OutputView[];
  readonly error: { readonly code: string; readonly message: string } | null;
  /** What the run noticed about the request, e.g. `PROMPT_TRUNCATED` (field `prompt`). */
  readonly warnings: readonly JobWarning[];
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
export async function toJobView(record: JobRecord, queuePosition: number | null, urlFor: UrlFor | undefined, expiresInSec: number, now: number = Date.now()): Promise<JobView> {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const expiresAt = iso(record.expiresAt);
  // Expired outputs get no URL, swept yet or not: the file is gone or about to be.
  const expired = record.expiresAt !== undefined && record.expiresAt <= now;
  // A URL never outlives its output.
  const urlSec = record.expiresAt === undefined ? expiresInSec : Math.max(1, Math.min(expiresInSec, Math.ceil((record.expiresAt - now) / 1000)));
  const outputs = await Promise.all(
    record.outputs.map(async (o) => ({ ...o, url: urlFor && !expired ? await urlFor(o.key, { expiresInSec: urlSec }) : null, expiresAt })),
  );
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
    expiresAt,
    outputs,
    error: record.error ?? null,
    warnings: record.warnings ?? [],
    batchId: record.batchId ?? null,
    retryOf: record.retryOf ?? null,
    retriedBy: record.retriedBy ?? null,
    links: { self, events: `${self}/events`, cancel: `${self}/cancel` },
  };
}
