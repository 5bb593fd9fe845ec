import type { VerifiedLocalUrl } from './local-url.js';
import type { ObjectStore } from './object-store.js';

/**
 * The local-folder store: an `ObjectStore` whose URLs point at the API, which serves them after
 * `verifyUrl` accepts the request's URL.
 */
export interface LocalObjectStore extends ObjectStore {
  readonly kind: 'local';
  /** Absolute folder holding the objects. */
  readonly rootDir: string;
  /** Base of the URLs `url()` returns (the API's file route). */
  readonly baseUrl: string;
  /** Checks a signed URL (path + query or full URL) and returns the key it grants; throws `LocalUrlError`. */
  verifyUrl(url: string | URL, nowMs?: number): Promise<VerifiedLocalUrl>;
}
