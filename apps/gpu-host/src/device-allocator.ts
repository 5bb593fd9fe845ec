/**
 * What a job asks of its group: a fixed number of devices (`sequential` = 1, `cfg` = 2, `async` =
 * N+S−1, `hybrid` = 2(N+S−1)), or `auto` — `wideCount` devices (the multi-device mode `auto`
 * chose within the job's quality budget) when the group is idle and the backlog is short, else one.
 */
export type DeviceDemand = { readonly kind: 'exact'; readonly count: number } | { readonly kind: 'auto'; readonly wideCount: number };

/** Devices held by one job (or a health check) until `release()` (repeat-safe). */
export interface DeviceLease {
  /** Indices into the group's device list, ascending. */
  readonly devices: readonly number[];
  /** For `auto` demands: whether the lease is the multi-device choice (else one device). */
  readonly wide: boolean;
  /** How long the holder waited, ms. */
  readonly waitedMs: number;
  release(): void;
}

interface Waiter {
  readonly demand: DeviceDemand;
  readonly since: number;
  readonly resolve: (lease: DeviceLease) => void;
  readonly reject: (err: unknown) => void;
  readonly cleanup: () => void;
}

/**
 * Hands a replica group's devices to jobs, first come first served. AsyncDiff needs several
 * devices at once, a sequential job one; a strict FIFO keeps a many-device job from starving
 * behind a stream of one-device jobs. `auto` demands are decided when they reach the head of the
 * line — not when they arrive — from the then-current state: idle group and short backlog
 * (`wideWanted`) → `wideCount` devices, else the first free device.
 */
export class DeviceAllocator {
  private readonly free: boolean[];
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly size: number,
    /** Called at decision time with how many other demands wait in this group. */
    private readonly wideWanted: (waitingHere: number) => boolean,
  ) {
    this.free = new Array<boolean>(size).fill(true);
  }

  /** Jobs waiting for devices in this group. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Devices not leased right now. */
  get freeCount(): number {
    return this.free.filter(Boolean).length;
  }

  /** Waits for devices; rejects with `signal.reason` if the signal aborts first. */
  acquire(demand: DeviceDemand, signal?: AbortSignal): Promise<DeviceLease> {
    const count = demand.kind === 'exact' ? demand.count : demand.wideCount;
    if (!Number.isSafeInteger(count) || count < 1 || count > this.size) {
      return Promise.reject(new RangeError(`a demand of ${count} devices does not fit a group of ${this.size}`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<DeviceLease>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
        this.pump();
      };
      const waiter: Waiter = { demand, since: performance.now(), resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  /**
   * Takes exactly `devices` if they are free and nobody waits (health checks must never delay a
   * job); undefined otherwise.
   */
  tryAcquire(devices: readonly number[]): DeviceLease | undefined {
    if (this.waiters.length > 0 || devices.some((d) => !this.free[d])) return undefined;
    return this.lease([...devices].sort((a, b) => a - b), false, 0);
  }

  private pump(): void {
    while (this.waiters.length > 0) {
      const head = this.waiters[0]!;
      const freeIdx = this.free.flatMap((f, i) => (f ? [i] : []));
      let take: number[] | undefined;
      let wide = false;
      if (head.demand.kind === 'exact') {
        if (freeIdx.length >= head.demand.count) take = freeIdx.slice(0, head.demand.count);
      } else if (freeIdx.length > 0) {
        const allFree = freeIdx.length === this.size;
        wide = head.demand.wideCount > 1 && allFree && this.wideWanted(this.waiters.length - 1);
        take = wide ? freeIdx.slice(0, head.demand.wideCount) : freeIdx.slice(0, 1);
      }
      if (!take) return;
      this.waiters.shift();
      head.cleanup();
      head.resolve(this.lease(take, wide, performance.now() - head.since));
    }
  }

  private lease(devices: number[], wide: boolean, waitedMs: number): DeviceLease {
    for (const d of devices) this.free[d] = false;
    let released = false;
    return {
      devices,
      wide,
      waitedMs,
      release: () => {
        if (released) return;
        released = true;
        for (const d of devices) this.free[d] = true;
        this.pump();
      },
    };
  }
}
