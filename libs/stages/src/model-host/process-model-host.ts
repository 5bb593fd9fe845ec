import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { FeedTensor } from '@asyncdiff/asyncdiff';
import { StageCrashedError } from '@asyncdiff/asyncdiff';

import type { DeviceSpec } from '../device.js';
import { StageFailedError } from '../errors.js';
import type { ModelHost, ModelHostMetadata } from './model-host.js';
import { isMessage, type FromModelHost, type ToModelHost } from './protocol.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Pending = { resolve: (m: FromModelHost) => void; reject: (e: Error) => void };

/** The compiled entry of a model-host process (tests run from src; children always run dist). */
function entryPath(): string {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(dir, '../model-host-main.js'), path.resolve(dir, '../../dist/model-host-main.js')];
  const hit = candidates.find((p) => existsSync(p));
  if (!hit) throw new Error(`model host entry not built (looked for ${candidates.join(', ')}); run npm run build`);
  return hit;
}

/**
 * A model host in its own process, pinned to a device like a stage: the GPU host's way of
 * running text encoders and the VAE decoder without blocking its event loop. A crash rejects
 * every pending call with a retryable `StageCrashedError` (the job is retried or resumed).
 */
export class ProcessModelHost implements ModelHost {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private stderrTail = '';
  metadata: ModelHostMetadata = {};

  private constructor(
    private readonly child: ChildProcess,
    private readonly device: number,
  ) {
    child.on('message', (m: unknown) => {
      if (!isMessage<FromModelHost>(m) || m.type === 'started') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'error') p.reject(new StageFailedError(this.device, `model host: [${m.code}] ${m.message}`));
      else p.resolve(m);
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    child.on('exit', (code, signal) => {
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new StageCrashedError(this.device, `model host (pid ${child.pid}) exited (${signal ?? code})${this.stderrTail ? `: ${this.stderrTail}` : ''}`));
      }
    });
  }

  /** Forks a host on `spec` (pinned; `CUDA_VISIBLE_DEVICES` for a GPU) and loads `models` (key → ONNX path). */
  static async spawn(models: Readonly<Record<string, string>>, spec: DeviceSpec, device = 0): Promise<ProcessModelHost> {
    // No ORT telemetry uploads (see StageHandle.spawn); a caller's own value wins.
    const env: NodeJS.ProcessEnv = { ORT_DISABLE_TELEMETRY: '1', ...process.env };
    if (spec.kind === 'cuda') env['CUDA_VISIBLE_DEVICES'] = String(spec.gpu);
    const child = fork(entryPath(), [], { env, stdio: ['ignore', 'inherit', 'pipe', 'ipc'], serialization: 'advanced', detached: true });
    const host = new ProcessModelHost(child, device);
    try {
      const r = await host.request({ type: 'load', models, spec });
      if (r.type !== 'loaded') throw new StageFailedError(device, `model host: unexpected reply ${r.type} to load`);
      host.metadata = r.metadata;
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    return host;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async run(model: string, feeds: Readonly<Record<string, FeedTensor>>, outputs?: readonly string[]): Promise<Record<string, FeedTensor>> {
    if (this.closing) throw new StageFailedError(this.device, 'model host is closed');
    const r = await this.request({ type: 'run', model, feeds, ...(outputs ? { outputs } : {}) });
    if (r.type !== 'ran') throw new StageFailedError(this.device, `model host: unexpected reply ${r.type} to run`);
    return r.outputs;
  }

  close(deadlineMs = 3_000): Promise<void> {
    this.closing ??= (async () => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      const timer = setTimeout(() => this.child.kill('SIGKILL'), deadlineMs);
      await this.request({ type: 'shutdown' }).catch(() => this.child.kill('SIGTERM'));
      await exited;
      clearTimeout(timer);
    })();
    return this.closing;
  }

  private request(m: WithoutId<ToModelHost>): Promise<FromModelHost> {
    const id = this.nextId++;
    return new Promise<FromModelHost>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...m, id } as ToModelHost, (err) => {
        if (!err) return;
        this.pending.delete(id);
        reject(new StageCrashedError(this.device, `model host: cannot send ${m.type}: ${err.message}`, { cause: err }));
      });
    });
  }
}
