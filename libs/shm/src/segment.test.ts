import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { ShmError, ShmSegment } from './index.js';
import { startChild, stopAllChildren } from './test-fixtures/child.js';

const label = (): string => `t-${randomUUID().slice(0, 8)}`;
const devShm = (name: string): string => `/dev/shm${name}`;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ShmError);
    return (err as ShmError).code;
  }
  return undefined;
}

afterEach(stopAllChildren);

describe('ShmSegment', () => {
  it('is created here, opened and read in a forked child, and written back through the mapping', async () => {
    const seg = ShmSegment.create({ label: label(), byteLength: 64 * 1024 });
    expect(seg.name).toMatch(new RegExp(`^/asyncdiff-[a-z][a-z0-9]{11}-${process.pid}-t-`));
    expect(seg.byteLength).toBe(64 * 1024);
    const bytes = new Uint8Array(seg.buffer);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i & 0xff;
    const child = await startChild();
    const got = await child.call<{ byteLength: number; sum: number; head: number[] }>('readSegment', { name: seg.name });
    expect(got.byteLength).toBe(64 * 1024);
    expect(got.sum).toBe(256 * (255 * 128));
    expect(got.head).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(bytes.subarray(0, 5))).toEqual([9, 9, 9, 9, 4]); // child's write is visible
    seg.dispose();
  });

  it('unlinks on dispose by its owner, and not on dispose by an opener', () => {
    const seg = ShmSegment.create({ label: label(), byteLength: 4096 });
    const other = ShmSegment.open(seg.name);
    expect(other.owner).toBe(false);
    other.dispose();
    expect(existsSync(devShm(seg.name))).toBe(true);
    seg.dispose();
    expect(existsSync(devShm(seg.name))).toBe(false);
  });

  it('throws SHM_DISPOSED after dispose and leaves earlier views empty instead of dangling', () => {
    const seg = ShmSegment.create({ label: label(), byteLength: 4096 });
    const view = new Float32Array(seg.buffer);
    view[0] = 1;
    seg.dispose();
    seg.dispose(); // repeat-safe
    expect(seg.disposed).toBe(true);
    expect(view.length).toBe(0);
    expect(view[0]).toBeUndefined();
    expect(codeOf(() => seg.buffer)).toBe('SHM_DISPOSED');
  });

  it('maps bad input to stable codes with messages that name the field', () => {
    expect(codeOf(() => ShmSegment.open(`/asyncdiff-${process.pid}-${label()}`))).toBe('SHM_NOT_FOUND');
    expect(() => ShmSegment.open('/asyncdiff-1-missing')).toThrow(/missing/);
    expect(codeOf(() => ShmSegment.create({ label: 'has/slash', byteLength: 10 }))).toBe('SHM_INVALID_NAME');
    expect(() => ShmSegment.create({ label: '', byteLength: 10 })).toThrow(/label/);
    expect(codeOf(() => ShmSegment.create({ label: 'x', byteLength: 10, prefix: 'bad-prefix' }))).toBe('SHM_INVALID_NAME');
    expect(codeOf(() => ShmSegment.open('no-leading-slash'))).toBe('SHM_INVALID_NAME');
    expect(codeOf(() => ShmSegment.create({ label: label(), byteLength: 0 }))).toBe('SHM_INVALID_ARGUMENT');
    expect(() => ShmSegment.create({ label: label(), byteLength: 1.5 })).toThrow(/byteLength/);
    const seg = ShmSegment.create({ label: label(), byteLength: 4096 });
    const label2 = seg.name.split('-').slice(3).join('-');
    expect(codeOf(() => ShmSegment.create({ label: label2, byteLength: 4096 }))).toBe('SHM_EXISTS');
    seg.dispose();
  });

  it('reports NOT_FOUND as retryable and EXISTS as not', () => {
    try {
      ShmSegment.open('/asyncdiff-1-nothing-here');
      expect.unreachable();
    } catch (err) {
      expect((err as ShmError).retryable).toBe(true);
      expect((err as ShmError).name).toBe('ShmNotFoundError');
    }
  });
});
