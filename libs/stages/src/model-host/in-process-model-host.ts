import type { FeedTensor } from '@asyncdiff/asyncdiff';

import type { ModelHost, ModelHostMetadata } from './model-host.js';
import { loadSessions, runSession, type OrtSessions } from './ort-sessions.js';

/**
 * A model host that runs in the caller's process: for the CLI's local generation and tests,
 * where blocking the thread for a text encoder or a VAE decode is fine.
 */
export class InProcessModelHost implements ModelHost {
  private closed: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(private readonly s: OrtSessions) {}

  static async create(models: Readonly<Record<string, string>>, intraOpThreads = 1): Promise<InProcessModelHost> {
    return new InProcessModelHost(await loadSessions(models, { kind: 'cpu', cpus: Array.from({ length: intraOpThreads }, (_, i) => i) }));
  }

  get metadata(): ModelHostMetadata {
    return this.s.metadata;
  }

  run(model: string, feeds: Readonly<Record<string, FeedTensor>>, outputs?: readonly string[]): Promise<Record<string, FeedTensor>> {
    if (this.closed) return Promise.reject(Object.assign(new Error('model host is closed'), { code: 'MODEL_HOST_CLOSED' }));
    const next = this.chain.then(() => runSession(this.s, model, feeds, outputs));
    this.chain = next.catch(() => undefined);
    return next;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.chain;
      for (const s of this.s.sessions.values()) await s.release();
    })();
    return this.closed;
  }
}
