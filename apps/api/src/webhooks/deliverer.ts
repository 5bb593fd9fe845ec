import {
  isRetryable,
  isTerminal,
  JobFailureError,
  startWebhookWorker,
  type BatchClient,
  type JobClient,
  type Unsubscribe,
  type WebhookDelivery,
  type WebhookTargetGuard,
  type WebhookWorker,
} from '@asyncdiff/queue';

import type { Logger, UrlFor } from '../deps.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { toBatchView } from '../views/batch-view.js';
import { toJobView } from '../views/job-view.js';
import { postPinned } from './pinned-post.js';
import { enqueuePreviewDelivery } from './preview-deliveries.js';
import { SIGNATURE_HEADER, signWebhook } from './signature.js';
import { generateWebhookSecret, standardWebhookHeaders, type WebhookSigningKeys } from './signing-keys.js';

/** Settings of the webhook deliverer. */
export interface WebhookDelivererOptions {
  readonly jobs: JobClient;
  /** What deliveries are signed with (Standard Webhooks; the current key also signs the legacy header). */
  readonly keys: WebhookSigningKeys;
  /**
   * Also send the legacy `Asyncdiff-Signature` header. @defaultValue false
   * @deprecated For receivers not yet moved to Standard Webhooks; removed in the next release.
   */
  readonly legacySignature?: boolean;
  readonly urlFor: UrlFor | undefined;
  readonly outputUrlExpiresInSec: number;
  readonly metrics: ApiMetrics;
  readonly logger: Logger;
  /** Per-attempt timeout. @defaultValue 10000 */
  readonly timeoutMs?: number;
  /** For batch webhooks; without it they fail (not retried). */
  readonly batches?: BatchClient;
  /** Vets each delivery's URL again, just before connecting. @defaultValue the job client's */
  readonly guard?: WebhookTargetGuard;
  /** Extra CA certificates (PEM) trusted for https receivers. */
  readonly ca?: string;
  /** Deliveries in flight from this process. @defaultValue 16 */
  readonly concurrency?: number;
  /** Deliveries in flight to one receiver (`host:port`) from this process. @defaultValue 2 */
  readonly perReceiverConcurrency?: number;
}

/**
 * Delivers webhooks from the `webhooks` queue, signed per Standard Webhooks (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`; with `legacySignature` also the deprecated
 * `Asyncdiff-Signature`). Bodies, by event: `completed` → `{type: "job.<status>", event, id, at,
 * job}`; `start` → `{type: "job.running", event, id, at, job}`; `preview` → `{type:
 * "job.preview", event, id, at, preview}` (the SSE `preview` data); batches → `{type:
 * "batch.<status>", id, at, batch}`. Each attempt resolves and vets the URL again and connects
 * only to a vetted address (a target the policy refuses gives up before any connection). A
 * non-2xx answer (3xx included: redirects are not followed) or a network error is retried with the
 * capped backoff; `410 Gone` stops retrying. The delivery `id` (= `webhook-id`) is the same on
 * every retry, so receivers can de-duplicate. `state` events (running, terminal) wake the outbox
 * relay, so a transition on a GPU host is delivered without waiting for a sweep; `preview` events
 * are queued for the jobs whose webhook asked for them.
 */
