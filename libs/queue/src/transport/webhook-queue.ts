import type { JobsOptions } from 'bullmq';
import { z } from 'zod';

import type { BatchFinalStatus } from '../domain/batch-record.js';
import type { PreviewData } from '../domain/events.js';
import type { TerminalJobStatus } from '../domain/lifecycle.js';
import type { ResolvedQueueOptions } from './options.js';
import { WEBHOOK_BACKOFF_TYPE } from '../domain/webhook-retry.js';

/** BullMQ queue holding webhook deliveries (processed by the API process). */
export const WEBHOOK_QUEUE_NAME = 'webhooks';

/**
 * One delivery to make: the job's terminal state (webhook event `completed`), POSTed to `url`
 * (the body is built at delivery).
 */
export interface JobWebhookData {
  /** Absent on deliveries queued before batches existed. */
  readonly subject?: 'job';
  /** Absent on deliveries queued before webhook events existed. */
  readonly event?: 'completed';
  readonly jobId: string;
  readonly url: string;
  readonly status: TerminalJobStatus;
  readonly at: number;
}

/** Webhook event `start`: a GPU host started the job (written by the transition to `running`). */
export interface JobStartWebhookData {
  readonly subject: 'job';
  readonly event: 'start';
  readonly jobId: string;
  readonly url: string;
  readonly status: 'running';
  readonly at: number;
}

/**
 * Webhook event `preview`: queued by the API when a preview is published on the event bus; the
 * delivery carries the picture itself (previews are not stored anywhere else).
 */
export interface JobPreviewWebhookData {
  readonly subject: 'job';
  readonly event: 'preview';
  readonly jobId: string;
  readonly url: string;
  readonly preview: PreviewData;
  readonly at: number;
}

/** A batch's webhook: sent once per finalisation (again after a retry-failed round ends). */
export interface BatchWebhookData {
  readonly subject: 'batch';
  readonly batchId: string;
  readonly round: number;
  readonly url: string;
  readonly status: BatchFinalStatus;
  readonly at: number;
}

/** What the `webhooks` queue carries, discriminated on `subject` (and, for jobs, on `event`). */
export type WebhookJobData = JobWebhookData | JobStartWebhookData | JobPreviewWebhookData | BatchWebhookData;

const webhookJobDataSchema = z.union([
  z.object({
    subject: z.literal('job').default('job'),
    event: z.literal('completed').optional(),
    jobId: z.string().min(1),
    url: z.string().min(1),
    status: z.enum(['succeeded', 'failed', 'canceled']),
    at: z.number(),
  }),
  z.object({
    subject: z.literal('job'),
    event: z.literal('start'),
    jobId: z.string().min(1),
    url: z.string().min(1),
    status: z.literal('running'),
    at: z.number(),
  }),
  z.object({
    subject: z.literal('batch'),
    batchId: z.string().min(1),
    round: z.number().int().nonnegative(),
    url: z.string().min(1),
    status: z.enum(['completed', 'completed_with_errors', 'canceled']),
    at: z.number(),
  }),
]);

/**
 * Parses a delivery as the outbox holds it (JSON written by the transition and batch-commit Lua
 * scripts); undefined for a malformed entry, which the relay drops instead of failing later.
 */
export function parseWebhookJobData(text: string): WebhookJobData | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = webhookJobDataSchema.safeParse(value);
  return parsed.success ? (parsed.data as WebhookJobData) : undefined;
}

/**
 * The BullMQ id of a delivery (`wh-<jobId>` for the end, `wh-<jobId>-start`,
 * `wh-<jobId>-preview-<step>`, `wh-<batchId>-r<round>`): adding it twice is a no-op, which makes
 * the outbox relay idempotent (and several API processes hearing one preview add it once), and it
 * is the `webhook-id` receivers de-duplicate on.
 */
export function webhookDeliveryId(data: WebhookJobData): string {
  if (data.subject === 'batch') return `wh-${data.batchId}-r${data.round}`;
  if (data.event === 'start') return `wh-${data.jobId}-start`;
  if (data.event === 'preview') return `wh-${data.jobId}-preview-${data.preview.step}`;
  return `wh-${data.jobId}`;
}

/**
 * Options of a preview delivery: previews go stale within seconds and carry a picture, so they
 * are tried twice and kept a minute once done (long enough for the id to absorb the same preview
 * heard by several API processes), not the day a lasting event is kept.
 */
export function previewWebhookJobOptions(options: ResolvedQueueOptions): JobsOptions {
  return {
    attempts: 2,
    backoff: { type: WEBHOOK_BACKOFF_TYPE, delay: options.webhookBackoffDelayMs },
    removeOnComplete: { age: 60 },
    removeOnFail: { age: 600 },
  };
}

/**
 * Retries with a capped doubling backoff (`webhookRetryDelayMs`, computed by the webhook worker)
 * over `webhookAttempts` tries; deliveries are kept a day (done) or a week (given up).
 */
export function webhookJobOptions(options: ResolvedQueueOptions): JobsOptions {
  return {
    attempts: options.webhookAttempts,
    backoff: { type: WEBHOOK_BACKOFF_TYPE, delay: options.webhookBackoffDelayMs },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}
