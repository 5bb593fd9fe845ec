import type { Readable } from 'node:stream';

/** What an object's bytes can be handed over as: whole in memory, or streamed (large videos). */
export type ObjectBody = Buffer | Uint8Array | Readable;

/** Per-object attributes stored with the bytes. */
export interface PutOptions {
  /** MIME type served back with the object, e.g. `image/png`. */
  contentType: string;
  /** Small string attributes (job id, seed…). Names: lowercase `[a-z0-9-]`; values: printable ASCII. */
  metadata?: Record<string, string>;
}

/** What a completed write produced, so callers can record sizes and integrity hashes. */
export interface PutResult {
  key: string;
  bytes: number;
  /** Lowercase hex SHA-256 of the bytes written. */
  sha256: string;
  /** The backend's entity tag (S3 only; quotes stripped). */
  etag?: string;
}

/** An object's attributes without its bytes. */
export interface HeadResult {
  bytes: number;
  contentType: string;
  lastModified: Date;
  /** Lowercase hex SHA-256 when the backend recorded it (always for local; S3 unless streamed multipart). */
  sha256?: string;
  metadata: Record<string, string>;
  etag?: string;
}

/** Pagination of `list`. */
export interface ListOptions {
  /** Opaque `nextCursor` from the previous page. */
  cursor?: string;
  /** Page size, 1…1000. @defaultValue 1000 */
  limit?: number;
}

/** One entry of a listing. */
export interface ListedObject {
  key: string;
  bytes: number;
  lastModified: Date;
}

/** One page of a listing, in UTF-8 byte order of keys (as S3 returns them). */
export interface ListPage {
  items: ListedObject[];
  /** Present when more keys follow; pass it back as `cursor`. */
  nextCursor?: string;
}

/** Options of `url`. */
export interface UrlOptions {
  /** Lifetime of the URL in seconds, 1…604800 (S3's maximum). @defaultValue the store's `urlExpiresInSec` */
  expiresInSec?: number;
}

/** Which implementation a store is; lets the API decide whether it must serve local files itself. */
export type ObjectStoreKind = 'local' | 's3';

/**
 * Where generated outputs live. Both implementations accept exactly the same keys (see
 * `validateKey`), so code tested against the local folder behaves the same on S3.
 * Writes are whole-object and atomic: re-putting a key (an idempotent retry) replaces it.
 */
export interface ObjectStore {
  readonly kind: ObjectStoreKind;
  /** Writes (or replaces) an object. */
  put(key: string, body: ObjectBody, options: PutOptions): Promise<PutResult>;
  /** Reads a whole object; throws `ObjectNotFoundError` if absent. */
  get(key: string): Promise<Buffer>;
  /** Opens an object for streaming; rejects with `ObjectNotFoundError` before any byte if absent. */
  getStream(key: string): Promise<Readable>;
  /** An object's attributes, or null if it does not exist. */
  head(key: string): Promise<HeadResult | null>;
  /** Keys starting with `prefix` (may be empty), one page at a time. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Removes an object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** A URL a client can GET the object from until it expires (presigned S3, or HMAC-signed API path). */
  url(key: string, options?: UrlOptions): Promise<string>;
  /** Releases connections; repeat-safe. */
  close(): Promise<void>;
}
