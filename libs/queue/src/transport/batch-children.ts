
import type { BatchChild } from '../domain/batch-record.js';
import { recordFromHash, type JobRecord } from '../domain/job-record.js';
import type { KeyLayout } from './keys.js';
import { isJobStatus } from '../domain/lifecycle.js';
import type { RedisClient } from './redis.js';

const LIGHT_FIELDS = ['status', 'progress', 'startedAt', 'finishedAt', 'error', 'attempts'] as const;
const CHUNK = 1000;

/** A child whose record expired: reported failed, so a batch can still close. */
const expired = (index: number, jobId: string): BatchChild => ({
  index,
  jobId,
  status: 'failed',
  percent: 0,
  attempts: 0,
  error: { code: 'RECORD_EXPIRED', message: `the record of job ${jobId} expired` },
  outputs: [],
  timings: {},
});

/** The batch's current child ids, in index order. */
export async function memberIds(redis: RedisClient, keys: KeyLayout, batchId: string): Promise<string[]> {
  return redis.lrange(keys.batchMembers(batchId), 0, -1);
}

/**
 * Reads children: `light` (status, progress, start/end, error: enough for counts, progress and
 * ETA; a few fields per child, pipelined) or full records (for pages and the manifest).
 */
export async function readChildren(redis: RedisClient, keys: KeyLayout, ids: readonly string[], mode: 'light' | 'full', offset = 0): Promise<BatchChild[]> {
  const out: BatchChild[] = [];
  for (let start = 0; start < ids.length; start += CHUNK) {
    const chunk = ids.slice(start, start + CHUNK);
    const pipeline = redis.pipeline();
    for (const id of chunk) {
      if (mode === 'light') pipeline.hmget(keys.record(id), ...LIGHT_FIELDS);
      else pipeline.hgetall(keys.record(id));
    }
    const results = (await pipeline.exec()) ?? [];
    chunk.forEach((jobId, i) => {
      const index = offset + start + i;
      const [err, value] = results[i] ?? [null, null];
      if (err) throw err;
      if (mode === 'full') {
        const record = recordFromHash((value ?? {}) as Record<string, string>);
        out.push(record ? childOfRecord(index, record) : expired(index, jobId));
        return;
      }
      const [status, progress, startedAt, finishedAt, error, attempts] = (value ?? []) as Array<string | null>;
      if (!isJobStatus(status)) {
        out.push(expired(index, jobId));
        return;
      }
      out.push({
        index,
        jobId,
        status,
        percent: percentOf(progress),
        ...(startedAt ? { startedAt: Number(startedAt) } : {}),
        ...(finishedAt ? { finishedAt: Number(finishedAt) } : {}),
        ...(error ? { error: parseError(error) } : {}),
        attempts: Number(attempts ?? 0),
        outputs: [],
        timings: {},
      });
    });
  }
  return out;
}

/** A full record as a batch child. */
export function childOfRecord(index: number, r: JobRecord): BatchChild {
  return {
    index,
    jobId: r.id,
    status: r.status,
    spec: r.spec,
    percent: r.progress.percent,
    createdAt: r.createdAt,
    ...(r.startedAt !== undefined && { startedAt: r.startedAt }),
    ...(r.finishedAt !== undefined && { finishedAt: r.finishedAt }),
    attempts: r.attempts,
    ...(r.host !== undefined && { host: r.host }),
    ...(r.error !== undefined && { error: r.error }),
    outputs: r.outputs,
    timings: r.timings,
    ...(r.retryOf !== undefined && { retryOf: r.retryOf }),
  };
}

function percentOf(progress: string | null | undefined): number {
  if (!progress) return 0;
  try {
    const p = (JSON.parse(progress) as { percent?: unknown }).percent;
    return typeof p === 'number' && Number.isFinite(p) ? p : 0;
  } catch {
    return 0;
  }
}

function parseError(text: string): { code: string; message: string } {
  try {
    const e = JSON.parse(text) as { code?: unknown; message?: unknown };
    return { code: String(e.code ?? 'JOB_FAILED'), message: String(e.message ?? '') };
  } catch {
    return { code: 'JOB_FAILED', message: text };
  }
}

/** Earlier job ids of each child that is a retry, following `retryOf` (oldest first, ≤ 20 hops). */
export async function retryChains(redis: RedisClient, keys: KeyLayout, children: readonly BatchChild[]): Promise<Map<string, string[]>> {
  const chains = new Map<string, string[]>();
  let frontier = children.filter((c) => c.retryOf !== undefined).map((c) => ({ jobId: c.jobId, next: c.retryOf as string }));
  for (let hop = 0; hop < 20 && frontier.length; hop++) {
    const pipeline = redis.pipeline();
    for (const f of frontier) pipeline.hget(keys.record(f.next), 'retryOf');
    const results = (await pipeline.exec()) ?? [];
    const next: typeof frontier = [];
    frontier.forEach((f, i) => {
      chains.set(f.jobId, [f.next, ...(chains.get(f.jobId) ?? [])]);
      const parent = results[i]?.[1];
      if (typeof parent === 'string' && parent) next.push({ jobId: f.jobId, next: parent });
    });
    frontier = next;
  }
  return chains;
}
