import { randomUUID } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { Channel, type ShmError, type TensorSpec } from './index.js';
import { ChildError, startChild, stopAllChildren } from './test-fixtures/child.js';

afterEach(stopAllChildren);

const specs: TensorSpec[] = [
  { name: 'hidden', dtype: 'float32', dims: [2, 4, 4] },
  { name: 'ids', dtype: 'int64', dims: [3] },
  { name: 'skip', dtype: 'int32', dims: [5] },
  { name: 'mask', dtype: 'uint8', dims: [6] },
];
const label = (): string => `ch-${randomUUID().slice(0, 8)}`;

interface ChildRead {
  layout: { tensors: { name: string; dims: number[]; byteOffset: number }[]; totalBytes: number };
  tensors: { name: string; dtype: string; dims: number[]; data: (number | string)[]; aligned: boolean }[];
  current: boolean;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as ShmError).code;
  }
  return undefined;
}

describe('Channel across processes', () => {
  it('lets a child open it by name, read the layout from the header and view the published slot', async () => {
    const ch = Channel.create({ label: label(), tensors: specs });
    const slot = ch.beginWrite(0);
    slot.data('hidden', 'float32').forEach((_, i, a) => (a[i] = i / 2));
    slot.data('ids', 'int64').set([1n, -2n, 2n ** 40n]);
    slot.data('skip', 'int32').fill(-7);
    slot.data('mask', 'uint8').fill(255);
    ch.publish(0);
    const child = await startChild();
    const r = await child.call<ChildRead>('channelRead', { name: ch.name, step: 0, expect: specs });
    expect(r.layout).toEqual(JSON.parse(JSON.stringify(ch.layout)));
    expect(r.tensors.map((t) => [t.name, t.dtype, t.dims, t.aligned])).toEqual(specs.map((s) => [s.name, s.dtype, s.dims, true]));
    expect(r.tensors[0]!.data.slice(0, 4)).toEqual([0, 0.5, 1, 1.5]);
    expect(r.tensors[1]!.data).toEqual(['1', '-2', String(2n ** 40n)]);
    expect(r.tensors[2]!.data).toEqual([-7, -7, -7, -7, -7]);
    expect(r.tensors[3]!.data).toEqual([255, 255, 255, 255, 255, 255]);
    expect(r.current).toBe(true);
    ch.dispose();
  });

  it('refuses to open with an unexpected layout, naming the differing field', async () => {
    const ch = Channel.create({ label: label(), tensors: specs });
    const child = await startChild();
    const wrong = [{ ...specs[0]!, dims: [1, 4, 4] }, ...specs.slice(1)];
    const err = (await child.call('channelRead', { name: ch.name, step: 0, expect: wrong }).catch((e: unknown) => e)) as ChildError;
    expect(err).toBeInstanceOf(ChildError);
    expect(err.code).toBe('SHM_LAYOUT_MISMATCH');
    expect(err.message).toMatch(/"hidden" dims are \[2, 4, 4\], expected \[1, 4, 4\]/);
    ch.dispose();
  });

  it('wakes an async reader here when a child producer publishes later steps', async () => {
    const child = await startChild();
    const name = await child.call<string>('channelProduce', { label: label(), tensors: specs, steps: [0, 1], delayMs: 100 });
    const ch = Channel.open(name, { expect: specs });
    expect(ch.isProducer).toBe(false);
    expect(ch.tryRead(1)).toBeUndefined();
    const slot = await ch.read(1, { timeoutMs: 10_000 });
    expect(slot.index).toBe(1);
    expect(Array.from(slot.data('skip', 'int32'))).toEqual([1, 1, 1, 1, 1]);
    expect(ch.tryRead(0)?.data('ids', 'int64')[0]).toBe(0n);
    expect(ch.latestStep()).toBe(1);
    await expect(ch.read(5, { timeoutMs: 30 })).rejects.toMatchObject({ code: 'SHM_TIMEOUT' });
    expect(() => ch.readSync(5, { timeoutMs: 10 })).toThrow(expect.objectContaining({ code: 'SHM_TIMEOUT' }));
    ch.dispose();
  });

  it('double-buffers: step n+1 leaves step n readable, step n+2 overwrites it', () => {
    const ch = Channel.create({ label: label(), tensors: specs });
    const reader = Channel.open(ch.name);
    ch.beginWrite(0).data('skip', 'int32').fill(0);
    ch.publish(0);
    ch.beginWrite(1).data('skip', 'int32').fill(1);
    expect(reader.tryRead(1)).toBeUndefined(); // being written
    ch.publish(1);
    expect(reader.tryRead(0)?.data('skip', 'int32')[0]).toBe(0);
    expect(reader.tryRead(1)?.data('skip', 'int32')[0]).toBe(1);
    ch.beginWrite(2);
    expect(reader.isCurrent(0)).toBe(false); // a reader of step 0 must discard what it read
    expect(codeOf(() => reader.tryRead(0))).toBe('SHM_SLOT_OVERWRITTEN');
    reader.dispose();
    ch.dispose();
  });

  it('with k + 1 slots keeps the last k steps readable while the next is written', () => {
    const ch = Channel.create({ label: label(), tensors: specs, slots: 3 });
    const reader = Channel.open(ch.name);
    expect(reader.layout.slotCount).toBe(3);
    for (const step of [0, 1, 2]) {
      ch.beginWrite(step).data('skip', 'int32').fill(step);
      ch.publish(step);
    }
    ch.beginWrite(3); // overwrites step 0 only
    expect(reader.tryRead(1)?.data('skip', 'int32')[0]).toBe(1);
    expect(reader.tryRead(2)?.data('skip', 'int32')[0]).toBe(2);
    expect(reader.slotOf(2).index).toBe(2);
    expect(reader.slotOf(4).index).toBe(1);
    expect(codeOf(() => reader.tryRead(0))).toBe('SHM_SLOT_OVERWRITTEN');
    expect(codeOf(() => reader.slot(3))).toBe('SHM_INVALID_ARGUMENT');
    expect(codeOf(() => Channel.create({ label: label(), tensors: specs, slots: 9 }))).toBe('SHM_INVALID_ARGUMENT');
    reader.dispose();
    ch.dispose();
  });

  it('enforces who writes and in what order', () => {
    const ch = Channel.create({ label: label(), tensors: specs });
    const reader = Channel.open(ch.name);
    expect(codeOf(() => reader.beginWrite(0))).toBe('SHM_INVALID_STATE');
    expect(codeOf(() => ch.publish(3))).toBe('SHM_INVALID_STATE');
    expect(codeOf(() => ch.beginWrite(-1))).toBe('SHM_INVALID_ARGUMENT');
    expect(codeOf(() => ch.slot(0).tensor('nope'))).toBe('SHM_INVALID_ARGUMENT');
    expect(codeOf(() => ch.slot(0).data('hidden', 'int32'))).toBe('SHM_INVALID_ARGUMENT');
    expect(codeOf(() => Channel.create({ label: label(), tensors: [] }))).toBe('SHM_INVALID_ARGUMENT');
    reader.dispose();
    const view = ch.slot(1).data('hidden', 'float32');
    ch.dispose();
    expect(view.length).toBe(0);
    expect(codeOf(() => ch.tryRead(0))).toBe('SHM_DISPOSED');
    expect(codeOf(() => Channel.open(ch.name))).toBe('SHM_NOT_FOUND');
  });
});
