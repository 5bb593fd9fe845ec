import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { sweepOrphanSegments } from '../index.js';

const FIXTURE = fileURLToPath(new URL('./shm-child.mjs', import.meta.url));
const SRC_DIR = fileURLToPath(new URL('..', import.meta.url));
const BUILD_INFO = fileURLToPath(new URL('../../dist/.tsbuildinfo', import.meta.url));

/** Prefix of every segment test children create, so sweeps in these tests never touch (or are
 * disturbed by) segments of other test suites running on the same machine. */
export const TEST_PREFIX = `shmtest_${process.pid}`;

/** Children run the built library; fail loudly instead of testing stale JavaScript. */
export function assertBuilt(): void {
  let built: number;
  try {
    built = statSync(BUILD_INFO).mtimeMs; // tsc -b rewrites it on every build that emits
  } catch {
    throw new Error('libs/shm/dist is missing: run `npm run build -w @asyncdiff/shm` (npm test builds first)');
  }
  const newest = Math.max(
    ...readdirSync(SRC_DIR)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => statSync(`${SRC_DIR}/${f}`).mtimeMs),
  );
  if (newest > built) throw new Error('libs/shm/dist is older than src: run `npm run build -w @asyncdiff/shm`');
}

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  code?: string;
  name?: string;
  message?: string;
}

/** An error reported by the child, carrying the child's error code. */
export class ChildError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** A test child process running src/test-fixtures/shm-child.mjs. */
export interface TestChild {
  readonly pid: number;
  readonly process: ChildProcess;
  call<T = unknown>(type: string, args?: Record<string, unknown>): Promise<T>;
  /** Resolves with the exit code / signal once the child is gone (and reaped). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<TestChild>();

/** Stops every child still running (SIGTERM, which unlinks its segments; SIGKILL after 2 s,
 * then a sweep); call it in afterEach so a failed test leaks nothing. */
export async function stopAllChildren(): Promise<void> {
  const all = [...live];
  live.clear();
  const running = all.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
  for (const c of running) c.process.kill('SIGTERM');
  const timer = setTimeout(() => running.forEach((c) => c.process.kill('SIGKILL')), 2000);
  await Promise.all(all.map((c) => c.exited));
  clearTimeout(timer);
  sweepOrphanSegments(TEST_PREFIX);
}

export async function startChild(): Promise<TestChild> {
  assertBuilt();
  const child = fork(FIXTURE, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ASYNCDIFF_SHM_TEST_PREFIX: TEST_PREFIX },
  });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const w of waiting.values()) w.reject(new Error(`child exited (${code ?? signal}) before replying`));
      waiting.clear();
      resolve({ code, signal });
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('message', () => resolve());
  });
  child.on('message', (raw) => {
    const reply = raw as Reply;
    const w = waiting.get(reply.id);
    if (!w) return;
    waiting.delete(reply.id);
    if (reply.ok) w.resolve(reply.value);
    else w.reject(new ChildError(`${reply.name ?? 'Error'}: ${reply.message ?? ''}`, reply.code));
  });
  const handle: TestChild = {
    pid: child.pid ?? -1,
    process: child,
    exited,
    call<T>(type: string, args: Record<string, unknown> = {}): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, type, ...args });
      });
    },
  };
  live.add(handle);
  void exited.then(() => live.delete(handle));
  return handle;
}

/** Segments in /dev/shm created by `pid` (`<prefix>-<instance>-<pid>-…`; children use TEST_PREFIX). */
export function shmEntriesOf(pid: number, prefix = TEST_PREFIX): string[] {
  const re = new RegExp(`^${prefix}-[a-z][a-z0-9]{11}-${pid}-`);
  return readdirSync('/dev/shm').filter((e) => re.test(e));
}

/** The instance id in a segment name `/<prefix>-<instance>-<pid>-<label>`. */
export function instanceOf(name: string, prefix = TEST_PREFIX): string {
  const m = new RegExp(`^/?${prefix}-([a-z][a-z0-9]{11})-`).exec(name);
  if (!m?.[1]) throw new Error(`${name} carries no instance id`);
  return m[1];
}

/** Whether the lock file of an instance exists in /dev/shm. */
export function lockFileExists(instance: string, prefix = TEST_PREFIX): boolean {
  return readdirSync('/dev/shm').includes(`${prefix}-${instance}.lock`);
}

/** Polls `cond` until it is true or `timeoutMs` passes. */
export async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
