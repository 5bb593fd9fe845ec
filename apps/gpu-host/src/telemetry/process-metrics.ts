import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * Gauges prom-client's defaults name with a `_total` suffix, which Prometheus reserves for
 * counters (`promtool check metrics` rejects them). Each is the sum of the labelled
 * `nodejs_active_*` gauge of the same name without the suffix, so nothing is lost.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/**
 * Registers the process and runtime families on `registry`: CPU, memory, file descriptors, GC,
 * heap spaces, and event-loop lag (`nodejs_eventloop_lag_*`, sampled every 10 ms), so a blocked
 * loop shows up on the dashboards before it shows up as stalled jobs.
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
}
