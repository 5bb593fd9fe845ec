import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { ComponentSpec, StageState } from '@asyncdiff/asyncdiff';
import { StageCrashedError } from '@asyncdiff/asyncdiff';
import { isProcessAlive, type TensorSpec } from '@asyncdiff/shm';

import type { DeviceSpec } from './device.js';
import { StageFailedError } from './errors.js';
import { assertStageTransition, isFinalStageState } from './stage-lifecycle.js';
import { isFromStage, type FromStage, type StageFeedTypes, type ToStage } from './protocol.js';

/** The configure request of a stage (a binding for one batch, latent shape and conditioning). */
export type StageBinding = Omit<Extract<ToStage, { type: 'configure' }>, 'type' | 'id'>;

/** Bytes of a component's graph file and its external data (what loading it reads). */
function componentBytes(c: ComponentSpec): number {
  const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
  return size(c.modelPath) + size(c.modelPath.replace(/\.onnx$/, '.onnx_data'));
}

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
  private current: StageState = 'starting';
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
    /** How long a configure (a probing inference at the new shapes) may take. */
    private readonly configureTimeoutMs: number,
  ) {
    this.child = child;
    child.on('message', (m: unknown) => this.onMessage(m));
    child.on('exit', (code, signal) => this.onExit(code, signal));
    child.stderr?.on('data', (d: Buffer) => {
      this.lastError = d.toString().slice(-2000);
    });
  }

  /** Spawns a stage process and loads `component` into it (pinned to the device). */
  static async spawn(
    device: number,
    spec: DeviceSpec,
    component: ComponentSpec,
    feedTypes: StageFeedTypes,
    options: { spinUs?: number; startTimeoutMs?: number; configureTimeoutMs?: number } = {},
  ): Promise<StageHandle> {
    // ORT_DISABLE_TELEMETRY: onnxruntime 1.30's Linux telemetry retries an HTTPS upload to
    // mobile.events.data.microsoft.com every ~2 s (a fresh thread and a DNS lookup each time): the
    // main CPU cost of an idle stage, and traffic a stage must not send. A caller's own value wins.
    const env: NodeJS.ProcessEnv = { ORT_DISABLE_TELEMETRY: '1', ...process.env, ASYNCDIFF_STAGE_DEVICE: String(device) };
    if (spec.kind === 'cuda') env['CUDA_VISIBLE_DEVICES'] = String(spec.gpu);
    // detached: a process group of its own, so Ctrl-C in a terminal (or systemd signalling the
    // main process) reaches only the coordinator, which drains and then stops its stages; a
    // stage still exits on its own when the coordinator disappears (IPC disconnect).
    const child = fork(stageEntryPath(), [], { env, stdio: ['ignore', 'inherit', 'pipe', 'ipc'], serialization: 'advanced', detached: true });
    // Loading and the first (probing) inference scale with the weights: a full-size UNet stage
    // takes a minute to read 3 GB on a busy CPU host. Allow a minute plus a minute per GB.
    const weightGb = componentBytes(component) / 1e9;
    const handle = new StageHandle(device, spec, child, options.configureTimeoutMs ?? Math.round(120_000 + 120_000 * weightGb));
    await handle.request({ type: 'load', device, spec, component, feedTypes, spinUs: options.spinUs ?? 0 }, options.startTimeoutMs ?? Math.round(60_000 + 60_000 * weightGb));
    handle.moveTo('ready');
    return handle;
  }

  /** Where the stage is in its lifecycle (see `stage-lifecycle.ts`); changed only by the methods below. */
  get state(): StageState {
    return this.current;
  }

  /** A run was dispatched to the stage: ready → busy. */
  markBusy(): void {
    this.moveTo('busy');
  }

  /**
   * The stage's run finished (or failed): busy → ready. A stage already on its way out (closed
   * while the run was under way, or found dead first) keeps that state rather than coming back.
   */
  markReady(): void {
    if (this.current !== 'busy') return;
    this.moveTo('ready');
  }

  /** The stage was found dead or was killed as stuck. Repeat-safe; a stopped stage stays stopped. */
  markCrashed(): void {
    if (isFinalStageState(this.current)) return;
    this.moveTo('crashed');
  }

  private moveTo(to: StageState): void {
    assertStageTransition(this.device, this.current, to);
    this.current = to;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** True while the process exists and is not a zombie (works while the event loop is blocked). */
  alive(): boolean {
    return !isFinalStageState(this.current) && this.child.exitCode === null && isProcessAlive(this.pid);
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
  async configure(binding: StageBinding): Promise<{ channel: string; outputs: readonly TensorSpec[] }> {
    const r = await this.request({ type: 'configure', ...binding }, this.configureTimeoutMs);
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
    if (isFinalStageState(this.current) || this.child.exitCode !== null) return;
    this.moveTo('draining');
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
    if (this.current === 'draining') this.moveTo('stopped');
    else this.markCrashed();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new StageCrashedError(this.device, `stage ${this.device} (pid ${this.pid}) exited (${signal ?? code}) ${this.lastError ? `: ${this.lastError}` : ''}`));
      this.pending.delete(id);
    }
    for (const fn of this.exitListeners) fn(code, signal);
    this.exitListeners.clear();
  }
}
