import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3ObjectStore } from './create-store.js';
import { MIN_PART_SIZE_BYTES } from './options.js';
import type { S3ObjectStore } from './s3-object-store.js';
import { startS3rver, type TestS3Server } from './test-fixtures/s3rver-server.js';
import { describeObjectStoreContract } from './test-fixtures/store-contract.js';

async function makeStore(server: TestS3Server, extra: { multipartThresholdBytes?: number } = {}): Promise<S3ObjectStore> {
  const bucket = `t-${randomUUID()}`;
  const store = createS3ObjectStore({
    bucket,
    endpoint: server.endpoint,
    credentials: server.credentials,
    partSizeBytes: MIN_PART_SIZE_BYTES,
    maxAttempts: 1,
    ...extra,
  });
  await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
  return store;
}

/** Records the SDK commands a store sends from now on. */
function recordCommands(store: S3ObjectStore): string[] {
  const names: string[] = [];
  store.client.middlewareStack.add(
    (next, context) => (args) => {
      names.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: `record-${randomUUID()}` },
  );
  return names;
}

describeObjectStoreContract('s3 (s3rver)', async () => {
  const server = await startS3rver();
  const store = await makeStore(server);
  return {
    store,
    teardown: async () => {
      await store.close();
      await server.close();
    },
  };
});

describe('s3 store against s3rver', () => {
  let server: TestS3Server;
  let store: S3ObjectStore;
  beforeAll(async () => {
    server = await startS3rver();
    store = await makeStore(server, { multipartThresholdBytes: MIN_PART_SIZE_BYTES });
  });
  afterAll(async () => {
    await store?.close();
    await server?.close();
  });

  it('uploads a body above the threshold as a multipart upload (5 MiB parts)', async () => {
    const body = randomBytes(2 * MIN_PART_SIZE_BYTES + 123_456);
    const commands = recordCommands(store);
    const put = await store.put('big/video.mp4', body, { contentType: 'video/mp4' });
    expect(put.bytes).toBe(body.length);
    expect(commands.filter((name) => name === 'UploadPartCommand')).toHaveLength(3);
    expect(commands).toContain('CompleteMultipartUploadCommand');
    expect(commands).not.toContain('PutObjectCommand');
    expect((await store.get('big/video.mp4')).equals(body)).toBe(true);
    const head = await store.head('big/video.mp4');
    expect(head).toMatchObject({ bytes: body.length, contentType: 'video/mp4', sha256: put.sha256 });
  });

  it('streams a large body of unknown length as multipart, returning its hash', async () => {
    const body = randomBytes(MIN_PART_SIZE_BYTES + 4096);
    const chunks = Array.from({ length: Math.ceil(body.length / 65536) }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536));
    const commands = recordCommands(store);
    const put = await store.put('big/streamed.webm', Readable.from(chunks), { contentType: 'video/webm' });
    expect(put).toMatchObject({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(commands.filter((name) => name === 'UploadPartCommand')).toHaveLength(2);
    expect((await store.get('big/streamed.webm')).equals(body)).toBe(true);
  });

  it('hands out presigned GET URLs that fetch works with', async () => {
    await store.put('jobs/p/0000.png', Buffer.from('presigned bytes'), { contentType: 'image/png' });
    const url = await store.url('jobs/p/0000.png', { expiresInSec: 60 });
    expect(url).toContain('X-Amz-Expires=60');
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(await response.text()).toBe('presigned bytes');
  });

  it('an expired presigned URL is refused (s3rver checks X-Amz-Date + X-Amz-Expires)', async () => {
    const signedLongAgo = await getSignedUrl(store.client, new GetObjectCommand({ Bucket: store.bucket, Key: 'jobs/p/0000.png' }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 3_600_000),
    });
    const response = await fetch(signedLongAgo);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('Request has expired');
  });

  it('a URL from url() stops working once its lifetime passes', async () => {
    const url = await store.url('jobs/p/0000.png', { expiresInSec: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await fetch(url)).status).toBe(403);
  });

  it('reports a missing bucket as a non-retryable backend error', async () => {
    const orphan = createS3ObjectStore({ bucket: 'no-such-bucket', endpoint: server.endpoint, credentials: server.credentials, maxAttempts: 1 });
    await expect(orphan.put('x', Buffer.from('x'), { contentType: 'text/plain' })).rejects.toMatchObject({ code: 'STORAGE_BACKEND', retryable: false });
    await orphan.close();
  });
});
