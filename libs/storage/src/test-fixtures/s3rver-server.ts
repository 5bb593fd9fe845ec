import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A running s3rver on a random port with its own temp folder. */
export interface TestS3Server {
  endpoint: string;
  /** s3rver's built-in account (s3rver accepts any V4 signature made with this key id). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./s3rver-child.mjs', import.meta.url));

/** Starts a real S3-protocol server (s3rver in a child process) for a test file. */
export async function startS3rver(): Promise<TestS3Server> {
  const directory = await mkdtemp(path.join(tmpdir(), 'asyncdiff-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', CHILD, directory], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => String(line)),
    exited.then(([code]) => {
      throw new Error(`s3rver child exited early with ${String(code)}`);
    }),
  ]);
  const { port } = JSON.parse(first) as { port: number };
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    close() {
      closed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.stdin.end();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        await rm(directory, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
