import { setTimeout as sleep } from 'node:timers/promises';

import { createJobWorker, outputKey, type JobHandler, type JobWorker, type JobWorkerOptions } from '@asyncdiff/queue';

import { deletePrefix, TEST_REDIS_URL, testPrefix, waitFor } from '@asyncdiff/queue/test-fixtures';

import { startApi, type ApiServer, type StartApiOptions } from '../server.js';

/** The shared Redis fixture, re-exported so API and cross-app suites keep one import. */
export { deletePrefix, TEST_REDIS_URL, waitFor };

/**
 * The harness's default webhook resolver: tests must never resolve a name through the network,
 * so a test that needs names passes its own stub (`webhookTargets.resolver`); literals need none.
 */
export const noNetworkResolver = async (host: string): Promise<readonly string[]> => {
  throw new Error(`tests do not resolve host names (asked for ${host}); pass a resolver stub`);
};

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
  const prefix = testPrefix();
  const api = await startApi({
    port: 0,
    logger: silentLogger,
    rateLimitBurst: 0,
    outputUrls: (key) => `https://cdn.test/${key}`,
    ...options,
    webhookTargets: { resolver: noNetworkResolver, ...options.webhookTargets },
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

