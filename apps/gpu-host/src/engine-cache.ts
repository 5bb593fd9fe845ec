import type { Engine, TextToImage } from '@asyncdiff/engine';

import { GpuHostError } from './errors.js';

/** One cached engine: which model/config/devices it serves, and whether a job holds it. */
export interface CachedEngine {
  readonly key: string;
  readonly engine: Engine;
  /** Text-to-image packages: the pipeline around the engine (text encoders and VAE in a model host). */
  readonly text: TextToImage | undefined;
  /** Group device indices its stages are pinned to. */
  readonly devices: readonly number[];
  inUse: boolean;
  lastUsedAt: number;
}

/**
 * Engines of one replica group, created lazily per (model, parallel config, devices) and kept
 * warm: opening one spawns stage processes and loads ONNX sessions (~0.5–1 s on CPU), which a
 * job should not pay every time. Bounded: beyond `maxEngines`, least recently used idle engines
 * are closed. Engines a job holds are never closed under it (the allocator already keeps two
 * jobs off the same devices, so one engine serves one job at a time).
 */
export class EngineCache {
  private readonly entries = new Map<string, CachedEngine>();
  private readonly opening = new Map<string, Promise<CachedEngine>>();
  private closed = false;

  constructor(
    private readonly maxEngines: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Takes the engine for `key`, opening it with `open` if needed; `release` hands it back. */
  async take(
    key: string,
    devices: readonly number[],
    open: () => Promise<{ engine: Engine; text?: TextToImage | undefined }>,
  ): Promise<{ entry: CachedEngine; release: (broken?: boolean) => Promise<void> }> {
    if (this.closed) throw new GpuHostError('HOST_CLOSED', 'the host is shutting down', true);
    let entry = this.entries.get(key);
    if (!entry) {
      let pending = this.opening.get(key);
      if (!pending) {
        pending = open().then(({ engine, text }) => ({ key, engine, text, devices: [...devices], inUse: false, lastUsedAt: Date.now() }));
        this.opening.set(key, pending);
      }
      try {
        entry = await pending;
      } finally {
        this.opening.delete(key);
      }
      if (this.closed) {
        await closeEntry(entry).catch(this.onError);
        throw new GpuHostError('HOST_CLOSED', 'the host is shutting down', true);
      }
      this.entries.set(key, entry);
    }
    if (entry.inUse) throw new GpuHostError('ENGINE_BUSY', `engine ${key} is already in use`, true);
    entry.inUse = true;
    entry.lastUsedAt = Date.now();
    await this.trim();
    const taken = entry;
    let released = false;
    return {
      entry: taken,
      release: async (broken = false) => {
        if (released) return;
        released = true;
        taken.inUse = false;
        taken.lastUsedAt = Date.now();
        if (broken) await this.evict(taken.key);
      },
    };
  }

  /**
   * Marks an idle engine busy for a health check (the caller holds its devices); undefined if
   * it is gone or taken. `release` as for `take`.
   */
  tryTake(key: string): { entry: CachedEngine; release: (broken?: boolean) => Promise<void> } | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.inUse) return undefined;
    entry.inUse = true;
    let released = false;
    return {
      entry,
      release: async (broken = false) => {
        if (released) return;
        released = true;
        entry.inUse = false;
        if (broken) await this.evict(entry.key);
      },
    };
  }

  /** Idle engines (health checks run only on these). */
  idle(): CachedEngine[] {
    return [...this.entries.values()].filter((e) => !e.inUse);
  }

  /** Every cached engine (status). */
  all(): CachedEngine[] {
    return [...this.entries.values()];
  }

  /** Closes and forgets one engine (a broken one, or LRU eviction). */
  async evict(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    await closeEntry(entry).catch(this.onError);
  }

  /** Closes every engine (host shutdown). Repeat-safe. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.keys()];
    await Promise.all(all.map((k) => this.evict(k)));
  }

  private async trim(): Promise<void> {
    while (this.entries.size > this.maxEngines) {
      const victim = this.idle().sort((a, b) => a.lastUsedAt - b.lastUsedAt)[0];
      if (!victim) return;
      await this.evict(victim.key);
    }
  }
}

/** Closes an entry's model host (if any), then its engine's stages. */
async function closeEntry(entry: CachedEngine): Promise<void> {
  try {
    await entry.text?.close();
  } finally {
    await entry.engine.close();
  }
}
