import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalObjectStore } from './create-store.js';
import type { LocalObjectStore } from './local-object-store.js';
import { describeObjectStoreContract } from './test-fixtures/store-contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'asyncdiff-local-store-'));
}

describeObjectStoreContract('local folder', async () => {
  const dir = await tempDir();
  return { store: createLocalObjectStore({ rootDir: dir }), teardown: () => rm(dir, { recursive: true, force: true }) };
});

describe('local folder store', () => {
  let dir: string;
  let outside: string;
  let store: LocalObjectStore;
  beforeAll(async () => {
    dir = await tempDir();
    outside = await tempDir();
    await writeFile(path.join(outside, 'secret.txt'), 'top secret');
    store = createLocalObjectStore({ rootDir: path.join(dir, 'root'), baseUrl: '/v1/files/' });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('keeps objects at <root>/<key> and its own files under .asyncdiff/', async () => {
    await store.put('jobs/j1/0000.png', Buffer.from('png'), { contentType: 'image/png' });
    expect(await readFile(path.join(dir, 'root', 'jobs', 'j1', '0000.png'), 'utf8')).toBe('png');
    expect((await store.list('')).items.map((item) => item.key)).toEqual(['jobs/j1/0000.png']);
    await store.delete('jobs/j1/0000.png');
    await expect(readFile(path.join(dir, 'root', 'jobs', 'j1', '0000.png'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to follow a symlinked folder that points outside the root', async () => {
    await mkdir(path.join(dir, 'root'), { recursive: true });
    await symlink(outside, path.join(dir, 'root', 'linked'));
    await expect(store.get('linked/secret.txt')).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPE' });
    await expect(store.head('linked/secret.txt')).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPE' });
    await expect(store.put('linked/new.txt', Buffer.from('x'), { contentType: 'text/plain' })).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPE' });
    await expect(store.delete('linked/secret.txt')).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPE' });
    await expect(store.list('linked/')).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPE' });
    await expect(readFile(path.join(outside, 'new.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
    // Listing the whole store skips the link instead of walking into it.
    expect((await store.list('')).items.map((item) => item.key)).not.toContain('linked/secret.txt');
  });

  it('refuses a symlinked file, for reads and overwrites', async () => {
    await symlink(path.join(outside, 'secret.txt'), path.join(dir, 'root', 'leak.txt'));
    await expect(store.get('leak.txt')).rejects.toMatchObject({ code: 'STORAGE_PATH_ESCAPE' });
    await expect(store.put('leak.txt', Buffer.from('overwrite'), { contentType: 'text/plain' })).rejects.toMatchObject({
      code: 'STORAGE_PATH_ESCAPE',
    });
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
  });

  it('reports a file/folder clash as STORAGE_KEY_CONFLICT', async () => {
    await store.put('clash/a', Buffer.from('file'), { contentType: 'text/plain' });
    await expect(store.put('clash/a/b', Buffer.from('x'), { contentType: 'text/plain' })).rejects.toMatchObject({ code: 'STORAGE_KEY_CONFLICT' });
    await expect(store.put('clash', Buffer.from('x'), { contentType: 'text/plain' })).rejects.toMatchObject({ code: 'STORAGE_KEY_CONFLICT' });
    expect(await store.head('clash')).toBeNull(); // a folder is not an object
  });

  it('signs URLs under the configured base URL that verify until they expire', async () => {
    await store.put('jobs/j2/0001.gif', Buffer.from('gif'), { contentType: 'image/gif' });
    const url = await store.url('jobs/j2/0001.gif', { expiresInSec: 60 });
    expect(url).toMatch(/^\/v1\/files\/jobs\/j2\/0001\.gif\?expires=\d+&signature=[\w-]{43}$/);
    expect(await store.verifyUrl(url)).toMatchObject({ key: 'jobs/j2/0001.gif' });
    await expect(store.verifyUrl(url, Date.now() + 61_000)).rejects.toMatchObject({ code: 'STORAGE_URL_EXPIRED' });
    await expect(store.verifyUrl(url.replace('0001', '0002'))).rejects.toMatchObject({ code: 'STORAGE_URL_BAD_SIGNATURE' });
  });

  it('a short-lived URL really expires on the wall clock', async () => {
    const url = await store.url('jobs/j2/0001.gif', { expiresInSec: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await expect(store.verifyUrl(url)).rejects.toMatchObject({ code: 'STORAGE_URL_EXPIRED' });
  });

  it('stores sharing a folder share the generated URL secret; another folder does not', async () => {
    const twin = createLocalObjectStore({ rootDir: path.join(dir, 'root'), baseUrl: '/v1/files' });
    const url = await store.url('jobs/j2/0001.gif');
    expect((await twin.verifyUrl(url)).key).toBe('jobs/j2/0001.gif');
    const stranger = createLocalObjectStore({ rootDir: path.join(dir, 'other'), baseUrl: '/v1/files' });
    await expect(stranger.verifyUrl(url)).rejects.toMatchObject({ code: 'STORAGE_URL_BAD_SIGNATURE' });
  });

  it('uses a configured secret and an absolute base URL', async () => {
    const secret = 'x'.repeat(32);
    const a = createLocalObjectStore({ rootDir: path.join(dir, 'abs'), baseUrl: 'https://api.example.com/files', urlSecret: secret });
    const url = await a.url('k/v.png');
    expect(url.startsWith('https://api.example.com/files/k/v.png?')).toBe(true);
    // The API sees only path + query behind a proxy.
    const { pathname, search } = new URL(url);
    expect((await a.verifyUrl(pathname + search)).key).toBe('k/v.png');
  });
});
