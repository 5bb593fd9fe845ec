import path from 'node:path';
import { MAX_URL_EXPIRES_SEC } from './arguments.js';
import { StorageConfigError } from './errors.js';

/** Options of the local-folder store (the default backend). */
export interface LocalStoreOptions {
  /** Folder holding the objects; relative paths resolve against `cwd`. @defaultValue `var/outputs` */
  rootDir?: string;
  /**
   * Where the API serves local objects: an absolute path (`/v1/files`) or an absolute URL
   * (`https://api.example.com/v1/files`). `url()` appends the encoded key.
   * @defaultValue `/v1/files`
   */
  baseUrl?: string;
  /**
   * HMAC key for signed local URLs (≥ 32 bytes). Every process that signs or verifies URLs must
   * share it. @defaultValue a random secret created once in `<rootDir>/.asyncdiff/url-secret`
   */
  urlSecret?: string | Uint8Array;
  /** Default lifetime of `url()`. @defaultValue 3600 */
  urlExpiresInSec?: number;
}

/** Fully resolved local-store config. */
export interface ResolvedLocalStoreOptions {
  kind: 'local';
  rootDir: string;
  baseUrl: string;
  /** null: use (or create) the secret file under the root. */
  urlSecret: Buffer | null;
  urlExpiresInSec: number;
}

/** Static S3 credentials; leave them out to use the SDK's default chain (env, profile, IMDS…). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Options of the S3 (or S3-compatible: MinIO, R2, Ceph…) store. */
export interface S3StoreOptions {
  bucket: string;
  /** @defaultValue `us-east-1` */
  region?: string;
  /** Endpoint of an S3-compatible store, e.g. `http://127.0.0.1:9000`. @defaultValue AWS */
  endpoint?: string;
  /** Bucket in the path instead of the host name. @defaultValue true when `endpoint` is set */
  forcePathStyle?: boolean;
  /** @defaultValue the SDK's default credential chain */
  credentials?: S3Credentials;
  /** Bodies larger than this go up as multipart uploads. @defaultValue 16 MiB */
  multipartThresholdBytes?: number;
  /** Multipart part size; S3 requires ≥ 5 MiB. @defaultValue 8 MiB */
  partSizeBytes?: number;
  /** Parts uploaded concurrently (memory ≈ queue × part size). @defaultValue 2 */
  uploadQueueSize?: number;
  /** Default lifetime of presigned URLs. @defaultValue 3600 */
  urlExpiresInSec?: number;
  /** SDK attempts per request (1 = no retry). @defaultValue 3 */
  maxAttempts?: number;
  /** @defaultValue 5000 */
  connectionTimeoutMs?: number;
  /** Socket inactivity limit per request. @defaultValue 60000 */
  requestTimeoutMs?: number;
}

