import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { InvalidArgumentError } from './errors.js';
import type { ObjectBody } from './object-store.js';

/** Views in-memory bodies as a Buffer without copying; null for streams. */
export function bufferOf(body: ObjectBody): Buffer | null {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Readable) return null;
  throw new InvalidArgumentError('body', 'must be a Buffer, Uint8Array or Readable');
}

/** Lowercase hex SHA-256 of an in-memory body. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A pass-through that hashes and counts what flows through it, so streamed uploads report the
 * same `{bytes, sha256}` as buffered ones without holding the body in memory.
 */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private digestHex: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.digestHex = this.hash.digest('hex');
    callback();
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.count;
  }

  /** The digest; only valid once the stream has ended. */
  get sha256(): string {
    if (this.digestHex === undefined) throw new Error('HashingStream: sha256 read before the stream ended');
    return this.digestHex;
  }
}

/**
 * Reads a stream until it ends or passes `limitBytes`. Returns the whole body when it fits, or
 * the bytes read so far plus the untouched rest, so callers can pick a single PUT for small
 * streams and a multipart upload for large ones.
 */
export async function readUpTo(
  stream: Readable,
  limitBytes: number,
): Promise<{ complete: true; buffer: Buffer } | { complete: false; head: Buffer[]; rest: Readable }> {
  const chunks: Buffer[] = [];
  let total = 0;
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { complete: true, buffer: Buffer.concat(chunks, total) };
    const chunk = toChunk(next.value);
    chunks.push(chunk);
    total += chunk.length;
    if (total > limitBytes) {
      const rest = Readable.from(
        (async function* () {
          for (;;) {
            const more = await iterator.next();
            if (more.done) return;
            yield toChunk(more.value);
          }
        })(),
      );
      return { complete: false, head: chunks, rest };
    }
  }
}

function toChunk(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new InvalidArgumentError('body', 'stream yielded something other than bytes');
}
