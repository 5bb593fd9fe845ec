import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { closeRedis, createJobWorker, createRedis, outputKey, type JobHandler, type JobWorker, type JobWorkerOptions } from '@asyncdiff/queue';

import { startApi, type ApiServer, type StartApiOptions } from '../server.js';

/** Redis used by tests. */
export const TEST_REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Swallows log lines (tests assert on responses, not logs). */
export const silentLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A running API on a random port with its own key prefix, plus helpers to drive it. */
export interface Harness {
  readonly api: ApiServer;
  readonly prefix: string;
  readonly url: string;
  /** fetch relative to the API. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** POST JSON. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Starts a worker on this API's queue running `handler` (default: timer steps). */
  worker(options?: Partial<JobWorkerOptions>): Promise<JobWorker>;
  close(): Promise<void>;
}

/** Starts an API for one test. */
export async function startHarness(options: Partial<StartApiOptions> = {}): Promise<Harness> {
  const prefix = `{t-${randomUUID()}}`;
  const api = await startApi({
    port: 0,
    logger: silentLogger,
    rateLimitBurst: 0,
    outputUrls: (key) => `https://cdn.test/${key}`,
    ...options,
    queue: { connection: TEST_REDIS_URL, prefix, backoffDelayMs: 50, webhookBackoffDelayMs: 100, ...options.queue },
  });
  const workers: JobWorker[] = [];
  const request = (path: string, init?: RequestInit) => fetch(`${api.url}${path}`, init);
  return {
    api,
    prefix,
    url: api.url,
    request,
    post: (path, body, headers = {}) =>
      request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
    async worker(workerOptions = {}) {
      const worker = createJobWorker({ connection: TEST_REDIS_URL, prefix, queue: 'image', handler: timerHandler(20), backoffDelayMs: 50, ...workerOptions });
      workers.push(worker);
      await worker.waitUntilReady();
      return worker;
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await api.close();
      await deletePrefix(prefix);
    },
  };
}

/** A handler doing one timer per step, with progress, honouring cancel; writes one output per image. */
export function timerHandler(stepMs: number): JobHandler {
  return async ({ job, signal, reportProgress }) => {
    const steps = job.spec.steps;
    for (let step = 1; step <= steps; step++) {
      await sleep(stepMs, undefined, { signal });
      await reportProgress(step, steps);
    }
    return {
      outputs: Array.from({ length: job.spec.count }, (_, i) => ({
        key: outputKey(job.id, i, 'png'),
        contentType: 'image/png',
        bytes: 100 + i,
        sha256: 'b'.repeat(64),
        kind: 'image' as const,
      })),
      timings: { denoiseMs: steps * stepMs },
    };
  };
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = createRedis(TEST_REDIS_URL, 'command');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await closeRedis(redis);
  }
}

/** One Server-Sent Event. */
export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

/** Reads an SSE response to its end (or `timeoutMs`), parsing every event. */
export async function readSse(response: Response, timeoutMs = 15_000): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = response.body?.getReader();
  if (!reader) return events;
  const decoder = new TextDecoder();
  let buffer = '';
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) events.push({ event, data: JSON.parse(data) });
      }
    }
  } finally {
    clearTimeout(timer);
  }
  return events;
}

/** Polls until `check` returns something truthy. */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
