import { describe, expect, it } from 'vitest';

import { DeviceAllocator } from './device-allocator.js';

describe('DeviceAllocator', () => {
  it('auto: all devices (AsyncDiff) when the group is idle and nothing waits', async () => {
    const a = new DeviceAllocator(2, (waiting) => waiting < 1);
    const lease = await a.acquire({ kind: 'auto', wideCount: 2 });
    expect(lease).toMatchObject({ devices: [0, 1], wide: true });
    lease.release();
    expect(a.freeCount).toBe(2);
  });

  it('auto: one device per job (data parallelism) when jobs wait or the group is busy', async () => {
    let backlog = 3;
    const a = new DeviceAllocator(2, (waiting) => waiting + backlog < 1);
    const first = await a.acquire({ kind: 'auto', wideCount: 2 });
    expect(first).toMatchObject({ devices: [0], wide: false });
    backlog = 0;
    // Not idle (device 0 busy): sequential on the free device even with no backlog.
    const second = await a.acquire({ kind: 'auto', wideCount: 2 });
    expect(second).toMatchObject({ devices: [1], wide: false });
    const third = a.acquire({ kind: 'auto', wideCount: 2 });
    first.release();
    expect(await third).toMatchObject({ devices: [0], wide: false });
  });

  it('is FIFO: an AsyncDiff job is not starved by later one-device jobs', async () => {
    const a = new DeviceAllocator(2, () => false);
    const one = await a.acquire({ kind: 'exact', count: 1 });
    const order: string[] = [];
    const wide = a.acquire({ kind: 'exact', count: 2 }).then((l) => (order.push('wide'), l));
    const narrow = a.acquire({ kind: 'exact', count: 1 }).then((l) => (order.push('narrow'), l));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]); // device 1 is free, but the wide job is first in line
    one.release();
    (await wide).release();
    (await narrow).release();
    expect(order).toEqual(['wide', 'narrow']);
  });

  it('rejects a wait with the signal reason on abort and serves the next waiter', async () => {
    const a = new DeviceAllocator(1, () => false);
    const held = await a.acquire({ kind: 'exact', count: 1 });
    const ctl = new AbortController();
    const aborted = a.acquire({ kind: 'exact', count: 1 }, ctl.signal);
    const next = a.acquire({ kind: 'exact', count: 1 });
    ctl.abort(new Error('shutdown'));
    await expect(aborted).rejects.toThrow('shutdown');
    expect(a.waiting).toBe(1);
    held.release();
    held.release(); // repeat-safe
    expect((await next).devices).toEqual([0]);
  });

  it('tryAcquire (health checks) never jumps the line, and refuses impossible demands', async () => {
    const a = new DeviceAllocator(2, () => false);
    const l = await a.acquire({ kind: 'exact', count: 1 });
    expect(a.tryAcquire([0])).toBeUndefined();
    const waiter = a.acquire({ kind: 'exact', count: 2 });
    expect(a.tryAcquire([1])).toBeUndefined();
    l.release();
    (await waiter).release();
    const h = a.tryAcquire([1, 0]);
    expect(h?.devices).toEqual([0, 1]);
    h?.release();
    await expect(a.acquire({ kind: 'exact', count: 3 })).rejects.toThrow(RangeError);
  });
});
