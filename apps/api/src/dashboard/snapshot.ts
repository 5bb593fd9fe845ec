import {
  finishedJobsSince,
  JOB_KINDS,
  listHostStatuses,
  queueWindowStats,
  STEP_SECONDS_BUCKETS,
  summarizeFromCounters,
  type BatchClient,
  type HostStatus,
  type JobClient,
  type JobKind,
  type JobRecord,
  type QueueWindowStats,
  type StepTimeHistogram,
} from '@asyncdiff/queue';

import type { UrlFor } from '../deps.js';
import { toBatchView, type BatchView } from '../views/batch-view.js';
import { historyReader, type QueueHistory } from './history.js';

/** One queue on the dashboard. */
export interface QueueRow {
  readonly name: string;
  readonly kind: JobKind | 'batches';
  readonly paused: boolean;
  readonly counts: Readonly<Record<string, number>>;
  /** Throughput and p50/p95 queue wait / run time over the last hour (job queues only). */
  readonly lastHour: QueueWindowStats | null;
}

/** One job on the dashboard (recent, failed or searched). */
export interface JobRow {
  readonly id: string;
  readonly type: JobKind;
  readonly status: JobRecord['status'];
  readonly model: string;
  readonly prompt: string;
  readonly seed: number;
  readonly steps: number;
  readonly step: number;
  readonly percent: number;
  readonly host: string | null;
  readonly batchId: string | null;
  readonly attempts: number;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly retryOf: string | null;
  readonly retriedBy: string | null;
}

/** A recent output in the gallery. */
export interface GalleryItem {
  readonly jobId: string;
  readonly kind: 'image' | 'video';
  readonly contentType: string;
  readonly url: string;
  readonly prompt: string;
  readonly seed: number;
}

/** A GPU host as the dashboard shows it: its heartbeat plus how old it is. */
export interface HostRow extends HostStatus {
  readonly heartbeatAgeMs: number;
  /** False when the last heartbeat is older than 3 intervals. */
  readonly alive: boolean;
}

/** Everything the dashboard page shows, sent whole on connect and on each change. */
export interface DashboardSnapshot {
  readonly at: string;
  readonly queues: readonly QueueRow[];
  readonly hosts: readonly HostRow[];
  readonly batches: readonly BatchView[];
  readonly jobs: readonly JobRow[];
  readonly failed: readonly JobRow[];
  readonly gallery: readonly GalleryItem[];
  /** Queue depth and completions per minute over the last hour (the charts). */
  readonly history: QueueHistory;
  /** Step times by model and mode, summed over live hosts since they started (the histogram chart). */
  readonly stepTimes: StepTimes;
}

/** Step-time histograms of the fleet: `counts[i]` steps fell in bucket i (≤ `bucketsSec[i]`; the last: above all). */
export interface StepTimes {
  readonly bucketsSec: readonly number[];
  readonly series: readonly StepTimeHistogram[];
}

/** Sums the hosts' step-time histograms per model and mode (hosts count their own steps, so sums do not double count). */
export function fleetStepTimes(hosts: readonly HostStatus[]): StepTimes {
  const byKey = new Map<string, { model: string; mode: StepTimeHistogram['mode']; counts: number[]; sumSec: number; count: number }>();
  for (const h of hosts) {
    for (const t of h.stepTimes ?? []) {
      const key = `${t.model}\u0000${t.mode}`;
      let sum = byKey.get(key);
      if (!sum) byKey.set(key, (sum = { model: t.model, mode: t.mode, counts: new Array<number>(STEP_SECONDS_BUCKETS.length + 1).fill(0), sumSec: 0, count: 0 }));
      t.counts.forEach((c, i) => {
        if (i < sum.counts.length) sum.counts[i] = (sum.counts[i] ?? 0) + c;
      });
      sum.sumSec += t.sumSec;
      sum.count += t.count;
    }
  }
  const series = [...byKey.values()].sort((a, b) => a.model.localeCompare(b.model) || a.mode.localeCompare(b.mode));
  return { bucketsSec: STEP_SECONDS_BUCKETS, series };
}

/** What building a snapshot needs. */
export interface SnapshotSource {
  readonly jobs: JobClient;
  readonly batches: BatchClient | undefined;
  readonly urlFor: UrlFor | undefined;
  readonly outputUrlExpiresInSec: number;
}

const HOUR_MS = 3_600_000;
const STATS_TTL_MS = 2000;

