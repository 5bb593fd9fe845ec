import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  createBatchClient,
  createJobClient,
  createWebhookTargetGuard,
  startBatchWorker,
  startJobReconciler,
  type BatchClient,
  type BatchWorker,
  type FinalizationOutcome,
  type JobClient,
  type JobClientOptions,
  type JobReconciler,
  type WebhookTargetGuardOptions,
  type WebhookWorker,
} from '@asyncdiff/queue';
import type { Express } from 'express';

import { buildApp, type BuiltApp } from './app.js';
import { assertSafeBind } from './bind-policy.js';
import { trackConnections, type ConnectionTracker } from './http/connections.js';
import { createBatchFinalizer, type ArtifactStore } from './batches/finalizer.js';
import { startDepthRecorder } from './dashboard/history.js';
import { urlResolver, type ApiDeps, type Logger } from './deps.js';
import { createLogger, type LogLevel } from './log/logger.js';
import { createApiMetrics } from './metrics/api-metrics.js';
import { keysConfigured, resolveApiOptions, type ApiOptions, type ResolvedApiOptions } from './options.js';
import { startOutputSweeper, type OutputStore, type OutputSweeper, type SweepReport } from './retention/output-sweeper.js';
import { sharedWebhookSecret, startWebhookDeliverer } from './webhooks/deliverer.js';
import { formatWebhookSecret, parseWebhookSecret, type WebhookSigningKeys } from './webhooks/signing-keys.js';

/** Options of `startApi`: the HTTP options plus where to listen and how to reach the queue. */
export interface StartApiOptions extends ApiOptions {
  /** @defaultValue 8080 (0 picks a free port) */
  port?: number;
  /** @defaultValue `127.0.0.1` */
  host?: string;
  /**
   * Listen on a non-loopback `host` although no API key is configured (anyone who can reach the
   * port could then read and cancel every job). Refused without this. @defaultValue false
   */
  insecure?: boolean;
  /** Queue settings (Redis URL, prefix, TTLs) for the job client `startApi` creates. */
  queue?: JobClientOptions;
  /** Use this client instead of creating one (it is then not closed by `close()`). */
  jobs?: JobClient;
  outputUrls?: ApiDeps['outputUrls'];
  readiness?: ApiDeps['readiness'];
  files?: ApiDeps['files'];
  /** @defaultValue JSON lines on stdout through pino, at `logLevel` */
  logger?: Logger;
  /** Level of the default logger (env `LOG_LEVEL`). @defaultValue 'info' */
  logLevel?: LogLevel;
  /**
   * Secret webhook deliveries are signed with: `whsec_<base64>` (Standard Webhooks), or a free-text
   * secret of at least 16 characters from an earlier release. @defaultValue one generated once per
   * Redis (`whsec_…`) and shared
   */
  webhookSecret?: string;
  /**
   * Secrets that still sign every delivery during a rotation (`webhook-signature` then carries one
   * signature per secret): set the new one as `webhookSecret`, the old one here, drop it once
   * every receiver has the new one. @defaultValue []
   */
  webhookPreviousSecrets?: readonly string[];
  /**
   * Also sign with the legacy `Asyncdiff-Signature` header (env `WEBHOOK_LEGACY_SIGNATURE`).
   * @defaultValue false
   * @deprecated Kept for one release, for receivers not yet verifying Standard Webhooks.
   */
  webhookLegacySignature?: boolean;
  /**
   * Where outputs live, for the output sweeper (`storageDeps(store)` passes it): with a retention
   * (`outputRetentionDays`) it deletes the files of jobs whose outputs expired.
   */
  outputStore?: OutputStore;
  /** How often the output sweeper runs; 0: never (a CLI or another process sweeps). @defaultValue 3600000 */
  outputSweepIntervalMs?: number;
  /** Deliver webhooks from this process. @defaultValue true */
  deliverWebhooks?: boolean;
  /** Per-attempt webhook timeout. @defaultValue 10000 */
  webhookTimeoutMs?: number;
  /**
   * Where webhooks may go (env `WEBHOOK_ALLOW_PRIVATE`, `WEBHOOK_ALLOW_HOSTS`, `WEBHOOK_ALLOW_CIDRS`)
   * and how their hosts are resolved, at submit and at every delivery. When `jobs` is given, its
   * own guard vets submissions. @defaultValue public addresses only, system resolver
   */
  webhookTargets?: WebhookTargetGuardOptions;
  /** Extra CA certificates (PEM) trusted for https webhook receivers. */
  webhookCa?: string;
  /** Webhook deliveries in flight from this process. @defaultValue 16 */
  webhookConcurrency?: number;
  /** Webhook deliveries in flight to one receiver (`host:port`) from this process. @defaultValue 2 */
  webhookPerReceiverConcurrency?: number;
  /**
   * How often queued/running jobs that BullMQ failed or lost are looked for and failed
   * (`JobClient.reconcile`); 0 disables. @defaultValue 15000
   */
  reconcileIntervalMs?: number;
  /**
   * The fleet's object store: batch manifests and contact sheets are written to it, and the
   * children's outputs read from it (`storageDeps(store)` passes it). Without one, batches still
   * finish but write no artefacts.
   */
  objectStore?: ArtifactStore;
  /** Finalise batches (manifest, contact sheet) from this process. @defaultValue true */
  finalizeBatches?: boolean;
  /** How often queue depth is sampled for the dashboard's last-hour chart; 0 disables. @defaultValue 15000 */
  depthSampleIntervalMs?: number;
}

