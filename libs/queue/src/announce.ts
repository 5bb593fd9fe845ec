import type { Queue } from 'bullmq';

import type { EventBus } from './event-bus.js';
import type { JobStore, TransitionChanges, TransitionResult } from './job-store.js';
import { isTerminal, type JobStatus } from './lifecycle.js';
import { enqueueWebhook, type WebhookJobData } from './webhook-queue.js';

/** What a transition needs to be announced: the store, the event bus and the webhook queue. */
export interface LifecycleDeps {
  readonly store: JobStore;
  readonly bus: EventBus;
  readonly webhooks: Queue<WebhookJobData>;
  readonly onError: (err: unknown) => void;
}

/**
 * Makes a guarded transition and, if it happened, publishes the `state` event and (on a terminal
 * state) schedules the webhook. Used by both the API side and workers, so every path announces
 * the same way. Publishing failures are reported, not thrown: the record is the truth.
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
  if (isTerminal(to)) {
    try {
      await enqueueWebhook(deps.webhooks, record);
    } catch (err) {
      deps.onError(err);
    }
  }
  return result;
}
