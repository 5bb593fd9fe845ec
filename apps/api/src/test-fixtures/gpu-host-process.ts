import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built GPU host (`npx tsc -b apps/gpu-host/tsconfig.build.json`). */
export const GPU_HOST_MAIN = fileURLToPath(new URL('../../../gpu-host/dist/main.js', import.meta.url));
/** Whether the real GPU host has been built here. */
export const HAVE_GPU_HOST = existsSync(GPU_HOST_MAIN);

/** A GPU host running as a child process, with its output collected. */
export interface GpuHostProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves once it logged `ready:` (its replica groups are up). */
  ready(timeoutMs?: number): Promise<void>;
  /** Base URL of its `/metrics`, `/healthz`, `/readyz`, from its `ready` log line (after `ready()`). */
  probeUrl(): string | undefined;
  /** SIGKILL (a crash: no drain, no hand-back) and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (drain) and wait for the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/**
 * Starts `apps/gpu-host/dist/main.js` configured by environment variables, as production does;
 * its metrics port is any free one (see `metricsUrl`) unless `GPU_HOST_METRICS_PORT` is given.
 */
export function spawnGpuHost(env: Record<string, string>): GpuHostProcess {
  const child = spawn(process.execPath, [GPU_HOST_MAIN], { env: { ...process.env, GPU_HOST_METRICS_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!text.includes('ready:')) {
        if (child.exitCode !== null) throw new Error(`gpu host exited (${child.exitCode}):\n${text}`);
        if (Date.now() > deadline) throw new Error(`gpu host not ready after ${timeoutMs} ms:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    probeUrl: () => /"metrics":"(http:\/\/[^"]+)"/.exec(text)?.[1],
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop(timeoutMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
