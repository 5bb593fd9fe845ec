import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { isProcessAlive, ShmSegment, sweepOrphanSegments } from './index.js';
import { currentInstance, newInstanceId } from './instance.js';
import { native } from './native.js';
import { lockFilePath, parseShmEntry } from './names.js';
import { sweepOrphanSegments as sweepWith, type SweepDeps } from './sweep.js';
import { instanceOf, lockFileExists, shmEntriesOf, startChild, stopAllChildren, TEST_PREFIX } from './test-fixtures/child.js';

afterEach(stopAllChildren);
afterAll(() => {
  sweepOrphanSegments(TEST_PREFIX);
});

const labels = ['a', 'b', 'c'].map((l) => `${l}-${randomUUID().slice(0, 8)}`);
const NATIVE: SweepDeps = { unlink: (n) => native.shmUnlink(n), lockTryTake: (p) => native.lockTryTake(p), lockRelease: (fd, p) => native.lockRelease(fd, p) };

/** A child that created three segments and then died of SIGKILL (no clean-up of its own). */
async function killedChild(): Promise<{ pid: number; names: string[]; instance: string }> {
  const child = await startChild();
  const names = await child.call<string[]>('createSegments', { labels, byteLength: 8192 });
  child.process.kill('SIGKILL');
  await child.exited;
  return { pid: child.pid, names, instance: instanceOf(names[0]!) };
}

