import type { BatchClient, JobClient } from '@asyncdiff/queue';

import type { Logger } from './log/logger.js';
import type { ApiMetrics } from './metrics/api-metrics.js';
import type { FileServer } from './routes/files.js';
import type { WebhookSecretView } from './webhooks/secret-view.js';
import type { ApiOptions } from './options.js';

/**
 * Anything that can hand out a URL for a stored output: `@asyncdiff/storage`'s `ObjectStore`
 * fits as is, so storage stays pluggable and the API never imports it.
 */
export interface OutputUrlSource {
  url(key: string, options?: { expiresInSec?: number }): Promise<string> | string;
}

/** A plain function form of `OutputUrlSource`. */
export type UrlFor = (key: string, options: { expiresInSec: number }) => Promise<string> | string;

export type { Logger } from './log/logger.js';

/** What `createApp` needs; everything but `jobs` is optional. */
export interface ApiDeps {
  readonly jobs: JobClient;
  /** Batches (`/v1/batches`, dashboard); without it those routes answer 503. `startApi` makes one. */
  readonly batches?: BatchClient;
  /** Output URLs; without it outputs are listed with `url: null`. */
  readonly outputUrls?: OutputUrlSource | UrlFor;
  /** Extra readiness check for `/readyz` (e.g. storage reachable); throw when not ready. */
  readonly readiness?: () => Promise<void> | void;
  readonly options?: ApiOptions;
  /** Share a registry with an embedding process; created when absent. */
  readonly metrics?: ApiMetrics;
  /** @defaultValue JSON lines on stdout through pino (`createLogger`) */
  readonly logger?: Logger;
  /** Serves locally stored outputs behind signed URLs (absent with S3, whose URLs are presigned). */
  readonly files?: FileServer;
  /** The webhook signing secrets `GET /v1/webhooks/default/secret` hands to admins (`startApi` passes them). */
  readonly webhookSecret?: WebhookSecretView;
}

/** Normalises `outputUrls` into one function (undefined when there is none). */
export function urlResolver(source: ApiDeps['outputUrls']): UrlFor | undefined {
  if (source === undefined) return undefined;
  if (typeof source === 'function') return source;
  return (key, options) => source.url(key, options);
}
