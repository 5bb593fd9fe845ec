import { publishHostStatus, removeHostStatus, type HostStatus, type RedisClient } from '@asyncdiff/queue';

/**
 * Publishes the host's status every `intervalMs` with a TTL of 3 intervals (the contract in
 * `@asyncdiff/queue` host-status), so the dashboard sees live hosts and a dead one vanishes
 * on its own. `stop()` removes the entry at once.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly status: () => HostStatus,
    private readonly intervalMs: number,
    private readonly ttlMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Publishes now, then every interval. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /** Publishes the current status now (e.g. on a state change). Never rejects. */
  beat(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.inflight ??= publishHostStatus(this.redis, this.prefix, this.status(), this.ttlMs)
      .catch(this.onError)
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  /** Stops publishing and removes this host's entry. Repeat-safe; never rejects. */
  async stop(hostId: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.inflight;
    await removeHostStatus(this.redis, this.prefix, hostId).catch(this.onError);
  }
}
