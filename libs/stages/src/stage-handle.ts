import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { ComponentSpec } from '@asyncdiff/asyncdiff';
import { StageCrashedError } from '@asyncdiff/asyncdiff';
import { isProcessAlive, type TensorSpec } from '@asyncdiff/shm';

import type { DeviceSpec } from './device.js';
import { StageFailedError } from './errors.js';
import { isFromStage, type FromStage, type ToStage } from './protocol.js';

/**
 * Lifecycle of a stage process as its parent sees it:
 * starting → ready (loaded) → busy (a step in flight) → ready …; draining → stopped on shutdown;
 * crashed when it exits unasked. Only `ready`/`busy` stages take requests.
 */
export type StageState = 'starting' | 'ready' | 'busy' | 'draining' | 'stopped' | 'crashed';

/** Resolves the compiled stage entry (tests run from src; stage processes always run dist). */
export function stageEntryPath(): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  const candidates = [path.join(dir, 'stage-main.js'), path.resolve(dir, '../dist/stage-main.js')];
  const hit = candidates.find((p) => existsSync(p));
  if (!hit) throw new Error(`stage entry not built (looked for ${candidates.join(', ')}); run npm run build`);
  return hit;
}

type Pending = { resolve: (m: FromStage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** Info reported by a stage when it loaded its component. */
export interface StageLoadInfo {
  readonly pid: number;
  readonly loadMs: number;
  readonly weightBytes: number;
  readonly cpus: readonly number[];
}

/**
 * Parent-side handle of one stage process: spawns it (with `CUDA_VISIBLE_DEVICES` for a GPU),
 * sends control requests and awaits their replies, and turns an unexpected exit into a typed
 * `StageCrashedError` for whoever is waiting.
 */
export class StageHandle {
  state: StageState = 'starting';
  readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exitListeners = new Set<(code: number | null, signal: NodeJS.Signals | null) => void>();
  private lastError: string | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly device: number,
    readonly spec: DeviceSpec,
    child: ChildProcess,
  ) {
    this.child = child;
    child.on('message', (m: unknown) => this.onMessage(m));
    child.on('exit', (code, signal) => this.onExit(code, signal));
    child.stderr?.on('data', (d: Buffer) => {
      this.lastError = d.toString().slice(-2000);
    });
  }

  /** Spawns a stage process and loads `component` into it (pinned to the device). */
  static async spawn(device: number, spec: DeviceSpec, component: ComponentSpec, options: { spinUs?: number; startTimeoutMs?: number } = {}): Promise<StageHandle> {
    const env: NodeJS.ProcessEnv = { ...process.env, ASYNCDIFF_STAGE_DEVICE: String(device) };
    if (spec.kind === 'cuda') env['CUDA_VISIBLE_DEVICES'] = String(spec.gpu);
    // detached: a process group of its own, so Ctrl-C in a terminal (or systemd signalling the
    // main process) reaches only the coordinator, which drains and then stops its stages; a
    // stage still exits on its own when the coordinator disappears (IPC disconnect).
    const child = fork(stageEntryPath(), [], { env, stdio: ['ignore', 'inherit', 'pipe', 'ipc'], serialization: 'advanced', detached: true });
    const handle = new StageHandle(device, spec, child);
    await handle.request({ type: 'load', device, spec, component, spinUs: options.spinUs ?? 0 }, options.startTimeoutMs ?? 60_000);
    handle.state = 'ready';
    return handle;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** True while the process exists and is not a zombie (works while the event loop is blocked). */
  alive(): boolean {
    return this.state !== 'crashed' && this.state !== 'stopped' && this.child.exitCode === null && isProcessAlive(this.pid);
  }

  /** Sends a control request and resolves with its reply (an `error` reply rejects). */
  request(m: WithoutId<ToStage>, timeoutMs = 30_000): Promise<FromStage> {
    const id = this.nextId++;
    return new Promise<FromStage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StageFailedError(this.device, `stage ${this.device}: no reply to ${m.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ ...m, id } as ToStage, (err) => {
        if (err) {
          clearTimeout(timer);
          this.pending.delete(id);
          reject(new StageCrashedError(this.device, `stage ${this.device}: cannot send ${m.type}: ${err.message}`, { cause: err }));
        }
      });
    });
  }

  /** Configures the stage for a batch; returns its output channel name and tensors. */
  async configure(batch: number, sampleDims: readonly number[], control: string, producers: readonly { device: number; channel: string }[]): Promise<{ channel: string; outputs: readonly TensorSpec[] }> {
    const r = await this.request({ type: 'configure', batch, sampleDims, control, producers });
    if (r.type !== 'configured') throw new StageFailedError(this.device, `unexpected reply ${r.type} to configure`);
    return { channel: r.channel, outputs: r.outputs };
  }

  /**
   * Runs the health check (a tiny real inference on the configured bindings); resolves with its
   * latency, whether it could infer (not before the first configure) and memory.
   */
  async health(timeoutMs = 10_000): Promise<{ runMs: number; inferred: boolean; rssBytes: number; peakRssBytes: number }> {
    const r = await this.request({ type: 'health' }, timeoutMs);
    if (r.type !== 'health') throw new StageFailedError(this.device, `unexpected reply ${r.type} to health`);
    return r;
  }

  /** Registers a callback for the process exit; returns an unsubscribe function. */
  onExitOnce(fn: (code: number | null, signal: NodeJS.Signals | null) => void): () => void {
    this.exitListeners.add(fn);
    return () => this.exitListeners.delete(fn);
  }

  /** The tail of the stage's stderr (for crash reports). */
  get stderrTail(): string | undefined {
    return this.lastError;
  }

  /** Asks the stage to stop, escalating to SIGKILL after `deadlineMs`. Repeat-safe. */
  close(deadlineMs = 3_000): Promise<void> {
    this.closing ??= this.doClose(deadlineMs);
    return this.closing;
  }

  private async doClose(deadlineMs: number): Promise<void> {
    if (this.state === 'crashed' || this.state === 'stopped' || this.child.exitCode !== null) return;
    this.state = 'draining';
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.request({ type: 'shutdown' }, deadlineMs);
    } catch {
      // fall through to signals
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), deadlineMs);
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
  }

  private onMessage(m: unknown): void {
    if (!isFromStage(m)) return;
    if (m.type === 'started') return;
    if (m.type === 'error' && m.id === null) {
      this.lastError = `${m.code}: ${m.message}`;
      return;
    }
    const id = m.id;
    if (id === null) return;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (m.type === 'error') p.reject(new StageFailedError(this.device, `stage ${this.device}: [${m.code}] ${m.message}`));
    else p.resolve(m);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const asked = this.state === 'draining';
    this.state = asked ? 'stopped' : 'crashed';
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new StageCrashedError(this.device, `stage ${this.device} (pid ${this.pid}) exited (${signal ?? code}) ${this.lastError ? `: ${this.lastError}` : ''}`));
      this.pending.delete(id);
    }
    for (const fn of this.exitListeners) fn(code, signal);
    this.exitListeners.clear();
  }
}