/** Builds snapshots; the last-hour statistics are cached for a few seconds. */
export function snapshotBuilder(source: SnapshotSource): () => Promise<DashboardSnapshot> {
  let stats: { at: number; byKind: Record<JobKind, QueueWindowStats> } | undefined;
  const lastHour = async (): Promise<Record<JobKind, QueueWindowStats>> => {
    const now = Date.now();
    if (stats && now - stats.at < STATS_TTL_MS) return stats.byKind;
    const finished = await finishedJobsSince(source.jobs.redis, source.jobs.keys, now - HOUR_MS);
    const byKind = Object.fromEntries(JOB_KINDS.map((k) => [k, queueWindowStats(finished, k, HOUR_MS)])) as Record<JobKind, QueueWindowStats>;
    stats = { at: now, byKind };
    return byKind;
  };

  const history = historyReader(source.jobs);
  return async () => {
    const { jobs, batches } = source;
    const now = Date.now();
    const [stats_, hosts, running, recent, failed, succeeded, batchPage, history_] = await Promise.all([
      lastHour(),
      listHostStatuses(jobs.redis, jobs.keys.prefix),
      jobs.list({ status: 'running', limit: 20 }),
      jobs.list({ limit: 100 }),
      jobs.list({ status: 'failed', limit: 15 }),
      jobs.list({ status: 'succeeded', limit: 12 }),
      batches ? batches.list({ limit: 8 }) : Promise.resolve({ batches: [], nextCursor: null }),
      history(),
    ]);
    const queues: QueueRow[] = [];
    for (const q of [...jobs.bullQueues(), ...(batches ? [batches.queue] : [])]) {
      const kind = (JOB_KINDS as readonly string[]).includes(q.name) ? (q.name as JobKind) : q.name === 'batches' ? 'batches' : undefined;
      if (!kind) continue;
      const counts = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'paused', 'waiting-children');
      queues.push({ name: q.name, kind, paused: await q.isPaused(), counts, lastHour: kind === 'batches' ? null : stats_[kind] });
    }
    const batchViews: BatchView[] = [];
    for (const b of batchPage.batches) {
      // Counters on the record: refreshing the page every second never reads every child.
      const s = summarizeFromCounters(b, now) ?? (await batches?.summary(b.id, { failedLimit: 5 }));
      if (s) batchViews.push(await toBatchView(s, source.urlFor, source.outputUrlExpiresInSec, now));
    }
    const gallery: GalleryItem[] = [];
    if (source.urlFor) {
      for (const job of succeeded.jobs) {
        const output = job.outputs.find((o) => o.kind === 'image' || o.kind === 'video');
        if (!output || (output.kind !== 'image' && output.kind !== 'video')) continue;
        const url = await source.urlFor(output.key, { expiresInSec: source.outputUrlExpiresInSec });
        gallery.push({ jobId: job.id, kind: output.kind, contentType: output.contentType, url, prompt: job.spec.prompt, seed: job.spec.seed });
      }
    }
    const live = hosts.filter((h) => now - h.lastHeartbeatAt <= 3 * h.heartbeatIntervalMs);
    return {
      at: new Date(now).toISOString(),
      queues,
      hosts: hosts.map((h) => ({ ...h, heartbeatAgeMs: Math.max(0, now - h.lastHeartbeatAt), alive: now - h.lastHeartbeatAt <= 3 * h.heartbeatIntervalMs })),
      batches: batchViews,
      jobs: recentJobs(running.jobs, recent.jobs, 25).map(jobRow),
      failed: failed.jobs.map(jobRow),
      gallery,
      history: history_,
      stepTimes: fleetStepTimes(live),
    };
  };
}

/**
 * The jobs panel: running jobs first, then the newest others — leaving out batch children still
 * queued (a 1,000-child batch would otherwise fill the panel; its progress bar covers them).
 */
export function recentJobs(running: readonly JobRecord[], recent: readonly JobRecord[], limit: number): JobRecord[] {
  const seen = new Set<string>();
  const out: JobRecord[] = [];
  for (const j of [...running, ...recent.filter((r) => !(r.batchId && r.status === 'queued'))]) {
    if (seen.has(j.id) || out.length >= limit) continue;
    seen.add(j.id);
    out.push(j);
  }
  return out;
}

/** The dashboard's row of a job record. */
export function jobRow(r: JobRecord): JobRow {
  return {
    id: r.id,
    type: r.kind,
    status: r.status,
    model: r.spec.model,
    prompt: r.spec.prompt,
    seed: r.spec.seed,
    steps: r.progress.steps,
    step: r.progress.step,
    percent: r.progress.percent,
    host: r.host ?? null,
    batchId: r.batchId ?? null,
    attempts: r.attempts,
    createdAt: new Date(r.createdAt).toISOString(),
    finishedAt: r.finishedAt === undefined ? null : new Date(r.finishedAt).toISOString(),
    error: r.error ?? null,
    retryOf: r.retryOf ?? null,
    retriedBy: r.retriedBy ?? null,
  };
}
