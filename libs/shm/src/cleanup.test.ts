import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { isProcessAlive, ShmSegment, sweepOrphanSegments } from './index.js';
import { shmEntriesOf, startChild, stopAllChildren, TEST_PREFIX } from './test-fixtures/child.js';

afterEach(stopAllChildren);
afterAll(() => {
  sweepOrphanSegments(TEST_PREFIX);
});

const labels = ['a', 'b', 'c'].map((l) => `${l}-${randomUUID().slice(0, 8)}`);

describe('segment cleanup', () => {
  it('unlinks every segment a process created when it exits normally', async () => {
    const child = await startChild();
    const names = await child.call<string[]>('createSegments', { labels, byteLength: 8192 });
    expect(shmEntriesOf(child.pid)).toHaveLength(3);
    await child.call('exit', { code: 0 });
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(shmEntriesOf(child.pid)).toEqual([]);
    expect(names.every((n) => n.startsWith(`/${TEST_PREFIX}-${child.pid}-`))).toBe(true);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('unlinks them on %s and still dies of the signal', async (signal) => {
    const child = await startChild();
    await child.call('createSegments', { labels, byteLength: 8192 });
    expect(shmEntriesOf(child.pid)).toHaveLength(3);
    child.process.kill(signal);
    expect(await child.exited).toEqual({ code: null, signal });
    expect(shmEntriesOf(child.pid)).toEqual([]);
  });

  it('leaves orphans after SIGKILL, which sweepOrphanSegments removes once the pid is dead', async () => {
    const child = await startChild();
    const names = await child.call<string[]>('createSegments', { labels, byteLength: 8192 });
    child.process.kill('SIGKILL');
    await child.exited;
    expect(isProcessAlive(child.pid)).toBe(false);
    expect(shmEntriesOf(child.pid)).toHaveLength(3);

    const mine = ShmSegment.create({ label: `keep-${randomUUID().slice(0, 8)}`, byteLength: 4096, prefix: TEST_PREFIX });
    const result = sweepOrphanSegments(TEST_PREFIX);
    expect([...result.removed].sort()).toEqual(expect.arrayContaining([...names].sort()));
    expect(result.kept).toContain(mine.name);
    expect(shmEntriesOf(child.pid)).toEqual([]);
    expect(shmEntriesOf(process.pid)).toEqual([mine.name.slice(1)]);
    mine.dispose();
  });

  it('keeps the segments of a live process', async () => {
    const child = await startChild();
    const names = await child.call<string[]>('createSegments', { labels, byteLength: 4096 });
    const result = sweepOrphanSegments(TEST_PREFIX);
    expect(result.kept).toEqual(expect.arrayContaining(names));
    expect(shmEntriesOf(child.pid)).toHaveLength(3);
    await child.call('exit', { code: 0 });
    await child.exited;
    expect(shmEntriesOf(child.pid)).toEqual([]);
  });

  it('treats a dead pid and an unreaped zombie as dead (kill(pid, 0) alone would not)', async () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 12345)).toBe(false);
    // `sleep 0` exits at once; `exec sleep` replaces its parent shell and never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [chunk] = (await once(parent.stdout, 'data')) as [Buffer];
    const zombie = Number(chunk.toString().trim());
    await new Promise((r) => setTimeout(r, 200));
    expect(() => process.kill(zombie, 0)).not.toThrow();
    expect(isProcessAlive(zombie)).toBe(false);
    parent.kill('SIGKILL');
    await once(parent, 'exit');
  });
});
