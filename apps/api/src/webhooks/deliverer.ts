import { randomBytes } from 'node:crypto';

import { isTerminal, JobFailureError, startWebhookWorker, type BatchClient, type JobClient, type WebhookDelivery, type WebhookWorker } from '@asyncdiff/queue';

import type { Logger, UrlFor } from '../deps.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { toBatchView } from '../views/batch-view.js';
import { toJobView } from '../views/job-view.js';
import { SIGNATURE_HEADER, signWebhook } from './signature.js';

/** Settings of the webhook deliverer. */
export interface WebhookDelivererOptions {
  readonly jobs: JobClient;
  readonly secret: string;
  readonly urlFor: UrlFor | undefined;
  readonly outputUrlExpiresInSec: number;
  readonly metrics: ApiMetrics;
  readonly logger: Logger;
  /** Per-attempt timeout. @defaultValue 10000 */
  readonly timeoutMs?: number;
  /** For batch webhooks; without it they fail (not retried). */
  readonly batches?: BatchClient;
}

/**
 * Delivers job webhooks from the `webhooks` queue: POSTs `{type: "job.<status>", id, at, job}`
 * with `Asyncdiff-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. A non-2xx
 * answer or a network error is retried with exponential backoff; `410 Gone` stops retrying. The
 * delivery `id` is the same on every retry, so receivers can de-duplicate.
 */
export function startWebhookDeliverer(options: WebhookDelivererOptions): WebhookWorker {
  const { jobs, metrics, logger } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;

  /** The JSON body: `{type: "job.<status>", id, at, job}` or `{type: "batch.<status>", id, at, batch}`. */
  const bodyOf = async (delivery: WebhookDelivery): Promise<string> => {
    const at = new Date(delivery.at).toISOString();
    if (delivery.subject === 'batch') {
      const summary = await options.batches?.summary(delivery.batchId);
      if (!summary) throw new JobFailureError('WEBHOOK_BATCH_GONE', `batch ${delivery.batchId} is unknown`, { retryable: false });
      const batch = await toBatchView(summary, options.urlFor, options.outputUrlExpiresInSec);
      return JSON.stringify({ type: `batch.${delivery.status}`, id: delivery.deliveryId, at, batch });
    }
    const record = await jobs.get(delivery.jobId);
    if (!record || !isTerminal(record.status)) {
      throw new JobFailureError('WEBHOOK_JOB_GONE', `job ${delivery.jobId} is not finished`, { retryable: false });
    }
    const view = await toJobView(record, null, options.urlFor, options.outputUrlExpiresInSec);
    return JSON.stringify({ type: `job.${delivery.status}`, id: delivery.deliveryId, at, job: view });
  };

  const deliver = async (delivery: WebhookDelivery): Promise<void> => {
    const body = await bodyOf(delivery);
    let status: number;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'User-Agent': 'asyncdiff-webhooks/1', [SIGNATURE_HEADER]: signWebhook(options.secret, body) },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      await response.body?.cancel();
    } catch (err) {
      metrics.webhookDeliveries.inc({ outcome: 'retry' });
      throw err;
    }
    if (status >= 200 && status < 300) {
      metrics.webhookDeliveries.inc({ outcome: 'delivered' });
      return;
    }
    if (status === 410) throw new JobFailureError('WEBHOOK_GONE', 'receiver answered 410 Gone', { retryable: false });
    metrics.webhookDeliveries.inc({ outcome: 'retry' });
    throw new Error(`receiver answered ${status}`);
  };

  return startWebhookWorker({
    ...jobs.options,
    deliver,
    onError: (err) => logger.warn('webhook worker error', err),
    onGiveUp: (delivery, err) => {
      metrics.webhookDeliveries.inc({ outcome: 'gave_up' });
      const subject = delivery.subject === 'batch' ? `batch ${delivery.batchId}` : `job ${delivery.jobId}`;
      logger.warn(`webhook for ${subject} gave up after ${delivery.attempt} attempts: ${err.message}`);
    },
  });
}

/**
 * The webhook signing secret shared by every API process on this Redis: the configured one, else
 * one generated once and stored (SET NX) under `<prefix>:webhook-secret`, so receivers can be
 * given a single secret (`startApi` returns it; the CLI prints it).
 */
export async function sharedWebhookSecret(jobs: JobClient, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  await jobs.redis.set(jobs.keys.webhookSecret, randomBytes(32).toString('hex'), 'NX');
  const secret = await jobs.redis.get(jobs.keys.webhookSecret);
  if (!secret) throw new Error('could not establish a webhook secret');
  return secret;
}
