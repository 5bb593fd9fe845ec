import type { JobClient, JobKind } from '@asyncdiff/queue';

/**
 * How many jobs wait in BullMQ (waiting + prioritized, over the queues this host serves): the
 * signal `auto` mode uses to trade latency (AsyncDiff) for throughput (data parallelism).
 * Sampled at most every `pollMs`; `value` is the last sample, so the allocator can decide
 * synchronously.
 */
export class BacklogMonitor {
  private last = 0;
  private sampledAt = 0;
  private inflight: Promise<number> | undefined;

  constructor(
    private readonly client: JobClient,
    private readonly queues: readonly JobKind[],
    private readonly pollMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** The last sampled backlog. */
  get value(): number {
    return this.last;
  }

  /** Samples again unless the last sample is younger than `pollMs`; never rejects. */
  refresh(): Promise<number> {
    if (performance.now() - this.sampledAt < this.pollMs) return Promise.resolve(this.last);
    this.inflight ??= (async () => {
      try {
        const counts = await this.client.queueCounts();
        this.last = this.queues.reduce((sum, q) => sum + counts[q].waiting + counts[q].prioritized, 0);
        this.sampledAt = performance.now();
      } catch (err) {
        this.onError(err);
      } finally {
        this.inflight = undefined;
      }
      return this.last;
    })();
    return this.inflight;
  }
}
