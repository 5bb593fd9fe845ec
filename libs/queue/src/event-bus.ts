import type { Redis } from 'ioredis';

import { parseControlMessage, parseJobEvent, type ControlMessage, type JobEvent } from './events.js';
import type { KeyLayout } from './keys.js';
import { closeRedis, createRedis } from './redis.js';

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
  onControl(listener: (message: ControlMessage) => void): Promise<Unsubscribe>;
  close(): Promise<void>;
}

/** An event bus publishing through `commands` and subscribing on its own lazily opened connection. */
export function createEventBus(commands: Redis, redisUrl: string, keys: KeyLayout): EventBus {
  const eventListeners = new Set<(event: JobEvent) => void>();
  const controlListeners = new Set<(message: ControlMessage) => void>();
  let subscriber: Redis | undefined;
  const subscribed = new Map<string, Promise<unknown>>();
  let closed = false;

  const ensure = (channel: string): Promise<unknown> => {
    if (!subscriber) {
      subscriber = createRedis(redisUrl, 'subscriber');
      subscriber.on('error', () => undefined);
      subscriber.on('message', (ch: string, message: string) => {
        if (ch === keys.eventsChannel) {
          const event = parseJobEvent(message);
          if (event) for (const l of eventListeners) safeCall(() => l(event));
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
    async onControl(listener) {
      controlListeners.add(listener);
      await ensure(keys.controlChannel);
      return () => controlListeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      eventListeners.clear();
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
