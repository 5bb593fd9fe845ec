import { randomUUID } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkExpiresInSec, checkListLimit, checkPutOptions } from './arguments.js';
import { bufferOf, HashingStream, sha256Hex } from './body.js';
import { InvalidArgumentError, ObjectNotFoundError, PathEscapeError, StorageError } from './errors.js';
import { RESERVED_SEGMENT, validateKey, validatePrefix } from './keys.js';
import { errnoOf, fsFailure, inspectPath, prepareParents, pruneEmptyDirs } from './local-paths.js';
import { loadOrCreateSecret } from './local-secret.js';
import { signLocalUrl, verifyLocalUrl, type VerifiedLocalUrl } from './local-url.js';
import type { HeadResult, ListedObject, ListOptions, ListPage, ObjectBody, PutOptions, PutResult, UrlOptions } from './object-store.js';
import type { LocalObjectStore } from './local-object-store.js';
import type { ResolvedLocalStoreOptions } from './options.js';

/** Sidecar record kept per object under `<root>/.asyncdiff/meta/<key>.json`. */
interface MetaRecord {
  version: 1;
  contentType: string;
  metadata: Record<string, string>;
  sha256: string;
  bytes: number;
}

interface Layout {
  root: string;
  metaRoot: string;
  tmpDir: string;
}

const CURSOR_PREFIX = 'k1.';

/** The local-folder implementation of `ObjectStore`; built by `createLocalObjectStore`. */
export class LocalFolderStore implements LocalObjectStore {
  readonly kind = 'local' as const;
  private layoutPromise: Promise<Layout> | undefined;
  private secretPromise: Promise<Buffer> | undefined;

  constructor(private readonly config: ResolvedLocalStoreOptions) {}

  get rootDir(): string {
    return this.config.rootDir;
  }

  get baseUrl(): string {
    return this.config.baseUrl;
  }

  private layout(): Promise<Layout> {
    this.layoutPromise ??= (async () => {
      await mkdir(this.config.rootDir, { recursive: true });
      const root = await realpath(this.config.rootDir);
      const internal = path.join(root, RESERVED_SEGMENT);
      const metaRoot = path.join(internal, 'meta');
      const tmpDir = path.join(internal, 'tmp');
      await mkdir(metaRoot, { recursive: true });
      await mkdir(tmpDir, { recursive: true });
      return { root, metaRoot, tmpDir };
    })().catch((error: unknown) => {
      this.layoutPromise = undefined;
      throw fsFailure('init local store', error);
    });
    return this.layoutPromise;
  }

  async put(key: string, body: ObjectBody, options: PutOptions): Promise<PutResult> {
    validateKey(key);
    const { contentType, metadata } = checkPutOptions(options);
    const buffer = bufferOf(body);
    const { root, metaRoot, tmpDir } = await this.layout();
    const segments = key.split('/');
    const objectTmp = path.join(tmpDir, `${randomUUID()}.obj`);
    const metaTmp = path.join(tmpDir, `${randomUUID()}.json`);
    try {
      let bytes: number;
      let sha256: string;
      if (buffer !== null) {
        await writeFile(objectTmp, buffer, { flag: 'wx' });
        bytes = buffer.length;
        sha256 = sha256Hex(buffer);
      } else {
        const hasher = new HashingStream();
        await pipeline(body as Readable, hasher, createWriteStream(objectTmp, { flags: 'wx' }));
        bytes = hasher.bytes;
        sha256 = hasher.sha256;
      }
      const record: MetaRecord = { version: 1, contentType, metadata, sha256, bytes };
      await writeFile(metaTmp, JSON.stringify(record), { flag: 'wx' });
      // A concurrent delete may prune a fresh parent folder between mkdir and rename: retry.
      for (let attempt = 0; ; attempt += 1) {
        try {
          await rename(objectTmp, await prepareParents(root, segments, key));
          await rename(metaTmp, await prepareParents(metaRoot, metaSegments(segments), key));
          break;
        } catch (error) {
          if (errnoOf(error) !== 'ENOENT' || attempt >= 2) throw error;
        }
      }
      return { key, bytes, sha256 };
    } catch (error) {
      await rm(objectTmp, { force: true }).catch(() => undefined);
      await rm(metaTmp, { force: true }).catch(() => undefined);
      throw this.wrap('put', key, error);
    }
  }

  async get(key: string): Promise<Buffer> {
    const handle = await this.openFile(key);
    try {
      return await handle.readFile();
    } catch (error) {
      throw this.wrap('get', key, error);
    } finally {
      await handle.close();
    }
  }

  async getStream(key: string): Promise<Readable> {
    const handle = await this.openFile(key);
    return handle.createReadStream({ autoClose: true });
  }

