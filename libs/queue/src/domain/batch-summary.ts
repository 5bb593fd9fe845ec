import type { BatchChild, BatchCounts, BatchRecord, BatchStatus, BatchSummary } from './batch-record.js';
import { isTerminal, JOB_STATUSES, type JobStatus } from './lifecycle.js';

/** Children by status. */
export function countChildren(children: readonly Pick<BatchChild, 'status'>[]): BatchCounts {
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const c of children) counts[c.status] += 1;
  return { ...counts, total: children.length };
}

/** The status a batch is in, from its record and its children's counts. */
export function batchStatus(record: BatchRecord, counts: BatchCounts): BatchStatus {
  if (record.state !== 'open') return record.state;
  const ended = counts.succeeded + counts.failed + counts.canceled;
  if (ended === counts.total) return 'finalizing';
  if (counts.running === 0 && ended === 0) return 'queued';
  return 'running';
}

/** The final status a batch takes when every child has ended. */
export function finalStatusOf(record: BatchRecord, counts: BatchCounts): Exclude<BatchStatus, 'queued' | 'running' | 'finalizing'> {
  if (counts.succeeded === counts.total) return 'completed';
  return record.cancelRequestedAt !== undefined ? 'canceled' : 'completed_with_errors';
}

/**
 * A batch's live numbers: counts, progress (ended children plus the done fraction of running
 * ones) and an ETA from the completion rate since the first child started.
 */
export function summarizeBatch(record: BatchRecord, children: readonly BatchChild[], options: { now?: number; failedLimit?: number } = {}): BatchSummary {
  const now = options.now ?? Date.now();
  const counts = countChildren(children);
  const status = batchStatus(record, counts);
  const ended = counts.succeeded + counts.failed + counts.canceled;
  const runningDone = children.reduce((sum, c) => sum + (c.status === 'running' ? c.percent / 100 : 0), 0);
  const total = Math.max(1, counts.total);
  const percent = Math.round(((ended + runningDone) / total) * 1000) / 10;
  let startedAt: number | undefined;
  let lastFinishedAt: number | undefined;
  for (const c of children) {
    if (c.startedAt !== undefined && (startedAt === undefined || c.startedAt < startedAt)) startedAt = c.startedAt;
    if (isTerminal(c.status) && c.finishedAt !== undefined && (lastFinishedAt === undefined || c.finishedAt > lastFinishedAt)) lastFinishedAt = c.finishedAt;
  }
  let etaMs: number | null = null;
  if (status === 'finalizing' || record.state !== 'open') etaMs = 0;
  else if (startedAt !== undefined && ended + runningDone > 0) {
    const elapsed = Math.max(1, now - startedAt);
    const rate = (ended + runningDone) / elapsed;
    etaMs = Math.round((counts.total - ended - runningDone) / rate);
  }
  const failedLimit = options.failedLimit ?? 50;
  const failed = children
    .filter((c) => c.status === 'failed')
    .slice(0, failedLimit)
    .map((c) => ({ index: c.index, jobId: c.jobId, error: c.error ?? null }));
  return {
    record,
    status,
    counts,
    percent,
    ...(startedAt !== undefined && { startedAt }),
    ...(lastFinishedAt !== undefined && { lastFinishedAt }),
    etaMs,
    failed,
  };
}

/**
 * A batch's numbers from the counters on its record alone (no child is read): what listings
 * show. Progress counts ended children only, and `failed` is empty (`GET /v1/batches/:id` lists
 * them). Undefined for a batch without counters (created before they existed).
 */
export function summarizeFromCounters(record: BatchRecord, now = Date.now()): BatchSummary | undefined {
  const c = record.counters;
  if (!c) return undefined;
  const counts: BatchCounts = { ...c, total: record.total };
  const status = batchStatus(record, counts);
  const ended = c.succeeded + c.failed + c.canceled;
  const percent = Math.round((ended / Math.max(1, record.total)) * 1000) / 10;
  const startedAt = record.firstStartedAt;
  let etaMs: number | null = null;
  if (status === 'finalizing' || record.state !== 'open') etaMs = 0;
  else if (startedAt !== undefined && ended > 0) etaMs = Math.round(((record.total - ended) * Math.max(1, now - startedAt)) / ended);
  return {
    record,
    status,
    counts,
    percent,
    ...(startedAt !== undefined && { startedAt }),
    ...(record.lastFinishedAt !== undefined && { lastFinishedAt: record.lastFinishedAt }),
    etaMs,
    failed: [],
  };
}
