import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { checkExpiresInSec, checkListLimit, checkPutOptions } from './arguments.js';
import { bufferOf, HashingStream, readUpTo, sha256Hex } from './body.js';
import { ObjectNotFoundError, StorageBackendError, StorageError } from './errors.js';
import { validateKey, validatePrefix } from './keys.js';
import type { HeadResult, ListOptions, ListPage, ObjectBody, PutOptions, PutResult, UrlOptions } from './object-store.js';
import type { ResolvedS3StoreOptions } from './options.js';
import type { S3ObjectStore } from './s3-object-store.js';

/** Metadata entry holding the SHA-256 the store computed (S3 has no portable full-object SHA-256). */
const SHA256_META = 'asyncdiff-sha256';

/** Builds the SDK client: checksums only when required, since most S3-compatible stores reject the new defaults. */
export function createS3Client(config: ResolvedS3StoreOptions): S3Client {
  return new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: config.maxAttempts,
    requestHandler: { connectionTimeout: config.connectionTimeoutMs, requestTimeout: config.requestTimeoutMs },
    ...(config.endpoint === null ? {} : { endpoint: config.endpoint }),
    ...(config.credentials === null ? {} : { credentials: config.credentials }),
  });
}

/** The S3 implementation of `ObjectStore`; built by `createS3ObjectStore`. */
export class S3Store implements S3ObjectStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  private closed: Promise<void> | undefined;

  constructor(private readonly config: ResolvedS3StoreOptions) {
    this.client = createS3Client(config);
  }

  get bucket(): string {
    return this.config.bucket;
  }

  async put(key: string, body: ObjectBody, options: PutOptions): Promise<PutResult> {
    validateKey(key);
    const { contentType, metadata } = checkPutOptions(options);
    let buffer = bufferOf(body);
    let rest: Readable | null = null;
    if (buffer === null) {
      const read = await readUpTo(body as Readable, this.config.multipartThresholdBytes);
      if (read.complete) buffer = read.buffer;
      else rest = Readable.from(concatStreams(read.head, read.rest));
    }
    try {
      if (buffer !== null) {
        const sha256 = sha256Hex(buffer);
        const meta = { ...metadata, [SHA256_META]: sha256 };
        const etag =
          buffer.length > this.config.multipartThresholdBytes
            ? await this.upload(key, buffer, contentType, meta)
            : (
                await this.client.send(
                  new PutObjectCommand({
                    Bucket: this.bucket,
                    Key: key,
                    Body: buffer,
                    ContentLength: buffer.length,
                    ContentType: contentType,
                    Metadata: meta,
                  }),
                )
              ).ETag;
        return { key, bytes: buffer.length, sha256, ...etagField(etag) };
      }
      // A large stream: its hash is known only at the end, so it is returned but not stored.
      const hasher = new HashingStream();
      const etag = await this.upload(key, (rest as Readable).pipe(hasher), contentType, metadata);
      return { key, bytes: hasher.bytes, sha256: hasher.sha256, ...etagField(etag) };
    } catch (error) {
      throw wrapS3('put', key, error);
    }
  }

  private async upload(key: string, body: Buffer | Readable, contentType: string, metadata: Record<string, string>): Promise<string | undefined> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, Metadata: metadata },
      partSize: this.config.partSizeBytes,
      queueSize: this.config.uploadQueueSize,
      leavePartsOnError: false,
    });
    const result = await upload.done();
    return result.ETag;
  }

  async get(key: string): Promise<Buffer> {
    const stream = await this.getStream(key);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch (error) {
      throw wrapS3('get', key, error);
    }
    return Buffer.concat(chunks);
  }

  async getStream(key: string): Promise<Readable> {
    validateKey(key);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(response.Body instanceof Readable)) throw new StorageBackendError('get', false, 'response body is not a Node stream');
      return response.Body;
    } catch (error) {
      throw wrapS3('get', key, error);
    }
  }

  async head(key: string): Promise<HeadResult | null> {
    validateKey(key);
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const { [SHA256_META]: sha256, ...metadata } = response.Metadata ?? {};
      return {
        bytes: response.ContentLength ?? 0,
        contentType: response.ContentType ?? 'application/octet-stream',
        lastModified: response.LastModified ?? new Date(0),
        metadata,
        ...(sha256 === undefined ? {} : { sha256 }),
        ...etagField(response.ETag),
      };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw wrapS3('head', key, error);
    }
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    validatePrefix(prefix);
    const limit = checkListLimit(options);
    try {
      const response = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          MaxKeys: limit,
          ...(prefix === '' ? {} : { Prefix: prefix }),
          ...(options?.cursor === undefined ? {} : { ContinuationToken: options.cursor }),
        }),
      );
      const items = (response.Contents ?? []).map((entry) => ({
        key: entry.Key ?? '',
        bytes: entry.Size ?? 0,
        lastModified: entry.LastModified ?? new Date(0),
      }));
      const next = response.IsTruncated === true ? response.NextContinuationToken : undefined;
      return next === undefined ? { items } : { items, nextCursor: next };
    } catch (error) {
      throw wrapS3('list', prefix, error);
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw wrapS3('delete', key, error);
    }
  }

  async url(key: string, options?: UrlOptions): Promise<string> {
    validateKey(key);
    const expiresIn = checkExpiresInSec(options, this.config.urlExpiresInSec);
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn });
  }

  close(): Promise<void> {
    this.closed ??= Promise.resolve().then(() => this.client.destroy());
    return this.closed;
  }
}

async function* concatStreams(head: Buffer[], rest: Readable): AsyncGenerator<Buffer> {
  yield* head;
  for await (const chunk of rest) yield chunk as Buffer;
}

function etagField(etag: string | undefined): { etag?: string } {
  return etag === undefined ? {} : { etag: etag.replace(/^"|"$/g, '') };
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
  if (typeof error === 'object' && error !== null && '$metadata' in error) {
    const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
    return meta?.httpStatusCode;
  }
  return undefined;
}

/** Maps SDK failures onto the storage error family; 5xx, throttling and network errors are retryable. */
function wrapS3(operation: string, key: string, error: unknown): Error {
  if (error instanceof StorageError) return error;
  const status = statusOf(error);
  const name = error instanceof Error ? error.name : '';
  if (name === 'NoSuchKey' || (operation === 'get' && status === 404)) return new ObjectNotFoundError(key, { cause: error });
  const retryable = status === undefined || status >= 500 || status === 429 || name === 'SlowDown' || name === 'RequestTimeout';
  const message = error instanceof Error ? `${name}: ${error.message}` : String(error);
  return new StorageBackendError(`${operation} ${JSON.stringify(key)}`, retryable, status === undefined ? message : `HTTP ${status} ${message}`, { cause: error });
}
