import { jobSpecSchema, previewData, previewWebhookJobOptions, webhookDeliveryId, webhookWants, type JobClient, type JobPreviewEvent, type JobPreviewWebhookData } from '@asyncdiff/queue';

/**
 * Queues the `preview` webhook of a preview heard on the event bus, when the job's webhook asked
 * for previews. Previews are not written to the outbox (they are not state: a missed one is
 * superseded by the next), so every API process that hears one queues it; the delivery id
 * (`wh-<jobId>-preview-<step>`) makes those adds one delivery. Only the record's spec is read.
 */
export async function enqueuePreviewDelivery(jobs: JobClient, event: JobPreviewEvent): Promise<boolean> {
  const text = await jobs.redis.hget(jobs.keys.record(event.jobId), 'spec');
  if (!text) return false;
  const spec = jobSpecSchema.safeParse(JSON.parse(text));
  if (!spec.success || spec.data.webhook === undefined) return false;
  const { webhook, webhookEvents } = spec.data;
  if (!webhookWants({ webhook, ...(webhookEvents !== undefined && { webhookEvents }) }, 'preview')) return false;
  const data: JobPreviewWebhookData = { subject: 'job', event: 'preview', jobId: event.jobId, url: webhook, preview: previewData(event), at: event.at };
  await jobs.webhookQueue.add('deliver-preview', data, { ...previewWebhookJobOptions(jobs.options), jobId: webhookDeliveryId(data) });
  return true;
}