/** A listening API. */
export interface ApiServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  readonly app: Express;
  readonly server: Server;
  readonly jobs: JobClient;
  readonly batches: BatchClient;
  /** The secret webhook receivers verify signatures with, `whsec_…` (what any Standard Webhooks library takes). */
  readonly webhookSecret: string;
  /** Runs the output sweeper now (also when its timer is off; nothing without `outputStore`); resolves with what it removed. */
  sweepOutputs(): Promise<SweepReport>;
  /**
   * Stops accepting connections, ends open SSE streams, lets in-flight requests finish for up to
   * `drainTimeoutMs` (then cuts what is left), stops webhook delivery and the batch finaliser,
   * closes the client it created. Repeat-safe.
   */
  close(): Promise<void>;
}

/** Creates the job client, the app and the webhook deliverer, and listens. */
export async function startApi(options: StartApiOptions = {}): Promise<ApiServer> {
  const logger = options.logger ?? createLogger({ level: options.logLevel ?? 'info' });
  const apiOptions = resolveApiOptions(options);
  const host = options.host ?? '127.0.0.1';
  assertSafeBind(host, keysConfigured(apiOptions), options.insecure ?? false, 'the insecure option');
  const ownsClient = options.jobs === undefined;
  const webhookGuard = options.webhookTargets || !options.jobs ? createWebhookTargetGuard(options.webhookTargets) : options.jobs.webhookGuard;
  const jobs = options.jobs ?? createJobClient({ onError: (err) => logger.warn('queue error', err), webhookGuard, ...options.queue });
  const batches = createBatchClient({ jobs, onError: (err) => logger.warn('batch error', err) });
  const metrics = createApiMetrics(jobs, batches);
  let deliverer: WebhookWorker | undefined;
  let finalizer: BatchWorker | undefined;
  let reconciler: JobReconciler | undefined;
  let depth: { close(): Promise<void> } | undefined;
  let sweeper: OutputSweeper | undefined;
  let server: Server | undefined;
  let built: BuiltApp | undefined;
  try {
    const signingKeys = webhookSigningKeys(await sharedWebhookSecret(jobs, options.webhookSecret), options.webhookPreviousSecrets ?? []);
    const webhookSecret = formatWebhookSecret(signingKeys.current);
    built = buildApp({
      jobs,
      batches,
      options,
      metrics,
      logger,
      webhookSecret: { key: webhookSecret, previousKeys: signingKeys.previous.map(formatWebhookSecret) },
      ...(options.outputUrls !== undefined && { outputUrls: options.outputUrls }),
      ...(options.readiness !== undefined && { readiness: options.readiness }),
      ...(options.files !== undefined && { files: options.files }),
    });
    const { app } = built;
    if (options.deliverWebhooks ?? true) {
      deliverer = startWebhookDeliverer({
        jobs,
        keys: signingKeys,
        ...(options.webhookLegacySignature !== undefined && { legacySignature: options.webhookLegacySignature }),
        urlFor: urlResolver(options.outputUrls),
        outputUrlExpiresInSec: apiOptions.outputUrlExpiresInSec,
        metrics,
        logger,
        batches,
        guard: webhookGuard,
        ...(options.webhookTimeoutMs !== undefined && { timeoutMs: options.webhookTimeoutMs }),
        ...(options.webhookCa !== undefined && { ca: options.webhookCa }),
        ...(options.webhookConcurrency !== undefined && { concurrency: options.webhookConcurrency }),
        ...(options.webhookPerReceiverConcurrency !== undefined && { perReceiverConcurrency: options.webhookPerReceiverConcurrency }),
      });
    }
    if (options.reconcileIntervalMs !== 0) {
      reconciler = startJobReconciler({
        jobs,
        ...(options.reconcileIntervalMs !== undefined && { intervalMs: options.reconcileIntervalMs }),
        onReconciled: (report) => logger.warn(`reconciler: ${report.failed} job(s) BullMQ had failed or lost were marked failed`),
        onError: (err) => logger.warn('reconciler error', err),
      });
    }
    const depthEveryMs = options.depthSampleIntervalMs ?? 15_000;
    if (depthEveryMs > 0) depth = startDepthRecorder(jobs, depthEveryMs, (err) => logger.warn('queue depth sample failed', err));
    // Without a store there is nothing to delete, and the expiry index is left for a process that has one.
    if (options.outputStore) {
      sweeper = startOutputSweeper({
        jobs,
        store: options.outputStore,
        logger,
        ...(options.outputSweepIntervalMs !== undefined && { intervalMs: options.outputSweepIntervalMs }),
      });
    }
    if (options.finalizeBatches ?? true) {
      const store = options.objectStore;
      finalizer = startBatchWorker({
        ...jobs.options,
        batches,
        finalize: store
          ? createBatchFinalizer({ store, logger })
          : async (): Promise<FinalizationOutcome> => ({ manifestKey: '', error: { code: 'NO_STORAGE', message: 'the API has no object store: no manifest or contact sheet was written' } }),
        onError: (err) => logger.warn('batch finaliser error', err),
      });
    }
    const { server: listening, connections } = listen(app, apiOptions);
    server = listening;
    listening.listen(options.port ?? 8080, host);
    await once(listening, 'listening');
    const { port, address } = listening.address() as AddressInfo;
    const shown = address.includes(':') ? `[${address}]` : address;
    const handles = built;
    const sweeps = sweeper;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${shown}:${port}`,
      port,
      app,
      server: listening,
      jobs,
      batches,
      webhookSecret,
      sweepOutputs: async () => (sweeps ? sweeps.sweepNow() : { jobs: 0, files: 0, failed: 0 }),
      close() {
        closing ??= shutdown(listening, connections, handles, apiOptions.drainTimeoutMs, [depth, reconciler, sweeper, deliverer, finalizer, batches], ownsClient ? jobs : undefined, logger);
        return closing;
      },
    };
  } catch (err) {
    await shutdown(server, undefined, built, 0, [depth, reconciler, sweeper, deliverer, finalizer, batches], ownsClient ? jobs : undefined, logger);
    throw err;
  }
}

/**
 * The HTTP server, with timeouts so a slow or idle client cannot hold sockets: the headers must
 * arrive within `headersTimeoutMs` and the whole request within `requestTimeoutMs` (answered
 * 408; a response, such as an event stream, is not limited), idle keep-alive connections close
 * after `keepAliveTimeoutMs`. Node checks the first two every `connectionsCheckingInterval`,
 * which is tightened from its 30 s default so they hold to within a second.
 */
function listen(app: Express, o: ResolvedApiOptions): { server: Server; connections: ConnectionTracker } {
  const server = createServer(
    {
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(o.headersTimeoutMs / 4))),
    },
    app,
  );
  server.keepAliveTimeout = o.keepAliveTimeoutMs;
  return { server, connections: trackConnections(server) };
}

/** Drains the server (see `ApiServer.close`), then closes workers and the client, each step on its own. */
async function shutdown(
  server: Server | undefined,
  connections: ConnectionTracker | undefined,
  app: BuiltApp | undefined,
  drainTimeoutMs: number,
  workers: ReadonlyArray<{ close(): Promise<void> } | undefined>,
  jobs: JobClient | undefined,
  logger: Logger,
): Promise<void> {
  const steps: Array<() => Promise<unknown>> = [
    async () => {
      if (!server?.listening) return;
      app?.startDraining();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Event streams never end by themselves: end them first, so clients reconnect elsewhere.
      app?.sse.closeAll();
      const closeIdle = () => {
        server.closeIdleConnections();
        connections?.closeIdle();
      };
      closeIdle();
      let drained = false;
      void closed.then(() => (drained = true));
      const deadline = Date.now() + drainTimeoutMs;
      // Connections that finish their request go idle (or close: draining responses say
      // `Connection: close`); sweep the idle ones until none is left or time is up.
      while (!drained && Date.now() < deadline) {
        await Promise.race([closed, sleep(Math.min(100, Math.max(1, deadline - Date.now())))]);
        closeIdle();
      }
      if (!drained) {
        if (drainTimeoutMs > 0) logger.warn(`API drain: requests still running after ${drainTimeoutMs} ms; closing their connections`);
        server.closeAllConnections();
        connections?.closeAll();
      }
      await closed;
    },
    ...workers.map((w) => async () => w?.close()),
    async () => jobs?.close(),
  ];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      logger.warn('API shutdown step failed', err);
    }
  }
}

/** The signing keys of the configured secrets; a malformed one throws naming its option. */
function webhookSigningKeys(current: string, previous: readonly string[]): WebhookSigningKeys {
  const parse = (secret: string, option: string) => {
    try {
      return parseWebhookSecret(secret);
    } catch (err) {
      throw new Error(`invalid option ${option}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  return { current: parse(current, 'webhookSecret'), previous: previous.map((p, i) => parse(p, `webhookPreviousSecrets[${i}]`)) };
}
