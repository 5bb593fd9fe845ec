import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { SplitModelError } from './errors.js';
import type { OnnxModel } from './onnx-types.js';
import { DATA_LOCATION_EXTERNAL } from './onnx-types.js';
import { graphTensors } from './tensor-walk.js';

/** How a model is identified for caching. */
export interface ModelIdentity {
  /** Content hash: the same model gives the same value on every host, wherever its files live. */
  readonly sha256: string;
  readonly scheme: 'file-sha256' | 'graph-sha256+data-sha256';
  /** External data locations (as written in the model), sorted. */
  readonly externalData: readonly string[];
  /** Total size of the external data files, bytes. */
  readonly externalDataBytes: number;
}

/** External data locations a model references (relative to the model's directory). */
export function externalLocations(model: OnnxModel): string[] {
  const locations = new Set<string>();
  for (const t of graphTensors(model.graph ?? {})) {
    if (t.dataLocation !== DATA_LOCATION_EXTERNAL) continue;
    const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
    if (location) locations.add(location);
  }
  return [...locations].sort();
}

/**
 * Identifies a model by content, so a split cached or shipped from one host is found again on
 * another: the sha256 of the model file, and for models with external data also the sha256 of
 * each data file. Hashing a multi-GB data file streams it (constant memory, a few seconds); the
 * result is memoised in `memoDir` per (path, size, mtime, inode), so repeat calls on one host
 * only `stat` the files. The memo is best-effort: a read-only `memoDir` just means rehashing.
 */
export async function modelIdentity(modelPath: string, bytes: Uint8Array, model: OnnxModel, memoDir: string | null): Promise<ModelIdentity> {
  const hash = createHash('sha256').update(bytes);
  const externalData = externalLocations(model);
  let externalDataBytes = 0;
  for (const location of externalData) {
    const path = resolve(dirname(modelPath), location);
    let size: number;
    let digest: string;
    try {
      ({ size, digest } = await dataFileHash(path, memoDir));
    } catch (cause) {
      throw new SplitModelError('SPLIT_MODEL_UNREADABLE', `external data file "${location}" of modelPath ${modelPath} cannot be read: ${String(cause)}`, {
        field: 'modelPath',
        cause,
      });
    }
    externalDataBytes += size;
    hash.update(`\0${location}\0${size}\0${digest}`);
  }
  return {
    sha256: hash.digest('hex'),
    scheme: externalData.length > 0 ? 'graph-sha256+data-sha256' : 'file-sha256',
    externalData,
    externalDataBytes,
  };
}

interface HashMemo {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly sha256: string;
}

async function dataFileHash(path: string, memoDir: string | null): Promise<{ size: number; digest: string }> {
  const info = await stat(path);
  const memoFile = memoDir === null ? null : join(memoDir, `${createHash('sha256').update(path).digest('hex').slice(0, 32)}.json`);
  if (memoFile !== null) {
    try {
      const memo = JSON.parse(await readFile(memoFile, 'utf8')) as HashMemo;
      if (memo.path === path && memo.size === info.size && memo.mtimeMs === info.mtimeMs && memo.ino === info.ino) return { size: info.size, digest: memo.sha256 };
    } catch {
      // No memo yet (or a damaged one): hash the file.
    }
  }
  const digest = await streamSha256(path);
  if (memoFile !== null) {
    const memo: HashMemo = { path, size: info.size, mtimeMs: info.mtimeMs, ino: info.ino, sha256: digest };
    try {
      await mkdir(dirname(memoFile), { recursive: true });
      const tmp = `${memoFile}.tmp-${process.pid}`;
      await writeFile(tmp, JSON.stringify(memo));
      await rename(tmp, memoFile);
    } catch {
      // Best-effort: a read-only cache only costs a rehash next time.
    }
  }
  return { size: info.size, digest };
}

/** sha256 of a file read as a stream (bounded memory whatever its size). */
export async function streamSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** sha256 (hex) of a JSON-serialisable value with object keys sorted, for cache keys. */
export function hashJson(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
