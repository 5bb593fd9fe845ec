import { randomUUID } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { ShmSegment } from './index.js';
import { startChild, stopAllChildren, until } from './test-fixtures/child.js';

afterEach(stopAllChildren);

// The library uses plain JS `Atomics` on external (non-Shared) ArrayBuffers over shm for its
// sequence numbers instead of native atomics. V8 compiles them to locked instructions whatever
// the buffer kind; this test is the proof that they stay atomic across processes.
describe('JS Atomics on shm pages', () => {
  it('lose no update when two processes add and compare-exchange the same words', async () => {
    const seg = ShmSegment.create({ label: `atomics-${randomUUID().slice(0, 8)}`, byteLength: 4096 });
    const words = new Int32Array(seg.buffer);
    const count = 1_000_000;
    const [a, b] = await Promise.all([startChild(), startChild()]);
    const done = [a, b].map((c) => c.call('atomicAdd', { name: seg.name, count }));
    await until(() => Atomics.load(words, 3) === 2, 10_000); // both at the start line
    Atomics.store(words, 2, 1);
    await Promise.all(done);
    expect(Atomics.load(words, 0)).toBe(2 * count); // Atomics.add
    expect(Atomics.load(words, 1)).toBe(2 * count); // Atomics.compareExchange loop
    seg.dispose();
  });
});