/** Fully resolved S3-store config. */
export interface ResolvedS3StoreOptions {
  kind: 's3';
  bucket: string;
  region: string;
  endpoint: string | null;
  forcePathStyle: boolean;
  credentials: S3Credentials | null;
  multipartThresholdBytes: number;
  partSizeBytes: number;
  uploadQueueSize: number;
  urlExpiresInSec: number;
  maxAttempts: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/** Either backend's resolved config; `createObjectStore` takes this. */
export type ResolvedStorageOptions = ResolvedLocalStoreOptions | ResolvedS3StoreOptions;

const MIB = 1024 * 1024;
/** S3's smallest allowed multipart part. */
export const MIN_PART_SIZE_BYTES = 5 * MIB;

/** Fills local-store defaults and checks every field. */
export function resolveLocalStoreOptions(options: LocalStoreOptions = {}, cwd = process.cwd()): ResolvedLocalStoreOptions {
  const rootDir = options.rootDir ?? 'var/outputs';
  if (typeof rootDir !== 'string' || rootDir.length === 0 || rootDir.includes('\0')) {
    throw new StorageConfigError('rootDir', 'must be a non-empty path');
  }
  let urlSecret: Buffer | null = null;
  if (options.urlSecret !== undefined) {
    urlSecret = typeof options.urlSecret === 'string' ? Buffer.from(options.urlSecret, 'utf8') : Buffer.from(options.urlSecret);
    if (urlSecret.length < 32) throw new StorageConfigError('urlSecret', 'must be at least 32 bytes');
  }
  return {
    kind: 'local',
    rootDir: path.resolve(cwd, rootDir),
    baseUrl: resolveBaseUrl(options.baseUrl ?? '/v1/files'),
    urlSecret,
    urlExpiresInSec: intInRange('urlExpiresInSec', options.urlExpiresInSec ?? 3600, 1, MAX_URL_EXPIRES_SEC),
  };
}

function resolveBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  if (trimmed.startsWith('/') && !trimmed.startsWith('//')) {
    if (/[?#\s]/.test(trimmed)) throw new StorageConfigError('baseUrl', 'must not contain "?", "#" or spaces');
    return trimmed;
  }
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    throw new StorageConfigError('baseUrl', `${JSON.stringify(baseUrl)} is neither an absolute path nor an http(s) URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new StorageConfigError('baseUrl', 'must use http or https');
  }
  if (parsed.search || parsed.hash) throw new StorageConfigError('baseUrl', 'must not contain a query or fragment');
  return trimmed;
}

/** Fills S3-store defaults and checks every field. */
export function resolveS3StoreOptions(options: S3StoreOptions): ResolvedS3StoreOptions {
  if (typeof options.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
    throw new StorageConfigError('bucket', `${JSON.stringify(options.bucket)} is not a valid S3 bucket name`);
  }
  const endpoint = options.endpoint ?? null;
  if (endpoint !== null) {
    try {
      const url = new URL(endpoint);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
    } catch {
      throw new StorageConfigError('endpoint', `${JSON.stringify(endpoint)} is not an http(s) URL`);
    }
  }
  const credentials = options.credentials ?? null;
  if (credentials !== null && (!credentials.accessKeyId || !credentials.secretAccessKey)) {
    throw new StorageConfigError('credentials', 'accessKeyId and secretAccessKey must both be set');
  }
  const partSizeBytes = intInRange('partSizeBytes', options.partSizeBytes ?? 8 * MIB, MIN_PART_SIZE_BYTES, 5 * 1024 * MIB);
  const multipartThresholdBytes = intInRange('multipartThresholdBytes', options.multipartThresholdBytes ?? 16 * MIB, 0, 5 * 1024 * MIB);
  return {
    kind: 's3',
    bucket: options.bucket,
    region: options.region ?? 'us-east-1',
    endpoint,
    forcePathStyle: options.forcePathStyle ?? endpoint !== null,
    credentials,
    multipartThresholdBytes,
    partSizeBytes,
    uploadQueueSize: intInRange('uploadQueueSize', options.uploadQueueSize ?? 2, 1, 64),
    urlExpiresInSec: intInRange('urlExpiresInSec', options.urlExpiresInSec ?? 3600, 1, MAX_URL_EXPIRES_SEC),
    maxAttempts: intInRange('maxAttempts', options.maxAttempts ?? 3, 1, 20),
    connectionTimeoutMs: intInRange('connectionTimeoutMs', options.connectionTimeoutMs ?? 5000, 1, 600_000),
    requestTimeoutMs: intInRange('requestTimeoutMs', options.requestTimeoutMs ?? 60_000, 1, 3_600_000),
  };
}

/** The environment variables `resolveStorageOptions` reads (a subset of `process.env`). */
export type StorageEnv = Readonly<Record<string, string | undefined>>;

/**
 * Picks and configures the backend from the environment, once, at the process edge:
 * S3 when `S3_BUCKET` is set (`S3_ENDPOINT`, `S3_REGION`/`AWS_REGION`, `S3_FORCE_PATH_STYLE`,
 * `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`), else the local folder
 * (`STORAGE_DIR`, default `var/outputs`; `STORAGE_BASE_URL`; `STORAGE_URL_SECRET`).
 * `STORAGE_URL_EXPIRES_SEC` sets the default URL lifetime for both.
 */
export function resolveStorageOptions(env: StorageEnv, cwd = process.cwd()): ResolvedStorageOptions {
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const urlExpires = get('STORAGE_URL_EXPIRES_SEC');
  const urlExpiresInSec = urlExpires === undefined ? undefined : parseIntEnv('STORAGE_URL_EXPIRES_SEC', urlExpires);
  const bucket = get('S3_BUCKET');
  if (bucket === undefined) {
    return resolveLocalStoreOptions(
      {
        ...optional('rootDir', get('STORAGE_DIR')),
        ...optional('baseUrl', get('STORAGE_BASE_URL')),
        ...optional('urlSecret', get('STORAGE_URL_SECRET')),
        ...optional('urlExpiresInSec', urlExpiresInSec),
      },
      cwd,
    );
  }
  const accessKeyId = get('AWS_ACCESS_KEY_ID');
  const secretAccessKey = get('AWS_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new StorageConfigError(
      accessKeyId === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY',
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together',
    );
  }
  const sessionToken = get('AWS_SESSION_TOKEN');
  const forcePathStyle = get('S3_FORCE_PATH_STYLE');
  const region = get('S3_REGION') ?? get('AWS_REGION');
  return resolveS3StoreOptions({
    bucket,
    ...optional('endpoint', get('S3_ENDPOINT')),
    ...optional('region', region),
    ...optional('forcePathStyle', forcePathStyle === undefined ? undefined : parseBoolEnv('S3_FORCE_PATH_STYLE', forcePathStyle)),
    ...optional(
      'credentials',
      accessKeyId !== undefined && secretAccessKey !== undefined
        ? { accessKeyId, secretAccessKey, ...optional('sessionToken', sessionToken) }
        : undefined,
    ),
    ...optional('urlExpiresInSec', urlExpiresInSec),
  });
}

/** `{[name]: value}` when defined, `{}` otherwise — keeps `exactOptionalPropertyTypes` happy. */
function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

function parseBoolEnv(name: string, value: string): boolean {
  const lower = value.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
  if (['0', 'false', 'no', 'off'].includes(lower)) return false;
  throw new StorageConfigError(name, `${JSON.stringify(value)} is not a boolean (true/false/1/0)`);
}

function parseIntEnv(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new StorageConfigError(name, `${JSON.stringify(value)} is not a whole number`);
  return Number(value);
}

function intInRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new StorageConfigError(field, `${String(value)} must be an integer in ${min}…${max}`);
  }
  return value;
}
