import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../object-store.js';

/** Behaviour every ObjectStore must share; run against each backend. */
export function describeObjectStoreContract(name: string, setup: () => Promise<{ store: ObjectStore; teardown: () => Promise<void> }>): void {
  describe(`${name}: ObjectStore contract`, () => {
    let store: ObjectStore;
    let teardown: () => Promise<void>;
    beforeAll(async () => {
      ({ store, teardown } = await setup());
    });
    afterAll(async () => {
      await teardown();
    });

    it('puts, gets, heads and deletes an object', async () => {
      const body = Buffer.from('hello digits');
      const put = await store.put('jobs/a/0000.txt', body, { contentType: 'text/plain', metadata: { seed: '42' } });
      expect(put).toMatchObject({ key: 'jobs/a/0000.txt', bytes: body.length });
      expect(put.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      expect(await store.get('jobs/a/0000.txt')).toEqual(body);
      const head = await store.head('jobs/a/0000.txt');
      expect(head).toMatchObject({ bytes: body.length, contentType: 'text/plain', sha256: put.sha256, metadata: { seed: '42' } });
      expect(head?.lastModified).toBeInstanceOf(Date);
      await store.delete('jobs/a/0000.txt');
      expect(await store.head('jobs/a/0000.txt')).toBeNull();
      await expect(store.get('jobs/a/0000.txt')).rejects.toMatchObject({ code: 'STORAGE_NOT_FOUND' });
      await expect(store.getStream('jobs/a/0000.txt')).rejects.toMatchObject({ code: 'STORAGE_NOT_FOUND' });
      await store.delete('jobs/a/0000.txt'); // deleting a missing object is fine
    });

    it('accepts Uint8Array and stream bodies and streams reads', async () => {
      const bytes = new Uint8Array(randomBytes(70_000));
      await store.put('u8/one.bin', bytes, { contentType: 'application/octet-stream' });
      expect(new Uint8Array(await store.get('u8/one.bin'))).toEqual(bytes);
      const streamed = await store.put('u8/two.bin', Readable.from([Buffer.from(bytes.subarray(0, 1000)), Buffer.from(bytes.subarray(1000))]), {
        contentType: 'application/octet-stream',
      });
      expect(streamed.bytes).toBe(bytes.length);
      const chunks: Buffer[] = [];
      for await (const chunk of await store.getStream('u8/two.bin')) chunks.push(chunk as Buffer);
      expect(new Uint8Array(Buffer.concat(chunks))).toEqual(bytes);
      expect((await store.head('u8/two.bin'))?.sha256).toBe(streamed.sha256);
    });

    it('overwriting a key (an idempotent retry) leaves exactly one object with the latest bytes', async () => {
      await store.put('retry/0000.png', Buffer.from('first'), { contentType: 'image/png' });
      await store.put('retry/0000.png', Buffer.from('second!'), { contentType: 'image/png' });
      const page = await store.list('retry/');
      expect(page.items.map((item) => item.key)).toEqual(['retry/0000.png']);
      expect(page.items[0]?.bytes).toBe(7);
      expect((await store.get('retry/0000.png')).toString()).toBe('second!');
    });

    it('lists with a prefix, in key order, page by page', async () => {
      const keys = Array.from({ length: 7 }, (_, i) => `list/job-${i}/out.png`);
      await Promise.all(keys.map((key) => store.put(key, Buffer.from(key), { contentType: 'image/png' })));
      await store.put('listing-other/x.png', Buffer.from('x'), { contentType: 'image/png' });
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list('list/', { limit: 3, ...(cursor === undefined ? {} : { cursor }) });
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.items.map((item) => item.key));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== undefined);
      expect(seen).toEqual(keys);
      expect(pages).toBe(3);
      expect((await store.list('list/job-1')).items.map((item) => item.key)).toEqual(['list/job-1/out.png']);
      expect((await store.list('nothing-here/')).items).toEqual([]);
      expect((await store.list('')).items.map((item) => item.key)).toContain('listing-other/x.png');
    });

    it('rejects unsafe keys with STORAGE_INVALID_KEY before touching the backend', async () => {
      for (const key of ['../escape', 'a/../../b', '/etc/passwd', 'a\\b', 'a\0b', 'a//b', 'a/./b', '', 'trailing/', 'C:/x', '.asyncdiff/url-secret']) {
        await expect(store.put(key, Buffer.from('x'), { contentType: 'text/plain' }), key).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' });
        await expect(store.get(key), key).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY' });
      }
      await expect(store.list('../')).rejects.toMatchObject({ code: 'STORAGE_INVALID_KEY', field: 'prefix' });
    });

    it('rejects bad arguments naming the field', async () => {
      await expect(store.put('k/x', Buffer.from('x'), { contentType: 'nonsense' })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT', field: 'contentType' });
      await expect(store.put('k/x', Buffer.from('x'), { contentType: 'text/plain', metadata: { 'Bad Name': 'v' } })).rejects.toMatchObject({
        field: 'metadata.Bad Name',
      });
      await expect(store.list('', { limit: 0 })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT', field: 'limit' });
      await expect(store.url('k/x', { expiresInSec: 0 })).rejects.toMatchObject({ code: 'STORAGE_INVALID_ARGUMENT', field: 'expiresInSec' });
    });

    it('close is repeat-safe', async () => {
      const closing = [store.close(), store.close()];
      await Promise.all(closing);
    });
  });
}
