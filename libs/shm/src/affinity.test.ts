import { availableParallelism } from 'node:os';

import { afterEach, describe, expect, it } from 'vitest';

import { getAffinity, setProcessAffinity } from './index.js';
import { startChild, stopAllChildren } from './test-fixtures/child.js';

afterEach(stopAllChildren);

interface PinResult {
  pinned: number;
  self: number[];
  threads: { tid: number; cpus: string }[];
}

describe('CPU affinity', () => {
  it('pins every thread of a process, not just the calling one', async () => {
    const cpu = availableParallelism() - 1;
    const child = await startChild();
    const r = await child.call<PinResult>('pin', { cpus: [cpu] });
    expect(r.self).toEqual([cpu]);
    expect(r.threads.length).toBeGreaterThan(1); // V8 and libuv threads exist
    expect(r.pinned).toBeGreaterThanOrEqual(r.threads.length);
    for (const t of r.threads) expect(t.cpus).toBe(String(cpu));
    const back = await child.call<PinResult>('pin', { cpus: [0] });
    for (const t of back.threads) expect(t.cpus).toBe('0');
  });

  it('reads the mask of this thread and rejects bad CPU lists', () => {
    const mine = getAffinity();
    expect(mine.length).toBeGreaterThan(0);
    expect(getAffinity(process.pid)).toEqual(mine);
    expect(() => setProcessAffinity([])).toThrow(expect.objectContaining({ code: 'SHM_INVALID_ARGUMENT' }));
    expect(() => setProcessAffinity([-1])).toThrow(/cpus/);
    expect(() => setProcessAffinity([1000])).toThrow(expect.objectContaining({ code: 'SHM_SYSTEM' })); // EINVAL: no such CPU
  });
});
