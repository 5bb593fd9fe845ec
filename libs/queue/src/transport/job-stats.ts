
import type { JobKind } from '../domain/job-spec.js';
import type { KeyLayout } from './keys.js';
import { isTerminal, isJobStatus, type TerminalJobStatus } from '../domain/lifecycle.js';
import type { RedisClient } from './redis.js';

/** When and how one job ended, from its record (what queue statistics are computed from). */
export interface FinishedJob {
  readonly id: string;
  readonly kind: JobKind;
  readonly status: TerminalJobStatus;
  readonly finishedAt: number;
  /** Time from submission to its (last) start; absent for jobs canceled while queued. */
  readonly queueMs?: number;
  /** Time from its (last) start to its end. */
  readonly runMs?: number;
}

/** p50/p95 of a set of durations in ms (nearest rank), or null without samples. */
export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly samples: number;
}

/** One queue's numbers over a window. */
export interface QueueWindowStats {
  readonly finished: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly canceled: number;
  /** Finished jobs per hour over the window. */
  readonly perHour: number;
  readonly queueWaitMs: Percentiles | null;
  readonly runMs: Percentiles | null;
}

/**
 * Jobs that ended at or after `sinceMs` (newest first, at most `limit`), read from the
 * `<prefix>:jobs:finished` index (scored by end time; kept 24 h) and their records.
 */
export async function finishedJobsSince(redis: RedisClient, keys: KeyLayout, sinceMs: number, limit = 20_000): Promise<FinishedJob[]> {
  const ids = await redis.zrevrangebyscore(keys.finishedIndex, '+inf', sinceMs, 'LIMIT', 0, limit);
  const out: FinishedJob[] = [];
  for (let start = 0; start < ids.length; start += 1000) {
    const chunk = ids.slice(start, start + 1000);
    const pipeline = redis.pipeline();
    for (const id of chunk) pipeline.hmget(keys.record(id), 'kind', 'status', 'finishedAt', 'timings');
    const results = (await pipeline.exec()) ?? [];
    chunk.forEach((id, i) => {
      const [kind, status, finishedAt, timings] = (results[i]?.[1] ?? []) as Array<string | null>;
      if ((kind !== 'image' && kind !== 'video') || !isJobStatus(status) || !isTerminal(status) || !finishedAt) return;
      let t: Record<string, unknown> = {};
      try {
        t = JSON.parse(timings ?? '{}') as Record<string, unknown>;
      } catch {
        // a corrupt timings field only loses this job's durations
      }
      const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
      const queueMs = num(t['queueMs']);
      const runMs = num(t['runMs']);
      out.push({ id, kind, status, finishedAt: Number(finishedAt), ...(queueMs !== undefined && { queueMs }), ...(runMs !== undefined && { runMs }) });
    });
  }
  return out;
}

/** Nearest-rank percentiles of `values` (ms). */
export function percentiles(values: readonly number[]): Percentiles | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
  return { p50: at(0.5), p95: at(0.95), samples: sorted.length };
}

/** Throughput and p50/p95 queue wait and run time of one kind's finished jobs over `windowMs`. */
export function queueWindowStats(finished: readonly FinishedJob[], kind: JobKind, windowMs: number): QueueWindowStats {
  const mine = finished.filter((j) => j.kind === kind);
  const by = (s: TerminalJobStatus) => mine.filter((j) => j.status === s).length;
  return {
    finished: mine.length,
    succeeded: by('succeeded'),
    failed: by('failed'),
    canceled: by('canceled'),
    perHour: Math.round((mine.length * 3_600_000) / Math.max(1, windowMs) * 10) / 10,
    queueWaitMs: percentiles(mine.flatMap((j) => (j.queueMs === undefined ? [] : [j.queueMs]))),
    runMs: percentiles(mine.flatMap((j) => (j.status !== 'canceled' && j.runMs !== undefined ? [j.runMs] : []))),
  };
}
