import type { JobClient, ReconcileReport } from './job-client.js';
import { positiveInt } from './options.js';

/** Options of `startJobReconciler`. */
export interface JobReconcilerOptions {
  readonly jobs: JobClient;
  /** Time between passes (each looks at records quiet for the client's `reconcileAfterMs`). @defaultValue 15000 */
  readonly intervalMs?: number;
  /** Records looked at per status and pass. @defaultValue 500 */
  readonly limit?: number;
  /** Called after a pass that failed records. */
  readonly onReconciled?: (report: ReconcileReport) => void;
  readonly onError?: (err: unknown) => void;
}

/** A running reconciler; `close()` is repeat-safe and waits for a pass in progress. */
export interface JobReconciler {
  /** Runs one pass now (after the one in progress, if any). */
  runOnce(): Promise<ReconcileReport>;
  close(): Promise<void>;
}

/**
 * Runs `jobs.reconcile()` in the background, so a job BullMQ failed outside our handler (stalled
 * too often) or lost (never enqueued, removed) ends `failed` — with SSE and webhook — without
 * anyone reading it. Any number of processes may run one: transitions are guarded.
 */
export function startJobReconciler(options: JobReconcilerOptions): JobReconciler {
  const intervalMs = positiveInt('intervalMs', options.intervalMs, 15_000);
  const onError = options.onError ?? (() => undefined);
  let running: Promise<ReconcileReport> | undefined;
  let closed = false;
  const runOnce = async (): Promise<ReconcileReport> => {
    while (running) await running.catch(() => undefined);
    const pass = options.jobs.reconcile({ ...(options.limit !== undefined && { limit: options.limit }) });
    running = pass;
    try {
      const report = await pass;
      if (report.failed > 0) options.onReconciled?.(report);
      return report;
    } finally {
      running = undefined;
    }
  };
  const timer = setInterval(() => {
    if (!running && !closed) runOnce().catch(onError);
  }, intervalMs);
  timer.unref();
  let closing: Promise<void> | undefined;
  return {
    runOnce,
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(timer);
        await running?.catch(() => undefined);
      })();
      return closing;
    },
  };
}
