import { isTerminal, type JobClient, type JobRecord } from '@asyncdiff/queue';

/**
 * Waits until job `id` has ended, for at most `timeoutMs` or until `signal` aborts (the client
 * went away, the server is draining), and returns the record as it is then (undefined if gone).
 * It listens to the job's events before reading the record, so an end in between is not missed,
 * and reads the record again every `recheckMs` as well: pub/sub drops messages while its
 * connection reconnects, and a lost `state` event must cost a second, not the whole wait.
 */
export async function waitForEnd(jobs: JobClient, id: string, timeoutMs: number, signal: AbortSignal, recheckMs = 1000): Promise<JobRecord | undefined> {
  let ended = false;
  let wake = (): void => undefined;
  const unsubscribe = await jobs.onJobEvents(id, (event) => {
    if (event.type !== 'state' || !isTerminal(event.status)) return;
    ended = true;
    wake();
  });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      ended = false;
      const record = await jobs.get(id);
      if (!record || isTerminal(record.status)) return record;
      const left = deadline - Date.now();
      if (left <= 0 || signal.aborted) return record;
      if (ended) continue; // it ended while the record was being read: read it again at once
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          wake = () => undefined;
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, recheckMs));
        signal.addEventListener('abort', done, { once: true });
        wake = done;
      });
    }
  } finally {
    unsubscribe();
  }
}
