import { JOB_KINDS, listHostStatuses, type BatchClient, type JobClient } from '@asyncdiff/queue';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import { collectProcessMetrics } from './process-metrics.js';

/** Latency buckets in seconds: 1 ms … 10 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The API's metric families (names are what the Grafana dashboard and the alert rules use). */
export interface ApiMetrics {
  /** This API's own prom-client registry (never the global one: tests run several APIs per process). */
  readonly registry: Registry;
  /** `asyncdiff_http_requests_total{method,route,status}` */
  readonly requests: Counter<'method' | 'route' | 'status'>;
  /** `asyncdiff_http_request_duration_seconds{method,route}` */
  readonly latency: Histogram<'method' | 'route'>;
  /** `asyncdiff_webhook_deliveries_total{outcome}` (delivered | retry | gave_up), this process */
  readonly webhookDeliveries: Counter<'outcome'>;
  /** `asyncdiff_sse_dropped_total{reason}`: streams cut because their reader fell behind (this process). */
  readonly sseDropped: Counter<'reason'>;
  /** Currently open SSE streams of this process. */
  sseStreams: number;
  /** The exposition text (Prometheus text format 0.0.4). */
  render(): Promise<string>;
  /** Its content type. */
  readonly contentType: string;
}

/**
 * Creates the registry: per-process families (HTTP, webhooks, SSE, and the process and event-loop
 * families), plus scrape-time families read from Redis so they are fleet-wide:
 * `asyncdiff_queue_jobs{queue,state}` (BullMQ counts), `asyncdiff_queued_work_units`,
 * `asyncdiff_jobs_finished_total{kind,status}` (terminal states, counted atomically by the
 * transition script), `asyncdiff_batches{state}` and `asyncdiff_gpu_hosts` (live heartbeats).
 * Job latency (queue wait, run time, per step) is observed where it happens, on the GPU hosts'
 * own `/metrics`, as histograms that Prometheus can aggregate across hosts.
 *
 * A Redis read that fails leaves its family without samples for that scrape (the other families
 * still render); `AsyncdiffRedisUnreachableFromApi` alerts on exactly that.
 */
export function createApiMetrics(jobs: JobClient, batches?: BatchClient): ApiMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry);
  const registers = [registry];
  const sseDropped = new Counter({ name: 'asyncdiff_sse_dropped_total', help: 'SSE streams cut by the server, by reason (this process).', labelNames: ['reason'] as const, registers });
  // Exported from the start (at 0), so rate() and dashboards see the series before the first drop.
  sseDropped.inc({ reason: 'slow_reader' }, 0);
  const metrics: ApiMetrics = {
    registry,
    requests: new Counter({ name: 'asyncdiff_http_requests_total', help: 'HTTP requests by route template and status.', labelNames: ['method', 'route', 'status'] as const, registers }),
    latency: new Histogram({ name: 'asyncdiff_http_request_duration_seconds', help: 'HTTP request latency by route template.', labelNames: ['method', 'route'] as const, buckets: LATENCY_BUCKETS, registers }),
    webhookDeliveries: new Counter({ name: 'asyncdiff_webhook_deliveries_total', help: 'Webhook delivery attempts by outcome (this process).', labelNames: ['outcome'] as const, registers }),
    sseDropped,
    sseStreams: 0,
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
  new Gauge({
    name: 'asyncdiff_sse_streams',
    help: 'Open SSE event streams (this process).',
    registers,
    collect() {
      this.set(metrics.sseStreams);
    },
  });
  fromRedis(registry, 'asyncdiff_queued_work_units', 'Work units of jobs not yet ended, fleet-wide (what MAX_QUEUED_WORK_TOTAL caps).', [], async () => [
    { labels: {}, value: Number((await jobs.redis.get(jobs.keys.queuedWorkTotal)) ?? 0) },
  ]);
  fromRedis(registry, 'asyncdiff_queue_jobs', 'Jobs in each BullMQ queue by state.', ['queue', 'state'], async () => {
    const counts = await jobs.queueCounts();
    return JOB_KINDS.flatMap((kind) => Object.entries(counts[kind]).map(([state, value]) => ({ labels: { queue: kind, state }, value })));
  });
  fromRedis(
    registry,
    'asyncdiff_jobs_finished_total',
    'Jobs that reached a terminal status, by kind and status.',
    ['kind', 'status'],
    async () => {
      const counts = await jobs.terminalCounts();
      return Object.entries(counts).map(([key, value]) => {
        const [kind = '', status = ''] = key.split(':');
        return { labels: { kind, status }, value };
      });
    },
    'counter',
  );
  if (batches) {
    fromRedis(registry, 'asyncdiff_batches', 'Batches by state: open (not yet finalised) and each final state.', ['state'], async () => {
      const counts = await batches.stateCounts();
      return Object.entries(counts).map(([state, value]) => ({ labels: { state }, value }));
    });
  }
  fromRedis(registry, 'asyncdiff_gpu_hosts', 'GPU hosts with a live heartbeat.', [], async () => [{ labels: {}, value: (await listHostStatuses(jobs.redis, jobs.keys.prefix)).length }]);
  return metrics;
}

type Sample = { labels: Record<string, string>; value: number };

/**
 * A family whose samples are read from Redis at scrape time. It is a gauge to prom-client (which
 * lets us set values), exposed with `type` (a Redis-side counter stays a counter to Prometheus).
 * On a failed read the family has no samples in that scrape (NaN for an unlabelled one, which
 * prom-client would otherwise report as 0).
 */
function fromRedis(registry: Registry, name: string, help: string, labelNames: readonly string[], read: () => Promise<Sample[]>, type: 'gauge' | 'counter' = 'gauge'): void {
  const gauge = new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      let samples: Sample[];
      try {
        samples = await read();
      } catch {
        this.reset();
        if (labelNames.length === 0) this.set(NaN);
        return;
      }
      this.reset();
      for (const s of samples) this.set(s.labels, s.value);
    },
  });
  if (type === 'counter') {
    // prom-client has no settable counter; the exposition only needs the TYPE line to say so.
    const get = gauge.get.bind(gauge);
    gauge.get = async () => ({ ...(await get()), type: 'counter' as never });
  }
}