  /** Opens the object's file without following a link at any level (O_NOFOLLOW closes the last race). */
  private async openFile(key: string) {
    validateKey(key);
    const { root } = await this.layout();
    const segments = key.split('/');
    try {
      if ((await inspectPath(root, segments, key)) !== 'file') throw new ObjectNotFoundError(key);
      return await open(path.join(root, ...segments), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      throw this.wrap('get', key, error);
    }
  }

  async head(key: string): Promise<HeadResult | null> {
    validateKey(key);
    const { root, metaRoot } = await this.layout();
    const segments = key.split('/');
    try {
      if ((await inspectPath(root, segments, key)) !== 'file') return null;
      const stats = await stat(path.join(root, ...segments));
      const record = await readMeta(path.join(metaRoot, ...metaSegments(segments)));
      // A record whose size disagrees belongs to another write (crash between renames): drop its hash.
      const consistent = record !== null && record.bytes === stats.size;
      return {
        bytes: stats.size,
        contentType: record?.contentType ?? 'application/octet-stream',
        lastModified: stats.mtime,
        metadata: record?.metadata ?? {},
        ...(consistent ? { sha256: record.sha256 } : {}),
      };
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return null;
      throw this.wrap('head', key, error);
    }
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    validatePrefix(prefix);
    const limit = checkListLimit(options);
    const after = options?.cursor === undefined ? undefined : decodeCursor(options.cursor);
    const { root } = await this.layout();
    const dirSegments = prefix.split('/').slice(0, -1);
    try {
      if (dirSegments.length > 0 && (await inspectPath(root, dirSegments, prefix)) !== 'dir') return { items: [] };
      const keys: Array<{ key: string; file: string }> = [];
      await collectFiles(path.join(root, ...dirSegments), dirSegments, (relative, file) => {
        if (!relative.startsWith(prefix)) return;
        if (after !== undefined && compareKeys(relative, after) <= 0) return;
        keys.push({ key: relative, file });
      });
      keys.sort((a, b) => compareKeys(a.key, b.key));
      const page = keys.slice(0, limit);
      const items: ListedObject[] = [];
      for (const entry of page) {
        try {
          const stats = await stat(entry.file);
          items.push({ key: entry.key, bytes: stats.size, lastModified: stats.mtime });
        } catch (error) {
          if (errnoOf(error) !== 'ENOENT') throw error; // deleted while listing: skip
        }
      }
      const last = page.at(-1);
      return keys.length > limit && last !== undefined ? { items, nextCursor: encodeCursor(last.key) } : { items };
    } catch (error) {
      throw this.wrap('list', prefix, error);
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    const { root, metaRoot } = await this.layout();
    const segments = key.split('/');
    try {
      const kind = await inspectPath(root, segments, key);
      if (kind === 'file') {
        const file = path.join(root, ...segments);
        await unlink(file).catch(ignoreMissing);
        await pruneEmptyDirs(root, path.dirname(file));
      }
      const metaFile = path.join(metaRoot, ...metaSegments(segments));
      if ((await inspectPath(metaRoot, metaSegments(segments), key)) === 'file') {
        await unlink(metaFile).catch(ignoreMissing);
        await pruneEmptyDirs(metaRoot, path.dirname(metaFile));
      }
    } catch (error) {
      throw this.wrap('delete', key, error);
    }
  }

  async url(key: string, options?: UrlOptions): Promise<string> {
    validateKey(key);
    const expiresInSec = checkExpiresInSec(options, this.config.urlExpiresInSec);
    const secret = await this.secret();
    return signLocalUrl({ baseUrl: this.config.baseUrl, key, secret, expiresAtSec: Math.floor(Date.now() / 1000) + expiresInSec });
  }

  async verifyUrl(url: string | URL, nowMs?: number): Promise<VerifiedLocalUrl> {
    const secret = await this.secret();
    return verifyLocalUrl(url, { baseUrl: this.config.baseUrl, secret, ...(nowMs === undefined ? {} : { nowMs }) });
  }

  private secret(): Promise<Buffer> {
    if (this.config.urlSecret !== null) return Promise.resolve(this.config.urlSecret);
    this.secretPromise ??= this.layout()
      .then(({ root, tmpDir }) => loadOrCreateSecret(path.join(root, RESERVED_SEGMENT, 'url-secret'), tmpDir))
      .catch((error: unknown) => {
        this.secretPromise = undefined;
        throw error instanceof StorageError ? error : fsFailure('load url secret', error);
      });
    return this.secretPromise;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private wrap(operation: string, key: string, error: unknown): Error {
    if (error instanceof StorageError) return error;
    const code = errnoOf(error);
    if (code === 'ENOENT' && operation === 'get') return new ObjectNotFoundError(key, { cause: error });
    if (code === 'ELOOP') return new PathEscapeError(key, 'the final path component is a symlink');
    return fsFailure(`${operation} ${JSON.stringify(key)}`, error);
  }
}

function metaSegments(segments: readonly string[]): string[] {
  const copy = [...segments];
  copy[copy.length - 1] = `${copy.at(-1) as string}.json`;
  return copy;
}

async function readMeta(file: string): Promise<MetaRecord | null> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<MetaRecord>;
    return parsed.version === 1 ? (parsed as MetaRecord) : null;
  } catch {
    return null; // missing or damaged sidecar: the object is still served, as octet-stream
  }
}

/** Recursively visits regular files, skipping links and the store's own folder. */
async function collectFiles(dir: string, prefixSegments: readonly string[], visit: (key: string, file: string) => void): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return;
    throw error;
  }
  for (const entry of entries) {
    if (prefixSegments.length === 0 && entry.name === RESERVED_SEGMENT) continue;
    const segments = [...prefixSegments, entry.name];
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await collectFiles(file, segments, visit);
    else if (entry.isFile()) {
      const key = segments.join('/');
      try {
        visit(validateKey(key), file);
      } catch {
        // a file that is not a valid key (created by hand) is invisible to the store
      }
    }
  }
}

/** S3 lists keys in UTF-8 byte order; JavaScript's default sort is UTF-16 order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function encodeCursor(key: string): string {
  return CURSOR_PREFIX + Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  if (typeof cursor !== 'string' || !cursor.startsWith(CURSOR_PREFIX)) {
    throw new InvalidArgumentError('cursor', 'is not a cursor returned by this store');
  }
  return Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8');
}

function ignoreMissing(error: unknown): void {
  if (errnoOf(error) !== 'ENOENT') throw error;
}