describe('segment cleanup', () => {
  it('names segments <prefix>-<instance>-<pid>-<label> and holds the instance lock file while alive', async () => {
    const child = await startChild();
    const names = await child.call<string[]>('createSegments', { labels, byteLength: 8192 });
    const instance = instanceOf(names[0]!);
    expect(names.every((n) => n.startsWith(`/${TEST_PREFIX}-${instance}-${child.pid}-`))).toBe(true);
    expect(instance).not.toBe(currentInstance());
    expect(lockFileExists(instance)).toBe(true);
    // Held: nobody else can take it.
    expect(native.lockTryTake(lockFilePath(TEST_PREFIX, instance))).toBe(-1);
    await child.call('exit', { code: 0 });
    await child.exited;
  });

  it('unlinks every segment and the lock file when a process exits normally', async () => {
    const child = await startChild();
    const names = await child.call<string[]>('createSegments', { labels, byteLength: 8192 });
    expect(shmEntriesOf(child.pid)).toHaveLength(3);
    await child.call('exit', { code: 0 });
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(shmEntriesOf(child.pid)).toEqual([]);
    expect(lockFileExists(instanceOf(names[0]!))).toBe(false);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('unlinks them on %s and still dies of the signal', async (signal) => {
    const child = await startChild();
    const names = await child.call<string[]>('createSegments', { labels, byteLength: 8192 });
    expect(shmEntriesOf(child.pid)).toHaveLength(3);
    child.process.kill(signal);
    expect(await child.exited).toEqual({ code: null, signal });
    expect(shmEntriesOf(child.pid)).toEqual([]);
    expect(lockFileExists(instanceOf(names[0]!))).toBe(false);
  });

  it('leaves orphans after SIGKILL, which sweepOrphanSegments removes with their lock file', async () => {
    const dead = await killedChild();
    expect(isProcessAlive(dead.pid)).toBe(false);
    expect(shmEntriesOf(dead.pid)).toHaveLength(3);
    expect(lockFileExists(dead.instance)).toBe(true);

    const mine = ShmSegment.create({ label: `keep-${randomUUID().slice(0, 8)}`, byteLength: 4096, prefix: TEST_PREFIX });
    const result = sweepOrphanSegments(TEST_PREFIX);
    expect([...result.removed].sort()).toEqual(expect.arrayContaining([...dead.names].sort()));
    expect(result.kept).toContain(mine.name);
    expect(result.failed).toEqual([]);
    expect(shmEntriesOf(dead.pid)).toEqual([]);
    expect(lockFileExists(dead.instance)).toBe(false);
    expect(shmEntriesOf(process.pid)).toEqual([mine.name.slice(1)]);
    expect(lockFileExists(currentInstance())).toBe(true);
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

  it('decides by the instance lock, not the pid: pid 1 in every container, reused pids', async () => {
    // A live instance whose segment names carry a pid that is dead here (another pid namespace)…
    const child = await startChild();
    const [live] = await child.call<string[]>('createSegments', { labels: [labels[0]], byteLength: 4096 });
    const liveInstance = instanceOf(live!);
    const foreignPid = `/${TEST_PREFIX}-${liveInstance}-4194001-${labels[1]}`;
    native.shmClose(native.shmCreate(foreignPid, 4096));
    // …and a dead instance whose names carry live pids (this process's, and 1).
    const dead = await killedChild();
    const reusedPids = [process.pid, 1].map((pid) => `/${TEST_PREFIX}-${dead.instance}-${pid}-${labels[2]}`);
    for (const n of reusedPids) native.shmClose(native.shmCreate(n, 4096));

    const result = sweepOrphanSegments(TEST_PREFIX);
    expect(result.kept).toEqual(expect.arrayContaining([live, foreignPid]));
    expect(result.removed).toEqual(expect.arrayContaining([...dead.names, ...reusedPids]));
    const left = readdirSync('/dev/shm');
    expect(left).toContain(foreignPid.slice(1));
    for (const n of reusedPids) expect(left).not.toContain(n.slice(1));

    await child.call('exit', { code: 0 });
    await child.exited;
    // The child unlinked what it created; the name it never created goes with the next sweep.
    expect(sweepOrphanSegments(TEST_PREFIX).removed).toEqual([foreignPid]);
    expect(lockFileExists(liveInstance)).toBe(false);
  });

  it('removes the lock file of a dead instance that has no segments left', async () => {
    const instance = newInstanceId();
    native.lockRelease(native.lockAcquire(lockFilePath(TEST_PREFIX, instance)));
    expect(lockFileExists(instance)).toBe(true);
    sweepOrphanSegments(TEST_PREFIX);
    expect(lockFileExists(instance)).toBe(false);
  });

  it('an entry it cannot remove (EPERM on a foreign file) is reported and skipped; the sweep goes on', async () => {
    const a = await killedChild();
    const b = await killedChild();
    const stuck = a.names[1]!;
    const brokenLock = lockFilePath(TEST_PREFIX, b.instance);
    // Root may unlink anything here, so the fault is injected: one unlink and one lock probe fail.
    const deps: SweepDeps = {
      ...NATIVE,
      unlink: (n) => {
        if (n === stuck) throw Object.assign(new Error(`shm_unlink failed for ${n}: Operation not permitted (EPERM)`), { code: 'EPERM' });
        return NATIVE.unlink(n);
      },
      lockTryTake: (p) => {
        if (p === brokenLock) throw Object.assign(new Error(`open failed for ${p}: Permission denied (EACCES)`), { code: 'EACCES' });
        return NATIVE.lockTryTake(p);
      },
    };
    const reported: string[] = [];
    const first = sweepWith({ prefix: TEST_PREFIX, onError: (name) => reported.push(name) }, deps);
    expect(first.failed.map((f) => [f.name, f.code]).sort()).toEqual([[stuck, 'EPERM'], [brokenLock, 'EACCES']].sort());
    expect(reported.sort()).toEqual([stuck, brokenLock].sort());
    // Everything else of the first instance went; the undecidable instance was kept whole.
    expect([...first.removed].sort()).toEqual(a.names.filter((n) => n !== stuck).sort());
    expect(first.kept).toEqual(expect.arrayContaining(b.names));
    expect(shmEntriesOf(a.pid)).toEqual([stuck.slice(1)]);
    expect(lockFileExists(a.instance)).toBe(true); // kept while a segment of it is left
    expect(shmEntriesOf(b.pid)).toHaveLength(3);

    // Once the fault is gone, the next sweep finishes the job.
    const second = sweepOrphanSegments(TEST_PREFIX);
    expect(second.failed).toEqual([]);
    expect([...second.removed].sort()).toEqual([stuck, ...b.names].sort());
    expect(lockFileExists(a.instance) || lockFileExists(b.instance)).toBe(false);
  });

  it('classifies /dev/shm entries: instance segments, lock files, pre-instance names, foreign files', () => {
    expect(parseShmEntry('asyncdiff-k3v9x0aa21bq-1-ctl-0a1b', 'asyncdiff')).toEqual({ kind: 'segment', instance: 'k3v9x0aa21bq', pid: 1 });
    expect(parseShmEntry('asyncdiff-k3v9x0aa21bq.lock', 'asyncdiff')).toEqual({ kind: 'lock', instance: 'k3v9x0aa21bq' });
    expect(parseShmEntry('asyncdiff-4242-ctl-0a1b', 'asyncdiff')).toEqual({ kind: 'legacy', pid: 4242 });
    expect(parseShmEntry('PostgreSQL.3688414968', 'asyncdiff')).toBeUndefined();
    expect(parseShmEntry('asyncdiff-k3v9x0aa21bq-1-x', 'other')).toBeUndefined();
    expect(parseShmEntry('asyncdiff-K3V9X0AA21BQ-1-x', 'asyncdiff')).toBeUndefined();
    for (let i = 0; i < 100; i++) expect(newInstanceId()).toMatch(/^[a-z][a-z0-9]{11}$/);
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
