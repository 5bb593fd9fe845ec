import { JOB_KINDS, type JobClient, type JobKind } from '@asyncdiff/queue';

/** Minutes the dashboard's queue charts cover. */
export const HISTORY_MINUTES = 60;
const MINUTE_MS = 60_000;
/** Samples older than this are trimmed from Redis. */
const KEEP_MS = 2 * 3_600_000;

/**
 * The last hour of one job queue, a value per minute (oldest first): depth sampled by the API
 * (`null` where no sample was taken), completions and failures from BullMQ's built-in metrics.
 */
export interface QueueHistoryRow {
  readonly name: JobKind;
  /** Jobs waiting for a GPU host (waiting + prioritized), last sample of each minute. */
  readonly waiting: readonly (number | null)[];
  /** Jobs running, last sample of each minute. */
  readonly active: readonly (number | null)[];
  readonly completed: readonly number[];
  readonly failed: readonly number[];
}

/** The dashboard's charts of queue depth and throughput over the last hour. */
export interface QueueHistory {
  /** Start of each minute (epoch ms), oldest first; the last one is the current, partial minute. */
  readonly minutes: readonly number[];
  readonly queues: readonly QueueHistoryRow[];
}

const depthKey = (jobs: JobClient, kind: JobKind) => `${jobs.keys.prefix}:depth:${kind}`;

/**
 * Samples queue depth into Redis every `intervalMs` (and once now): one sorted-set entry per
 * queue and minute, `minute:waiting:active`, the last sample of a minute winning. Fleet-wide: every
 * API replica writes the same numbers, so any of them may sample; BullMQ itself keeps no history
 * of depth, only of completions. `close()` stops it.
 */
export function startDepthRecorder(jobs: JobClient, intervalMs: number, onError: (err: unknown) => void): { close(): Promise<void> } {
  let inflight: Promise<void> | undefined;
  const sample = async () => {
    const counts = await jobs.queueCounts();
    const minute = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    const multi = jobs.redis.multi();
    for (const kind of JOB_KINDS) {
      const c = counts[kind];
      const key = depthKey(jobs, kind);
      multi
        .zremrangebyscore(key, minute, minute)
        .zadd(key, minute, `${minute}:${c.waiting + c.prioritized}:${c.active}`)
        .zremrangebyscore(key, '-inf', `(${minute - KEEP_MS}`)
        .pexpire(key, KEEP_MS);
    }
    await multi.exec();
  };
  const tick = () => {
    inflight ??= sample()
      .catch(onError)
      .finally(() => {
        inflight = undefined;
      });
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await inflight;
    },
  };
}

/** Reads the last hour; cached for `ttlMs` so a dashboard's snapshots do not each hit Redis. */
export function historyReader(jobs: JobClient, ttlMs = 10_000): () => Promise<QueueHistory> {
  let cached: { at: number; value: QueueHistory } | undefined;
  return async () => {
    const now = Date.now();
    if (cached && now - cached.at < ttlMs) return cached.value;
    const last = Math.floor(now / MINUTE_MS);
    const first = last - HISTORY_MINUTES + 1;
    const minutes = Array.from({ length: HISTORY_MINUTES }, (_, i) => (first + i) * MINUTE_MS);
    const queues = await Promise.all(
      jobs
        .bullQueues()
        .filter((q): q is typeof q & { name: JobKind } => (JOB_KINDS as readonly string[]).includes(q.name))
        .map(async (q): Promise<QueueHistoryRow> => {
          const [completed, failed, depth] = await Promise.all([
            q.getMetrics('completed', 0, HISTORY_MINUTES),
            q.getMetrics('failed', 0, HISTORY_MINUTES),
            jobs.redis.zrangebyscore(depthKey(jobs, q.name), first * MINUTE_MS, last * MINUTE_MS),
          ]);
          const waiting = new Array<number | null>(HISTORY_MINUTES).fill(null);
          const active = new Array<number | null>(HISTORY_MINUTES).fill(null);
          for (const entry of depth) {
            const [minute, w, a] = entry.split(':').map(Number) as [number, number, number];
            const i = minute / MINUTE_MS - first;
            if (i >= 0 && i < HISTORY_MINUTES) {
              waiting[i] = w;
              active[i] = a;
            }
          }
          return { name: q.name, waiting, active, completed: perMinute(completed, first), failed: perMinute(failed, first) };
        }),
    );
    const value = { minutes, queues: JOB_KINDS.flatMap((k) => queues.filter((q) => q.name === k)) };
    cached = { at: now, value };
    return value;
  };
}

/**
 * BullMQ's metrics laid out on our minutes. BullMQ pushes a data point when the first job of a
 * new minute finishes: `data[i]` counts the minute `M − 1 − i`, where `M` is the minute of
 * `meta.prevTS`; what finished since `prevTS` (`count − prevCount`) belongs to minute `M`.
 */
export function perMinute(m: { meta: { count: number; prevTS: number; prevCount: number }; data: readonly (number | string)[] }, firstMinute: number): number[] {
  const out = new Array<number>(HISTORY_MINUTES).fill(0);
  const prevTS = Number(m.meta.prevTS);
  if (!Number.isFinite(prevTS) || prevTS <= 0) return out;
  const put = (minute: number, value: number) => {
    const i = minute - firstMinute;
    if (i >= 0 && i < HISTORY_MINUTES && Number.isFinite(value)) out[i] = (out[i] ?? 0) + value;
  };
  const prevMinute = Math.floor(prevTS / MINUTE_MS);
  put(prevMinute, Number(m.meta.count) - Number(m.meta.prevCount));
  m.data.forEach((v, i) => put(prevMinute - 1 - i, Number(v)));
  return out;
}
