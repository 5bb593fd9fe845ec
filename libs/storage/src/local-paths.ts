import type { Stats } from 'node:fs';
import { lstat, mkdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { KeyConflictError, PathEscapeError, StorageBackendError } from './errors.js';

/**
 * File-system plumbing of the local store that keeps every access inside the root: keys are
 * already syntactically safe (`validateKey`), and these helpers refuse symlinks anywhere below
 * the root so a link planted in the folder cannot redirect reads or writes elsewhere.
 */

/** The node error code, if any. */
export function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

const RETRYABLE_ERRNO = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'ETIMEDOUT', 'EINTR']);

/** Wraps an unexpected file-system failure. */
export function fsFailure(operation: string, error: unknown): StorageBackendError {
  const code = errnoOf(error);
  return new StorageBackendError(operation, code !== undefined && RETRYABLE_ERRNO.has(code), code ?? String(error), { cause: error });
}

async function lstatOrNull(target: string): Promise<Stats | null> {
  try {
    return await lstat(target);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

function escapeError(key: string, base: string, target: string): PathEscapeError {
  return new PathEscapeError(key, `${path.relative(base, target)} is a symlink; the local store never follows links`);
}

/**
 * Walks `segments` below `base` and tells what the final entry is, refusing symlinks on the way.
 * `missing` covers absent entries and "a file where a folder would be".
 */
export async function inspectPath(base: string, segments: readonly string[], key: string): Promise<'file' | 'dir' | 'missing'> {
  let current = base;
  for (let i = 0; i < segments.length; i += 1) {
    current = path.join(current, segments[i] as string);
    const stats = await lstatOrNull(current);
    if (stats === null) return 'missing';
    if (stats.isSymbolicLink()) throw escapeError(key, base, current);
    const last = i === segments.length - 1;
    if (last) return stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : 'missing';
    if (!stats.isDirectory()) return 'missing';
  }
  return 'dir';
}

/**
 * Creates the folders that will hold `segments` (all but the last) below `base`, one level at a
 * time so a symlinked folder is detected instead of followed, and checks the final entry is not
 * a folder or a link.
 */
export async function prepareParents(base: string, segments: readonly string[], key: string): Promise<string> {
  let current = base;
  for (let i = 0; i < segments.length - 1; i += 1) {
    current = path.join(current, segments[i] as string);
    let stats = await lstatOrNull(current);
    if (stats === null) {
      try {
        await mkdir(current);
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error;
      }
      stats = await lstat(current);
    }
    if (stats.isSymbolicLink()) throw escapeError(key, base, current);
    if (!stats.isDirectory()) throw new KeyConflictError(key);
  }
  const target = path.join(current, segments.at(-1) as string);
  const stats = await lstatOrNull(target);
  if (stats?.isSymbolicLink()) throw escapeError(key, base, target);
  if (stats?.isDirectory()) throw new KeyConflictError(key);
  return target;
}

/** Removes now-empty folders from `dir` up to (not including) `base`, like S3's implicit prefixes. */
export async function pruneEmptyDirs(base: string, dir: string): Promise<void> {
  let current = dir;
  while (current.startsWith(`${base}${path.sep}`)) {
    try {
      await rmdir(current);
    } catch {
      return; // not empty, already gone, or busy: stop quietly
    }
    current = path.dirname(current);
  }
}
