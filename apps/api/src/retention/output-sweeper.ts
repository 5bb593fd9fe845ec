import { outputExpiryIndex, type JobClient } from '@asyncdiff/queue';
import type { ObjectStore } from '@asyncdiff/storage';

import type { Logger } from '../deps.js';

/** What the sweeper needs of an object store: list a job's folder and delete its files. */
export type OutputStore = Pick<ObjectStore, 'list' | 'delete'>;

/** Settings of the output sweeper. */
export interface OutputSweeperOptions {
  readonly jobs: JobClient;
  readonly store: OutputStore;
  readonly logger: Logger;
  /** How often expired outputs are looked for; 0: only `sweepNow()`. @defaultValue 3600000 (1 h) */
  readonly intervalMs?: number;
  /** Jobs handled per pass step (a pass continues until nothing due is left). @defaultValue 100 */
  readonly batchSize?: number;
  /** The clock (tests). @defaultValue Date.now */
  readonly now?: () => number;
}

/** What one sweep did. */
export interface SweepReport {
  /** Jobs whose outputs were due and whose folders were emptied. */
  readonly jobs: number;
  /** Files deleted. */
  readonly files: number;
  /** Jobs left for the next sweep because a listing or delete failed. */
  readonly failed: number;
}

/** A running sweeper; `close()` is repeat-safe and waits for a sweep in progress. */
export interface OutputSweeper {
  sweepNow(): Promise<SweepReport>;
  close(): Promise<void>;
}

/**
 * The output retention policy at work: deletes the files of jobs whose outputs expired
 * (`jobs/<jobId>/…`: images, videos, job.json), found through the expiry index the terminal
 * transition writes, so records Redis has already expired are swept too. An id leaves the index
 * only once its folder is empty; a failure leaves it for the next sweep. Several API processes may
 * sweep at once: deleting a deleted file is not an error.
 */
export function startOutputSweeper(options: OutputSweeperOptions): OutputSweeper {
  const { jobs, store, logger } = options;
  const index = outputExpiryIndex(jobs.redis, jobs.keys);
  const batchSize = options.batchSize ?? 100;
  const now = options.now ?? Date.now;
  let running: Promise<SweepReport> | undefined;
  let closed = false;

  /** Deletes every file under `jobs/<id>/`; returns how many. */
  const emptyFolder = async (id: string): Promise<number> => {
    let files = 0;
    for (;;) {
      // Deleting as we go changes what follows, so always list from the start.
      const page = await store.list(`jobs/${id}/`, { limit: 1000 });
      for (const item of page.items) {
        await store.delete(item.key);
        files++;
      }
      if (page.items.length === 0 || page.nextCursor === undefined) return files;
    }
  };

  const sweep = async (): Promise<SweepReport> => {
    let swept = 0;
    let files = 0;
    let failed = 0;
    const skipped = new Set<string>();
    while (!closed) {
      const due = (await index.due(now(), batchSize + skipped.size)).filter((id) => !skipped.has(id));
      if (due.length === 0) break;
      const done: string[] = [];
      for (const id of due) {
        try {
          files += await emptyFolder(id);
          done.push(id);
        } catch (err) {
          failed++;
          skipped.add(id);
          logger.warn(`output sweeper: could not remove the outputs of job ${id} (retried next sweep)`, err);
        }
      }
      await index.forget(done);
      swept += done.length;
    }
    return { jobs: swept, files, failed };
  };

  const sweepNow = (): Promise<SweepReport> => {
    running ??= sweep().finally(() => (running = undefined));
    return running;
  };
  const intervalMs = options.intervalMs ?? 3_600_000;
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          sweepNow().then(
            (r) => {
              if (r.jobs > 0) logger.info(`output sweeper: removed ${r.files} file(s) of ${r.jobs} expired job(s)`);
            },
            (err: unknown) => logger.warn('output sweeper failed (retried next interval)', err),
          );
        }, intervalMs)
      : undefined;
  timer?.unref();
  let closing: Promise<void> | undefined;
  return {
    sweepNow,
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
