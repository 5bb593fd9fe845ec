import { assertNever, type JobClient, type JobEvent, type JobPreview, type Unsubscribe } from '@asyncdiff/queue';

import type { Logger } from '../deps.js';
import type { DashboardSnapshot } from './snapshot.js';

/** What the dashboard's event stream sends, discriminated on `event`. */
export type FeedMessage =
  | { readonly event: 'snapshot'; readonly data: DashboardSnapshot }
  | { readonly event: 'job'; readonly data: { readonly jobId: string; readonly kind: string; readonly status: string; readonly at: string; readonly error?: { code: string; message: string } } }
  | { readonly event: 'progress'; readonly data: { readonly jobId: string; readonly step: number; readonly steps: number; readonly percent: number } }
  | { readonly event: 'preview'; readonly data: { readonly jobId: string } & JobPreview };

/** Options of `createDashboardFeed`. */
export interface DashboardFeedOptions {
  readonly jobs: JobClient;
  readonly build: () => Promise<DashboardSnapshot>;
  readonly logger: Logger;
  /** Fewest ms between two snapshots. @defaultValue 750 */
  readonly minIntervalMs?: number;
  /** A snapshot at least this often even without job events (hosts, batches). @defaultValue 2000 */
  readonly refreshMs?: number;
}

/**
 * One live feed per API process, shared by every open dashboard: job state, progress and preview
 * events are forwarded at once; a fresh snapshot (queues, hosts, batches, jobs, gallery) is built at most
 * every `minIntervalMs` after something changed, and every `refreshMs` regardless. It only works
 * while someone watches: the first subscriber starts it, the last one stops it.
 */
export interface DashboardFeed {
  /** Calls `listener` with the current snapshot first, then every message. */
  subscribe(listener: (message: FeedMessage) => void): Promise<() => void>;
  /** Asks for a new snapshot soon (after an action). */
  invalidate(): void;
  readonly subscribers: number;
}

/** Creates the feed (idle until subscribed). */
export function createDashboardFeed(options: DashboardFeedOptions): DashboardFeed {
  const minIntervalMs = options.minIntervalMs ?? 750;
  const refreshMs = options.refreshMs ?? 2000;
  const listeners = new Set<(message: FeedMessage) => void>();
  let unsubscribe: Unsubscribe | undefined;
  let starting: Promise<void> | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let dirty = false;
  let building = false;
  let lastBuiltAt = 0;
  let latest: DashboardSnapshot | undefined;

  const broadcast = (message: FeedMessage) => {
    for (const l of listeners) {
      try {
        l(message);
      } catch {
        // one broken stream must not stop the others
      }
    }
  };
  const rebuild = async () => {
    if (building || !listeners.size) return;
    building = true;
    dirty = false;
    try {
      latest = await options.build();
      lastBuiltAt = Date.now();
      broadcast({ event: 'snapshot', data: latest });
    } catch (err) {
      options.logger.warn('dashboard snapshot failed', err);
    } finally {
      building = false;
    }
  };
  const tick = () => {
    const age = Date.now() - lastBuiltAt;
    if ((dirty && age >= minIntervalMs) || age >= refreshMs) void rebuild();
  };
  const onEvent = (event: JobEvent) => {
    switch (event.type) {
      case 'state':
        dirty = true;
        broadcast({
          event: 'job',
          data: { jobId: event.jobId, kind: event.kind, status: event.status, at: new Date(event.at).toISOString(), ...(event.error && { error: event.error }) },
        });
        return;
      case 'progress':
        broadcast({ event: 'progress', data: { jobId: event.jobId, step: event.progress.step, steps: event.progress.steps, percent: event.progress.percent } });
        return;
      case 'preview':
        broadcast({ event: 'preview', data: { jobId: event.jobId, step: event.step, steps: event.steps, mime: event.mime, width: event.width, height: event.height, data: event.data } });
        return;
      case 'cancel-requested':
        dirty = true;
        return;
      default:
        assertNever(event);
    }
  };
  const start = () => {
    starting ??= (async () => {
      unsubscribe = await options.jobs.onEvent(onEvent);
      ticker = setInterval(tick, Math.min(250, minIntervalMs));
      ticker.unref();
    })();
    return starting;
  };
  const stop = () => {
    clearInterval(ticker);
    ticker = undefined;
    unsubscribe?.();
    unsubscribe = undefined;
    starting = undefined;
    latest = undefined;
  };

  return {
    get subscribers() {
      return listeners.size;
    },
    async subscribe(listener) {
      listeners.add(listener);
      try {
        await start();
        const first = latest && Date.now() - lastBuiltAt < minIntervalMs ? latest : await options.build();
        latest = first;
        lastBuiltAt = Date.now();
        listener({ event: 'snapshot', data: first });
      } catch (err) {
        listeners.delete(listener);
        if (!listeners.size) stop();
        throw err;
      }
      return () => {
        listeners.delete(listener);
        if (!listeners.size) stop();
      };
    },
    invalidate() {
      dirty = true;
      lastBuiltAt = Math.min(lastBuiltAt, Date.now() - minIntervalMs);
    },
  };
}
