import { Engine, type BatchAdmission } from '@asyncdiff/engine';
import { findModelPackage } from '@asyncdiff/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DeviceAllocator } from '../device-allocator.js';
import type { CachedEngine } from '../engine-cache.js';
import { BatchSlots, type SlotGrant } from './batch-slots.js';

const ONE_DEVICE = { kind: 'exact', count: 1 } as const;
const shape = { images: 1, guidance: 2 };

/** What calibration "measured" per device: two devices of one group disagreeing, as on a loaded host. */
const verdicts: Record<number, BatchAdmission> = {
  0: { measured: [], budgetMs: 10, maxRows: 8, gain: 1.5, batched: true },
  1: { measured: [], budgetMs: 10, maxRows: 2, gain: 1.0, batched: false },
};

describe('BatchSlots admission per device', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open({ model: findModelPackage('digits'), parallel: { mode: 'sequential' } });
  });
  afterAll(async () => {
    await engine.close();
  });

  /** A group of `devices` whose calibration answers from `verdicts`, counting the calls per device. */
  function group(devices: number, answers: Record<number, BatchAdmission>) {
    const allocator = new DeviceAllocator(devices, () => false);
    const calibrated: number[] = [];
    const slots = new BatchSlots({
      devices,
      acquire: (demand, signal) => allocator.acquire(demand, signal),
      deviceFree: () => allocator.freeCount > 0 && allocator.waiting === 0,
      takeEngine: async (model, device) => {
        const entry: CachedEngine = { key: `${model}@${device}`, engine, text: undefined, devices: [device], inUse: true, lastUsedAt: Date.now() };
        return { key: entry.key, entry, release: async () => undefined };
      },
      calibrate: async (entry) => {
        calibrated.push(entry.devices[0]!);
        return answers[entry.devices[0]!]!;
      },
      maxStepMs: undefined,
      minBatchGain: 1.2,
      maxBatchRows: 32,
      onError: (err) => {
        throw err;
      },
    });
    return { allocator, slots, calibrated };
  }

  const deviceOf = (g: SlotGrant): number => (g.kind === 'batch' ? g.slot.device : g.lease.devices[0]!);
  const release = async (g: SlotGrant): Promise<void> => (g.kind === 'batch' ? g.leave() : g.lease.release());

  it("one device's \"off\" leaves the other device batching; each device is measured once", async () => {
    const { slots, calibrated } = group(2, verdicts);
    const signal = new AbortController().signal;
    const a = await slots.place('digits', shape, ONE_DEVICE, signal);
    expect([a.kind, deviceOf(a)]).toEqual(['batch', 0]);
    // Device 1 is free: the next job opens a batch there, whose calibration says no gain, so it
    // runs alone on device 1's lease.
    const b = await slots.place('digits', shape, ONE_DEVICE, signal);
    expect([b.kind, deviceOf(b)]).toEqual(['lease', 1]);
    // Both devices busy: the next job joins device 0's batch (it used to wait for a lease: the
    // group stopped batching the model as soon as any device measured no gain).
    const c = await slots.place('digits', shape, ONE_DEVICE, signal);
    expect([c.kind, deviceOf(c)]).toEqual(['batch', 0]);
    // Device 1 free again: its verdict stands (no second calibration), the job runs alone there.
    await release(b);
    const d = await slots.place('digits', shape, ONE_DEVICE, signal);
    expect([d.kind, deviceOf(d)]).toEqual(['lease', 1]);
    expect(calibrated).toEqual([0, 1]);
    for (const g of [a, c, d]) await release(g);
  });

  it('a model no device batches goes straight to leases, without opening a batch', async () => {
    const { slots, calibrated } = group(2, { 0: verdicts[1]!, 1: verdicts[1]! });
    const signal = new AbortController().signal;
    const first = await slots.place('digits', shape, ONE_DEVICE, signal);
    const second = await slots.place('digits', shape, ONE_DEVICE, signal);
    expect([first, second].map((g) => [g.kind, deviceOf(g)])).toEqual([
      ['lease', 0],
      ['lease', 1],
    ]);
    for (const g of [first, second]) await release(g);
    const third = await slots.place('digits', shape, ONE_DEVICE, signal);
    expect(third.kind).toBe('lease');
    expect(calibrated).toEqual([0, 1]);
    await release(third);
    expect(slots.occupancy()).toEqual([]);
  });
});
