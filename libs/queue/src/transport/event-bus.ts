import { parseControlMessage, parseJobEvent, type ControlMessage, type JobEvent } from '../domain/events.js';
import type { KeyLayout } from './keys.js';
import { closeRedis, createRedis, type RedisClient } from './redis.js';
import type { RedisTarget } from './redis-target.js';

/** Stops a subscription. */
export type Unsubscribe = () => void;

/**
 * Fan-out of the events and control channels inside one process: one subscriber connection,
 * many in-process listeners (every SSE stream of an API process shares it).
 */
export interface EventBus {
  publish(event: JobEvent): Promise<void>;
  publishControl(message: ControlMessage): Promise<void>;
  /** Resolves once Redis confirmed the subscription, so no later event is missed. */
  onEvent(listener: (event: JobEvent) => void): Promise<Unsubscribe>;
  /** Like `onEvent`, for one job's events only: listeners are kept by job id, not filtered per event. */
  onJobEvents(jobId: string, listener: (event: JobEvent) => void): Promise<Unsubscribe>;
  onControl(listener: (message: ControlMessage) => void): Promise<Unsubscribe>;
  /**
   * Called each time the subscriber connection is back after it was lost (a Redis restart or
   * failover): pub/sub drops what was published meanwhile, so a listener that must not miss a
   * state (an SSE stream waiting for the end) reads it again.
   */
  onResync(listener: () => void): Unsubscribe;
  close(): Promise<void>;
}

/**
 * An event bus publishing through `commands` and subscribing on its own lazily opened connection
 * to `target`. On a Redis Cluster, PUBLISH on any node reaches subscribers on every node (classic
 * pub/sub is broadcast over the cluster bus), so the subscriber may sit on whichever node ioredis
 * picks; it resubscribes after a failover.
 */
export function createEventBus(commands: RedisClient, target: RedisTarget, keys: KeyLayout): EventBus {
  const eventListeners = new Set<(event: JobEvent) => void>();
  const jobListeners = new Map<string, Set<(event: JobEvent) => void>>();
  const controlListeners = new Set<(message: ControlMessage) => void>();
  const resyncListeners = new Set<() => void>();
  let subscriber: RedisClient | undefined;
  const subscribed = new Map<string, Promise<unknown>>();
  let closed = false;

  const ensure = (channel: string): Promise<unknown> => {
    if (!subscriber) {
      subscriber = createRedis(target, 'subscriber');
      subscriber.on('error', () => undefined);
      // ioredis resubscribes on reconnect before it reports ready; every ready after the first is a gap.
      let readyBefore = false;
      subscriber.on('ready', () => {
        if (readyBefore) for (const l of resyncListeners) safeCall(l);
        readyBefore = true;
      });
      subscriber.on('message', (ch: string, message: string) => {
        if (ch === keys.eventsChannel) {
          const event = parseJobEvent(message);
          if (!event) return;
          for (const l of eventListeners) safeCall(() => l(event));
          for (const l of jobListeners.get(event.jobId) ?? []) safeCall(() => l(event));
        } else if (ch === keys.controlChannel) {
          const msg = parseControlMessage(message);
          if (msg) for (const l of controlListeners) safeCall(() => l(msg));
        }
      });
    }
    let p = subscribed.get(channel);
    if (!p) {
      p = subscriber.subscribe(channel);
      subscribed.set(channel, p);
    }
    return p;
  };

  return {
    async publish(event) {
      await commands.publish(keys.eventsChannel, JSON.stringify(event));
    },
    async publishControl(message) {
      await commands.publish(keys.controlChannel, JSON.stringify(message));
    },
    async onEvent(listener) {
      eventListeners.add(listener);
      await ensure(keys.eventsChannel);
      return () => eventListeners.delete(listener);
    },
    async onJobEvents(jobId, listener) {
      let set = jobListeners.get(jobId);
      if (!set) jobListeners.set(jobId, (set = new Set()));
      set.add(listener);
      const unsubscribe = () => {
        const current = jobListeners.get(jobId);
        if (!current?.delete(listener) || current.size) return;
        jobListeners.delete(jobId);
      };
      try {
        await ensure(keys.eventsChannel);
      } catch (err) {
        unsubscribe();
        throw err;
      }
      return unsubscribe;
    },
    async onControl(listener) {
      controlListeners.add(listener);
      await ensure(keys.controlChannel);
      return () => controlListeners.delete(listener);
    },
    onResync(listener) {
      resyncListeners.add(listener);
      return () => resyncListeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      resyncListeners.clear();
      eventListeners.clear();
      jobListeners.clear();
      controlListeners.clear();
      if (subscriber) await closeRedis(subscriber);
    },
  };
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener's failure must not stop delivery to the others.
  }
}