export function startWebhookDeliverer(options: WebhookDelivererOptions): WebhookWorker {
  const { jobs, metrics, logger } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const guard = options.guard ?? jobs.webhookGuard;

  /** The JSON body of a delivery (see above). */
  const bodyOf = async (delivery: WebhookDelivery): Promise<string> => {
    const at = new Date(delivery.at).toISOString();
    if (delivery.subject === 'batch') {
      const summary = await options.batches?.summary(delivery.batchId);
      if (!summary) throw new JobFailureError('WEBHOOK_BATCH_GONE', `batch ${delivery.batchId} is unknown`, { retryable: false });
      const batch = await toBatchView(summary, options.urlFor, options.outputUrlExpiresInSec);
      return JSON.stringify({ type: `batch.${delivery.status}`, id: delivery.deliveryId, at, batch });
    }
    if (delivery.event === 'preview') {
      return JSON.stringify({ type: 'job.preview', event: 'preview', id: delivery.deliveryId, at, preview: delivery.preview });
    }
    const record = await jobs.get(delivery.jobId);
    if (delivery.event === 'start') {
      if (!record) throw new JobFailureError('WEBHOOK_JOB_GONE', `job ${delivery.jobId} is unknown`, { retryable: false });
      const view = await toJobView(record, null, options.urlFor, options.outputUrlExpiresInSec);
      return JSON.stringify({ type: 'job.running', event: 'start', id: delivery.deliveryId, at, job: view });
    }
    if (!record || !isTerminal(record.status)) {
      throw new JobFailureError('WEBHOOK_JOB_GONE', `job ${delivery.jobId} is not finished`, { retryable: false });
    }
    const view = await toJobView(record, null, options.urlFor, options.outputUrlExpiresInSec);
    return JSON.stringify({ type: `job.${delivery.status}`, event: 'completed', id: delivery.deliveryId, at, job: view });
  };

  const deliver = async (delivery: WebhookDelivery): Promise<void> => {
    const body = await bodyOf(delivery);
    let status: number;
    try {
      // Vetted again now (DNS may answer differently than at submit), then pinned to what was vetted.
      const vetted = await guard.vet(delivery.url, 'webhook');
      const headers = {
        'Content-Type': 'application/json',
        'User-Agent': 'asyncdiff-webhooks/1',
        ...standardWebhookHeaders(options.keys, delivery.deliveryId, body),
        ...(options.legacySignature && { [SIGNATURE_HEADER]: signWebhook(options.keys.current, body) }),
      };
      ({ status } = await postPinned({ vetted, headers, body, timeoutMs, ...(options.ca !== undefined && { ca: options.ca }) }));
    } catch (err) {
      if (isRetryable(err)) metrics.webhookDeliveries.inc({ outcome: 'retry' });
      throw err;
    }
    if (status >= 200 && status < 300) {
      metrics.webhookDeliveries.inc({ outcome: 'delivered' });
      return;
    }
    if (status === 410) throw new JobFailureError('WEBHOOK_GONE', 'receiver answered 410 Gone', { retryable: false });
    metrics.webhookDeliveries.inc({ outcome: 'retry' });
    throw new Error(status >= 300 && status < 400 ? `receiver answered ${status} (redirects are not followed)` : `receiver answered ${status}`);
  };

  const worker = startWebhookWorker({
    ...jobs.options,
    deliver,
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(options.perReceiverConcurrency !== undefined && { perReceiverConcurrency: options.perReceiverConcurrency }),
    onError: (err) => logger.warn('webhook worker error', err),
    onGiveUp: (delivery, err) => {
      metrics.webhookDeliveries.inc({ outcome: 'gave_up' });
      const subject = delivery.subject === 'batch' ? `batch ${delivery.batchId}` : `job ${delivery.jobId}`;
      logger.warn(`webhook for ${subject} gave up after ${delivery.attempt} attempts: ${err.message}`);
    },
  });
  const subscribed: Promise<Unsubscribe | undefined> = jobs
    .onEvent((event) => {
      if (event.type === 'state' && (isTerminal(event.status) || event.status === 'running')) worker.relayNow();
      else if (event.type === 'preview') {
        enqueuePreviewDelivery(jobs, event).catch((err: unknown) => logger.warn(`webhook: could not queue the preview of job ${event.jobId}`, err));
      }
    })
    .catch((err: unknown) => {
      logger.warn('webhook relay: could not subscribe to job events (the outbox sweep still runs)', err);
      return undefined;
    });
  let closing: Promise<void> | undefined;
  return {
    waitUntilReady: () => worker.waitUntilReady(),
    relayNow: () => worker.relayNow(),
    close() {
      closing ??= (async () => {
        await (await subscribed)?.();
        await worker.close();
      })();
      return closing;
    },
  };
}

/**
 * The webhook signing secret shared by every API process on this Redis: the configured one, else
 * one generated once (`whsec_…`) and stored (SET NX) under `<prefix>:webhook-secret`, so receivers
 * can be given a single secret (`startApi` returns it, `GET /v1/webhooks/default/secret` hands it
 * to admins). A hex secret stored by an earlier release is kept: it still works (see
 * `parseWebhookSecret`).
 */
export async function sharedWebhookSecret(jobs: JobClient, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  await jobs.redis.set(jobs.keys.webhookSecret, generateWebhookSecret(), 'NX');
  const secret = await jobs.redis.get(jobs.keys.webhookSecret);
  if (!secret) throw new Error('could not establish a webhook secret');
  return secret;
}
