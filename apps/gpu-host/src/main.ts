#!/usr/bin/env node
/**
 * Runs a GPU host standalone (`node apps/gpu-host/dist/main.js`), configured from the
 * environment (see `gpuHostOptionsFromEnv`). SIGTERM/SIGINT drain it: running jobs finish their
 * current step, are checkpointed and handed back; a second signal, or the close deadline,
 * exits at once (stage processes exit when their coordinator goes away).
 */
import { gpuHostOptionsFromEnv } from './env.js';
import { startGpuHost } from './host.js';

const log = (message: string): void => {
  process.stdout.write(`[gpu-host] ${message}\n`);
};
const options = gpuHostOptionsFromEnv();
const host = await startGpuHost({
  ...options,
  log,
  onError: (err) => process.stderr.write(`[gpu-host] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`),
});
log(`ready: ${host.groups.map((g) => `${g.id}=[${g.devices.join(' ')}]`).join(' ')}`);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) {
    log(`${signal} again: exiting now`);
    process.exit(1);
  }
  stopping = true;
  log(`${signal}: draining`);
  const deadlineMs = (options.closeDeadlineMs ?? 30_000) + 5_000;
  setTimeout(() => {
    log('drain deadline passed: exiting');
    process.exit(1);
  }, deadlineMs).unref();
  host.close().then(
    () => {
      log('drained');
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`[gpu-host] close failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
