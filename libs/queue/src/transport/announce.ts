import type { EventBus } from './event-bus.js';
import type { JobStore, TransitionChanges, TransitionResult } from './job-store.js';
import type { JobStatus } from '../domain/lifecycle.js';
import type { WebhookOutbox } from './webhook-outbox.js';

/** What a transition needs to be announced: the store, the event bus and (API side) the webhook outbox relay. */
export interface LifecycleDeps {
  readonly store: JobStore;
  readonly bus: EventBus;
  /** Relays a delivery at once; without it (GPU hosts) the API's relay picks it up from the outbox. */
  readonly outbox?: WebhookOutbox;
  readonly onError: (err: unknown) => void;
}

/**
 * Makes a guarded transition and, if it happened, publishes the `state` event and relays the
 * webhook delivery the transition wrote into the outbox (terminal states of jobs with a webhook;
 * processes without a relay leave it to the API's, which the `state` event wakes).
 * Used by both the API side and workers, so every path announces the same way. Failures here are
 * reported, not thrown: the record is the truth, and a delivery left in the outbox is relayed by
 * the webhook worker's sweep.
 */
export async function transitionJob(deps: LifecycleDeps, id: string, to: JobStatus, changes?: TransitionChanges): Promise<TransitionResult> {
  const result = await deps.store.transition(id, to, changes);
  if (!result.ok) return result;
  const { record, previous } = result;
  try {
    await deps.bus.publish({
      type: 'state',
      jobId: id,
      kind: record.kind,
      status: to,
      previous,
      at: record.updatedAt,
      ...(record.host !== undefined && { host: record.host }),
      ...(record.error !== undefined && (to === 'failed' || to === 'queued') && { error: record.error }),
    });
  } catch (err) {
    deps.onError(err);
  }
  if (result.webhookOutboxItem !== undefined && deps.outbox) {
    try {
      await deps.outbox.relay(result.webhookOutboxItem);
    } catch (err) {
      deps.onError(err);
    }
  }
  return result;
}
