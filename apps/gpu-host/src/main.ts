#!/usr/bin/env node
/**
 * Runs a GPU host standalone (`node apps/gpu-host/dist/main.js`), configured from the
 * environment (see `gpuHostOptionsFromEnv`), logging JSON lines to stdout and serving
 * `/metrics`, `/healthz` and `/readyz` on GPU_HOST_METRICS_PORT (default 9464, on 127.0.0.1
 * unless GPU_HOST_METRICS_HOST says otherwise; `off` for none). SIGTERM/SIGINT drain it:
 * running jobs finish their current step, are checkpointed and handed back; a second signal, or
 * the close deadline, exits at once (stage processes exit when their coordinator goes away).
 */
import { hostname } from 'node:os';

import { gpuHostOptionsFromEnv } from './env.js';
import { startGpuHost } from './host.js';
import { createHostLogger } from './telemetry/logger.js';

/** The standalone host's metrics port, the Prometheus exporter convention's 9464. */
const DEFAULT_METRICS_PORT = 9464;

const { logLevel, ...options } = gpuHostOptionsFromEnv();
const hostId = options.hostId ?? `${hostname()}/${process.pid}`;
const logger = createHostLogger({ hostId, ...(logLevel !== undefined && { level: logLevel }) });
const exit = (code: number): void => logger.flush(() => process.exit(code));
const host = await startGpuHost({
  ...options,
  hostId,
  metricsPort: options.metricsPort === undefined ? DEFAULT_METRICS_PORT : options.metricsPort,
  logger,
  log: (message) => logger.info(message),
  onError: (err) => logger.error({ err }, 'background error'),
});
logger.info({ groups: host.groups, metrics: host.probeUrl ?? null }, `ready: ${host.groups.map((g) => `${g.id}=[${g.devices.join(' ')}]`).join(' ')}${host.probeUrl ? ` (metrics ${host.probeUrl}/metrics)` : ''}`);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) {
    logger.warn({ signal }, `${signal} again: exiting now`);
    exit(1);
    return;
  }
  stopping = true;
  logger.info({ signal }, `${signal}: draining`);
  const deadlineMs = (options.closeDeadlineMs ?? 30_000) + 5_000;
  setTimeout(() => {
    logger.warn({}, 'drain deadline passed: exiting');
    exit(1);
  }, deadlineMs).unref();
  host.close().then(
    () => {
      logger.info({}, 'drained');
      exit(0);
    },
    (err: unknown) => {
      logger.error({ err }, 'close failed');
      exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
