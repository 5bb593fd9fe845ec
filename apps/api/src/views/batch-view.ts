import type { BatchStatus, BatchSummary } from '@asyncdiff/queue';

import type { UrlFor } from '../deps.js';

/** A stored batch artefact (manifest or contact sheet) with a URL to fetch it (null without storage). */
export interface ArtifactView {
  readonly key: string;
  readonly url: string | null;
}

/** The JSON of a batch (documented by `batchViewSchema`). */
export interface BatchView {
  readonly id: string;
  readonly name: string | null;
  readonly type: 'image' | 'video';
  readonly model: string | null;
  readonly status: BatchStatus;
  readonly cancelRequested: boolean;
  readonly priority: number;
  readonly total: number;
  readonly round: number;
  readonly counts: { readonly queued: number; readonly running: number; readonly succeeded: number; readonly failed: number; readonly canceled: number };
  readonly progress: { readonly percent: number; readonly ended: number; readonly total: number };
  readonly eta: { readonly seconds: number; readonly at: string } | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly failed: ReadonlyArray<{ readonly index: number; readonly jobId: string; readonly error: { readonly code: string; readonly message: string } | null }>;
  readonly manifest: ArtifactView | null;
  readonly contactSheet: ArtifactView | null;
  readonly finalizeError: { readonly code: string; readonly message: string } | null;
  readonly links: { readonly self: string; readonly jobs: string; readonly cancel: string; readonly retryFailed: string };
}

/** Path of a batch resource. */
export function batchPath(id: string): string {
  return `/v1/batches/${encodeURIComponent(id)}`;
}

/** Builds the client view of a batch summary; artefact URLs only once the batch has finished. */
export async function toBatchView(s: BatchSummary, urlFor: UrlFor | undefined, expiresInSec: number, now = Date.now()): Promise<BatchView> {
  const r = s.record;
  const finished = r.state !== 'open';
  const artifact = async (key: string | undefined): Promise<ArtifactView | null> =>
    finished && key ? { key, url: urlFor ? await urlFor(key, { expiresInSec }) : null } : null;
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const self = batchPath(r.id);
  const ended = s.counts.succeeded + s.counts.failed + s.counts.canceled;
  return {
    id: r.id,
    name: r.name ?? null,
    type: r.kind,
    model: r.model,
    status: s.status,
    cancelRequested: r.cancelRequestedAt !== undefined,
    priority: r.priority,
    total: s.counts.total,
    round: r.round,
    counts: { queued: s.counts.queued, running: s.counts.running, succeeded: s.counts.succeeded, failed: s.counts.failed, canceled: s.counts.canceled },
    progress: { percent: s.percent, ended, total: s.counts.total },
    eta: s.etaMs === null ? null : { seconds: Math.round(s.etaMs / 1000), at: new Date(now + s.etaMs).toISOString() },
    createdAt: new Date(r.createdAt).toISOString(),
    startedAt: iso(s.startedAt),
    finishedAt: iso(r.finishedAt),
    failed: s.failed,
    manifest: await artifact(r.manifestKey),
    contactSheet: await artifact(r.contactSheetKey),
    finalizeError: finished ? (r.finalizeError ?? null) : null,
    links: { self, jobs: `${self}/jobs`, cancel: `${self}/cancel`, retryFailed: `${self}/retry-failed` },
  };
}
