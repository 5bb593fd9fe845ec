import { finishedJobsSince, JOB_KINDS, listHostStatuses, queueWindowStats, type BatchClient, type JobClient, type QueueWindowStats } from '@asyncdiff/queue';

import { MetricsRegistry, type Counter, type Histogram } from './registry.js';

/** Latency buckets in seconds: 1 ms … 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The API's metric families (names are what the Grafana dashboard and alerts use). */
export interface ApiMetrics {
  readonly registry: MetricsRegistry;
  /** `asyncdiff_http_requests_total{method,route,status}` */
  readonly requests: Counter;
  /** `asyncdiff_http_request_duration_seconds{method,route}` */
  readonly latency: Histogram;
  /** `asyncdiff_webhook_deliveries_total{outcome}` (delivered | retry | gave_up), this process */
  readonly webhookDeliveries: Counter;
  /** Currently open SSE streams of this process. */
  sseStreams: number;
}

/**
 * Creates the registry, including scrape-time families read from Redis so they are fleet-wide:
 * `asyncdiff_queue_jobs{queue,state}` (BullMQ counts),
 * `asyncdiff_jobs_finished_total{kind,status}` (terminal states, counted atomically by the
 * transition script), `asyncdiff_job_latency_seconds{kind,phase,quantile}` (p50/p95 queue wait
 * and run time over the last hour, from job records), `asyncdiff_batches{state}` and
 * `asyncdiff_gpu_hosts` (live heartbeats).
 */
export function createApiMetrics(jobs: JobClient, batches?: BatchClient): ApiMetrics {
  const registry = new MetricsRegistry();
  const metrics: ApiMetrics = {
    registry,
    requests: registry.counter('asyncdiff_http_requests_total', 'HTTP requests by route template and status.'),
    latency: registry.histogram('asyncdiff_http_request_duration_seconds', 'HTTP request latency by route template.', LATENCY_BUCKETS),
    webhookDeliveries: registry.counter('asyncdiff_webhook_deliveries_total', 'Webhook delivery attempts by outcome (this process).'),
    sseStreams: 0,
  };
  registry.collect('asyncdiff_sse_streams', 'Open SSE event streams (this process).', 'gauge', async () => [{ labels: {}, value: metrics.sseStreams }]);
  registry.collect('asyncdiff_queue_jobs', 'Jobs in each BullMQ queue by state.', 'gauge', async () => {
    const counts = await jobs.queueCounts();
    return JOB_KINDS.flatMap((kind) => Object.entries(counts[kind]).map(([state, value]) => ({ labels: { queue: kind, state }, value })));
  });
  registry.collect('asyncdiff_jobs_finished_total', 'Jobs that reached a terminal status, by kind and status.', 'counter', async () => {
    const counts = await jobs.terminalCounts();
    return Object.entries(counts).map(([key, value]) => {
      const [kind = '', status = ''] = key.split(':');
      return { labels: { kind, status }, value };
    });
  });
  let latency: { at: number; byKind: Record<string, QueueWindowStats> } | undefined;
  registry.collect('asyncdiff_job_latency_seconds', 'p50/p95 queue wait and run time of jobs that ended in the last hour (NaN without samples).', 'gauge', async () => {
    const now = Date.now();
    if (!latency || now - latency.at > 10_000) {
      const finished = await finishedJobsSince(jobs.redis, jobs.keys, now - 3_600_000);
      latency = { at: now, byKind: Object.fromEntries(JOB_KINDS.map((k) => [k, queueWindowStats(finished, k, 3_600_000)])) };
    }
    const byKind = latency.byKind;
    return JOB_KINDS.flatMap((kind) =>
      (['queue_wait', 'run'] as const).flatMap((phase) => {
        const p = phase === 'run' ? byKind[kind]?.runMs : byKind[kind]?.queueWaitMs;
        return [
          { labels: { kind, phase, quantile: '0.5' }, value: p ? p.p50 / 1000 : NaN },
          { labels: { kind, phase, quantile: '0.95' }, value: p ? p.p95 / 1000 : NaN },
        ];
      }),
    );
  });
  if (batches) {
    registry.collect('asyncdiff_batches', 'Batches by state: open (not yet finalised) and each final state.', 'gauge', async () => {
      const counts = await batches.stateCounts();
      return Object.entries(counts).map(([state, value]) => ({ labels: { state }, value }));
    });
  }
  registry.collect('asyncdiff_gpu_hosts', 'GPU hosts with a live heartbeat.', 'gauge', async () => [
    { labels: {}, value: (await listHostStatuses(jobs.redis, jobs.keys.prefix)).length },
  ]);
  return metrics;
}
