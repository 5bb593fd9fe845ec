import type { BatchChild, BatchCounts, BatchFinalStatus, BatchRecord } from './batch-record.js';
import type { BatchRequest } from './batch-spec.js';
import type { JobErrorInfo, JobOutput } from './job-record.js';
import type { JobSpec } from './job-spec.js';
import type { JobStatus } from './lifecycle.js';

/** Storage key of a batch's manifest. */
export function batchManifestKey(batchId: string): string {
  return `batches/${batchId}/manifest.json`;
}

/** Storage key of a batch's contact sheet. */
export function batchContactSheetKey(batchId: string): string {
  return `batches/${batchId}/contact-sheet.png`;
}

/** One child in `manifest.json`. Times are ISO 8601; `timings` are milliseconds. */
export interface BatchManifestChild {
  readonly index: number;
  readonly jobId: string;
  readonly status: JobStatus;
  readonly spec: JobSpec | null;
  readonly attempts: number;
  readonly host: string | null;
  readonly outputs: readonly JobOutput[];
  readonly error: JobErrorInfo | null;
  readonly timings: Readonly<Record<string, number>>;
  readonly createdAt: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  /** Earlier jobs of this child replaced by `retry-failed`, oldest first. */
  readonly previousJobIds: readonly string[];
}

/**
 * `batches/<id>/manifest.json`: the request, the outcome and every child (spec, status, output
 * keys with sha256, timings), and which child each contact-sheet cell shows.
 */
export interface BatchManifest {
  readonly version: 1;
  readonly batchId: string;
  readonly name: string | null;
  readonly status: BatchFinalStatus;
  readonly type: BatchRecord['kind'];
  readonly model: string | null;
  readonly round: number;
  readonly createdAt: string;
  readonly finishedAt: string;
  readonly request: BatchRequest | null;
  readonly counts: BatchCounts;
  readonly children: readonly BatchManifestChild[];
  readonly contactSheet: {
    readonly key: string;
    readonly columns: number;
    /** Row-major cells: cell `i` shows child `index` (its image, or its video's first frame). */
    readonly cells: ReadonlyArray<{ readonly index: number; readonly jobId: string }>;
  } | null;
}

/** Assembles a manifest (pure; the finaliser stores it). */
export function buildBatchManifest(input: {
  record: BatchRecord;
  request: BatchRequest | null;
  status: BatchFinalStatus;
  counts: BatchCounts;
  children: readonly BatchChild[];
  previousJobIds: ReadonlyMap<string, readonly string[]>;
  finishedAt: number;
  contactSheet: BatchManifest['contactSheet'];
}): BatchManifest {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const { record } = input;
  return {
    version: 1,
    batchId: record.id,
    name: record.name ?? null,
    status: input.status,
    type: record.kind,
    model: record.model,
    round: record.round,
    createdAt: new Date(record.createdAt).toISOString(),
    finishedAt: new Date(input.finishedAt).toISOString(),
    request: input.request,
    counts: input.counts,
    children: input.children.map((c) => ({
      index: c.index,
      jobId: c.jobId,
      status: c.status,
      spec: c.spec ?? null,
      attempts: c.attempts,
      host: c.host ?? null,
      outputs: c.outputs,
      error: c.error ?? null,
      timings: c.timings,
      createdAt: iso(c.createdAt),
      startedAt: iso(c.startedAt),
      finishedAt: iso(c.finishedAt),
      previousJobIds: input.previousJobIds.get(c.jobId) ?? [],
    })),
    contactSheet: input.contactSheet,
  };
}
