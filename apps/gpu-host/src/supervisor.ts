
import type { ReplicaGroup } from './group.js';
import type { ResolvedGpuHostOptions } from './options.js';

/** Per engine: consecutive failed recoveries and when the next attempt may run. */
interface Backoff {
  failures: number;
  notBefore: number;
}

/**
 * Between jobs, keeps every warm engine's stage processes healthy: a dead stage is replaced, a
 * live one must answer a health check (a tiny real inference) within `healthTimeoutMs` or it
 * is killed and replaced. Failed recoveries back off exponentially; an engine that cannot be
 * recovered is closed (the next job opens a fresh one). Only idle engines whose devices are
 * free are touched — a check never delays a job (during a job the engine itself replaces a
 * stage that dies).
 */
export class StageSupervisor {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private readonly backoff = new Map<string, Backoff>();
  private stopped = false;

  constructor(
    private readonly groups: readonly ReplicaGroup[],
    private readonly options: ResolvedGpuHostOptions,
  ) {}

  /** Starts periodic sweeps (no-op when `healthIntervalMs` is 0). */
  start(): void {
    if (this.options.healthIntervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.options.healthIntervalMs);
    this.timer.unref();
  }

  /** One pass over all groups (also callable directly, e.g. from tests). Never rejects. */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        for (const g of this.groups) await this.sweepGroup(g);
      } catch (err) {
        this.options.onError(err);
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  /** Stops sweeping and waits for a sweep in progress. Repeat-safe. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  private async sweepGroup(g: ReplicaGroup): Promise<void> {
    for (const entry of g.engines.idle()) {
      if (this.stopped) return;
      const runner = entry.engine.runner;
      const b = this.backoff.get(entry.key);
      if (b && Date.now() < b.notBefore) continue;
      const lease = g.allocator.tryAcquire(entry.devices);
      if (!lease) continue;
      const held = g.engines.tryTake(entry.key);
      if (!held) {
        lease.release();
        continue;
      }
      let broken = false;
      try {
        const dead = await runner.checkHealth(this.options.healthTimeoutMs);
        if (dead.length === 0) {
          this.backoff.delete(entry.key);
          continue;
        }
        try {
          const replaced = await runner.recover();
          for (const d of replaced) g.noteRestart(entry.devices[d] ?? -1);
          this.backoff.delete(entry.key);
          g.logger.warn({ stages: replaced, engine: entry.key }, `group ${g.id}: health check replaced stage(s) ${replaced.join(',')} of ${entry.key}`);
        } catch (err) {
          const failures = (this.backoff.get(entry.key)?.failures ?? 0) + 1;
          const delay = Math.min(this.options.maxRestartBackoffMs, this.options.restartBackoffMs * 2 ** (failures - 1));
          this.backoff.set(entry.key, { failures, notBefore: Date.now() + delay });
          this.options.onError(err);
          if (failures >= 3) {
            broken = true;
            this.backoff.delete(entry.key);
          }
        }
      } finally {
        await held.release(broken);
        lease.release();
      }
    }
  }
}
