import type { JobProgress } from '../domain/job-record.js';

/** One job's progress reports, written in order (see `throttleProgress`). */
export interface ProgressThrottle {
  /**
   * Resolves once this report is written, or at once when it is held back for the end of the
   * interval (a handler must not wait an interval for a progress bar).
   */
  report(progress: JobProgress): Promise<void>;
  /** Writes the report held back, if any, and waits for every write (the run is ending). */
  flush(): Promise<void>;
}

/**
 * Serialises one job's progress writes and, with `intervalMs` > 0, thins them: at most one write
 * per interval, the newest report of the interval written when it ends (latest wins), while a
 * new phase and the last step are written at once. A continuous batch of 16 jobs stepping 30
 * times a second is ~500 record writes and events a second per device, none of them read faster
 * than a progress bar redraws; at fleet scale that is the shared Redis's load. 0 writes every
 * report (each step's event reaches SSE and the dashboard). `write` must not reject (a rejected
 * write would stop the ones after it): it reports its own failures.
 */
export function throttleProgress(intervalMs: number, write: (progress: JobProgress) => Promise<void>, now: () => number = () => performance.now()): ProgressThrottle {
  let chain: Promise<void> = Promise.resolve();
  let lastAt = -Infinity;
  let lastPhase: string | undefined;
  let held: JobProgress | undefined;
  let timer: NodeJS.Timeout | undefined;

  const enqueue = (progress: JobProgress): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    held = undefined;
    lastAt = now();
    lastPhase = progress.phase;
    chain = chain.then(() => write(progress));
    return chain;
  };

  return {
    report(progress) {
      const urgent = progress.step >= progress.steps || progress.phase !== lastPhase;
      // A held report is older than this one: an urgent report or a due interval replaces it.
      if (intervalMs <= 0 || urgent || (held === undefined && now() - lastAt >= intervalMs)) return enqueue(progress);
      if (held === undefined) timer = setTimeout(() => held && void enqueue(held), Math.max(0, lastAt + intervalMs - now()));
      held = progress;
      return Promise.resolve();
    },
    flush: () => (held ? enqueue(held) : chain),
  };
}
