import { randomUUID } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { Doorbell, type DoorbellWaitResult, ShmError, ShmSegment } from './index.js';
import { startChild, stopAllChildren, until } from './test-fixtures/child.js';

afterEach(stopAllChildren);

const OFFSET = 64; // a doorbell somewhere other than the start of the segment
const newSegment = (): ShmSegment => ShmSegment.create({ label: `bell-${randomUUID().slice(0, 8)}`, byteLength: 4096 });
const waiters = (seg: ShmSegment): number => Atomics.load(new Int32Array(seg.buffer, OFFSET, 2), 1);

type ChildWait = DoorbellWaitResult & { elapsedMs: number };

describe('Doorbell across processes', () => {
  it('wakes a child blocked in a futex wait when the parent rings', async () => {
    const seg = newSegment();
    const bell = new Doorbell(seg, OFFSET);
    const child = await startChild();
    const waiting = child.call<ChildWait>('doorbellWait', { name: seg.name, byteOffset: OFFSET, seen: 0, timeoutMs: 10_000 });
    await until(() => waiters(seg) === 1); // the child is (about to be) asleep in the kernel
    await new Promise((r) => setTimeout(r, 20));
    expect(bell.ring()).toBe(1);
    const r = await waiting;
    expect(r.status).toBe('rung');
    expect(r.seq).toBe(1);
    expect(r.elapsedMs).toBeLessThan(5_000);
    expect(waiters(seg)).toBe(0);
    seg.dispose();
  });

  it('wakes with spin-then-futex too', async () => {
    const seg = newSegment();
    const bell = new Doorbell(seg, OFFSET);
    const child = await startChild();
    const waiting = child.call<ChildWait>('doorbellWait', { name: seg.name, byteOffset: OFFSET, seen: 0, timeoutMs: 10_000, spinUs: 200 });
    await until(() => waiters(seg) === 1);
    await new Promise((r) => setTimeout(r, 20)); // well past the spin: asleep in the kernel
    bell.ring();
    expect((await waiting).status).toBe('rung');
    seg.dispose();
  });

  it('wakes the parent asynchronously when a child rings, without blocking the event loop', async () => {
    const seg = newSegment();
    const bell = new Doorbell(seg, OFFSET);
    const child = await startChild();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const ringing = child.call<number>('doorbellRing', { name: seg.name, byteOffset: OFFSET, delayMs: 150 });
    const t0 = performance.now();
    const r = await bell.waitAsync(0, { timeoutMs: 10_000 });
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    expect(r).toEqual({ status: 'rung', seq: 1 });
    expect(await ringing).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(100);
    expect(ticks).toBeGreaterThan(20); // the loop kept running while we waited
    seg.dispose();
  });

  it('never loses a ring that happens before the wait starts', async () => {
    const seg = newSegment();
    const bell = new Doorbell(seg, OFFSET);
    const seen = bell.seq;
    bell.ring();
    expect(bell.wait(seen, { timeoutMs: 0 })).toEqual({ status: 'rung', seq: seen + 1 });
    expect(await bell.waitAsync(seen, { timeoutMs: 0 })).toEqual({ status: 'rung', seq: seen + 1 });
    seg.dispose();
  });

  it('times out (sync and async) when nobody rings', async () => {
    const seg = newSegment();
    const bell = new Doorbell(seg, OFFSET);
    let t0 = performance.now();
    expect(bell.wait(0, { timeoutMs: 50 })).toEqual({ status: 'timed-out', seq: 0 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(49);
    t0 = performance.now();
    expect(await bell.waitAsync(0, { timeoutMs: 50 })).toEqual({ status: 'timed-out', seq: 0 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(49);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(bell.wait(0, { timeoutMs: 5, spinUs: 100 }).status).toBe('timed-out');
    expect(waiters(seg)).toBe(0);
    seg.dispose();
  });

  it('returns "interrupted" from a blocking wait when a signal needs the event loop', async () => {
    const seg = newSegment();
    const child = await startChild();
    const waiting = child.call<ChildWait>('doorbellWait', { name: seg.name, byteOffset: OFFSET, seen: 0, timeoutMs: 20_000, onSignal: 'SIGUSR2' });
    await until(() => waiters(seg) === 1);
    await new Promise((r) => setTimeout(r, 20));
    child.process.kill('SIGUSR2');
    const r = await waiting;
    expect(r.status).toBe('interrupted');
    expect(r.elapsedMs).toBeLessThan(10_000);
    seg.dispose();
  });

  it('serves many concurrent async waits, each woken by its own ring', async () => {
    const seg = ShmSegment.create({ label: `bells-${randomUUID().slice(0, 8)}`, byteLength: 4096 });
    const bells = Array.from({ length: 24 }, (_, i) => new Doorbell(seg, i * 64));
    const waits = bells.map((b) => b.waitAsync(0, { timeoutMs: 10_000 }));
    await new Promise((r) => setTimeout(r, 50));
    bells.forEach((b) => b.ring());
    const results = await Promise.all(waits);
    expect(results.every((r) => r.status === 'rung')).toBe(true);
    seg.dispose();
  });

  it('rejects a pending async wait on abort and on dispose', async () => {
    const seg = newSegment();
    const bell = new Doorbell(seg, OFFSET);
    const ac = new AbortController();
    const aborted = bell.waitAsync(0, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop')), 20);
    await expect(aborted).rejects.toThrow('stop');
    const disposed = bell.waitAsync(0);
    setTimeout(() => seg.dispose(), 20);
    await expect(disposed).rejects.toMatchObject({ code: 'SHM_DISPOSED' });
    expect(() => bell.ring()).toThrow(ShmError);
  });

  it('validates its placement', () => {
    const seg = newSegment();
    expect(() => new Doorbell(seg, 2)).toThrow(/byteOffset/);
    expect(() => new Doorbell(seg, 4092)).toThrow(expect.objectContaining({ code: 'SHM_INVALID_ARGUMENT' }));
    expect(() => new Doorbell(seg, 0).wait(0, { timeoutMs: -1 })).toThrow(/timeoutMs/);
    seg.dispose();
  });
});
