import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';

import {
  createBatchClient,
  createJobClient,
  startBatchWorker,
  type BatchClient,
  type BatchWorker,
  type FinalizationOutcome,
  type JobClient,
  type JobClientOptions,
  type WebhookWorker,
} from '@asyncdiff/queue';
import type { Express } from 'express';

import { createApp } from './app.js';
import { createBatchFinalizer, type ArtifactStore } from './batches/finalizer.js';
import { urlResolver, type ApiDeps, type Logger } from './deps.js';
import { createApiMetrics } from './metrics/api-metrics.js';
import { resolveApiOptions, type ApiOptions } from './options.js';
import { sharedWebhookSecret, startWebhookDeliverer } from './webhooks/deliverer.js';

/** Options of `startApi`: the HTTP options plus where to listen and how to reach the queue. */
export interface StartApiOptions extends ApiOptions {
  /** @defaultValue 8080 (0 picks a free port) */
  port?: number;
  /** @defaultValue `127.0.0.1` */
  host?: string;
  /** Queue settings (Redis URL, prefix, TTLs) for the job client `startApi` creates. */
  queue?: JobClientOptions;
  /** Use this client instead of creating one (it is then not closed by `close()`). */
  jobs?: JobClient;
  outputUrls?: ApiDeps['outputUrls'];
  readiness?: ApiDeps['readiness'];
  files?: ApiDeps['files'];
  logger?: Logger;
  /** Secret for webhook signatures. @defaultValue one generated once per Redis and shared */
  webhookSecret?: string;
  /** Deliver webhooks from this process. @defaultValue true */
  deliverWebhooks?: boolean;
  /** Per-attempt webhook timeout. @defaultValue 10000 */
  webhookTimeoutMs?: number;
  /**
   * The fleet's object store: batch manifests and contact sheets are written to it, and the
   * children's outputs read from it (`storageDeps(store)` passes it). Without one, batches still
   * finish but write no artefacts.
   */
  objectStore?: ArtifactStore;
  /** Finalise batches (manifest, contact sheet) from this process. @defaultValue true */
  finalizeBatches?: boolean;
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
  /** The secret webhook receivers verify signatures with. */
  readonly webhookSecret: string;
  /** Stops listening, ends open streams, stops webhook delivery, closes the client it created. Repeat-safe. */
  close(): Promise<void>;
}

/** Creates the job client, the app and the webhook deliverer, and listens. */
export async function startApi(options: StartApiOptions = {}): Promise<ApiServer> {
  const logger = options.logger ?? console;
  const ownsClient = options.jobs === undefined;
  const jobs = options.jobs ?? createJobClient({ onError: (err) => logger.warn('queue error', err), ...options.queue });
  const apiOptions = resolveApiOptions(options);
  const batches = createBatchClient({ jobs, onError: (err) => logger.warn('batch error', err) });
  const metrics = createApiMetrics(jobs, batches);
  let deliverer: WebhookWorker | undefined;
  let finalizer: BatchWorker | undefined;
  let server: Server | undefined;
  try {
    const webhookSecret = await sharedWebhookSecret(jobs, options.webhookSecret);
    const app = createApp({
      jobs,
      batches,
      options: apiOptions,
      metrics,
      logger,
      ...(options.outputUrls !== undefined && { outputUrls: options.outputUrls }),
      ...(options.readiness !== undefined && { readiness: options.readiness }),
      ...(options.files !== undefined && { files: options.files }),
    });
    if (options.deliverWebhooks ?? true) {
      deliverer = startWebhookDeliverer({
        jobs,
        secret: webhookSecret,
        urlFor: urlResolver(options.outputUrls),
        outputUrlExpiresInSec: apiOptions.outputUrlExpiresInSec,
        metrics,
        logger,
        batches,
        ...(options.webhookTimeoutMs !== undefined && { timeoutMs: options.webhookTimeoutMs }),
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
    const listening = createServer(app);
    server = listening;
    listening.listen(options.port ?? 8080, options.host ?? '127.0.0.1');
    await once(listening, 'listening');
    const { port, address } = listening.address() as AddressInfo;
    const host = address.includes(':') ? `[${address}]` : address;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${host}:${port}`,
      port,
      app,
      server: listening,
      jobs,
      batches,
      webhookSecret,
      close() {
        closing ??= shutdown(listening, [deliverer, finalizer, batches], ownsClient ? jobs : undefined, logger);
        return closing;
      },
    };
  } catch (err) {
    await shutdown(server, [deliverer, finalizer, batches], ownsClient ? jobs : undefined, logger);
    throw err;
  }
}

async function shutdown(
  server: Server | undefined,
  workers: ReadonlyArray<{ close(): Promise<void> } | undefined>,
  jobs: JobClient | undefined,
  logger: Logger,
): Promise<void> {
  const steps: Array<() => Promise<unknown>> = [
    async () => {
      if (!server?.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // SSE streams never go idle: end them so close() does not wait for clients.
      setTimeout(() => server.closeAllConnections(), 1000).unref();
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
