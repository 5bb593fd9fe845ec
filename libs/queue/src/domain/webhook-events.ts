/**
 * What a job's webhook is called for (the one list of event names: spec schema, Lua outbox
 * filter, deliverer and docs read it from here):
 * - `start`: a GPU host started the job (its first run only);
 * - `preview`: a denoising preview was published (same data as the SSE `preview` event);
 * - `completed`: the job ended (succeeded, failed or canceled).
 */
export const WEBHOOK_EVENTS = ['start', 'preview', 'completed'] as const;

/** One webhook event name. */
export type WebhookEventName = (typeof WEBHOOK_EVENTS)[number];

/** The events of a job whose spec names none: only the end, as before events existed. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEventName[] = ['completed'];

/**
 * Whether a job's webhook wants `event`. Specs stored before events existed carry none and get
 * the default (`completed`).
 */
export function webhookWants(spec: { readonly webhook?: string; readonly webhookEvents?: readonly WebhookEventName[] }, event: WebhookEventName): boolean {
  return spec.webhook !== undefined && (spec.webhookEvents ?? DEFAULT_WEBHOOK_EVENTS).includes(event);
}

/** Deduplicates and orders event names as `WEBHOOK_EVENTS` lists them (stored specs are canonical). */
export function canonicalWebhookEvents(events: readonly WebhookEventName[]): WebhookEventName[] {
  return WEBHOOK_EVENTS.filter((e) => events.includes(e));
}
