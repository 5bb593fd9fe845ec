import { InvalidArgumentError } from './errors.js';
import { isJobId } from './job-id.js';
import { isJobStatus, type JobStatus } from './lifecycle.js';

/**
 * Opaque list cursors: base64url of `v1|<status or all>|<last job id>`. Opaque so the format can
 * change; bound to the status filter so a cursor cannot be replayed against another listing.
 */
export function encodeCursor(status: JobStatus | undefined, lastId: string): string {
  return Buffer.from(`v1|${status ?? 'all'}|${lastId}`, 'utf8').toString('base64url');
}

/** Decodes a cursor for a listing with `status`; throws `InvalidArgumentError('cursor')` otherwise. */
export function decodeCursor(cursor: string, status: JobStatus | undefined): string {
  const bad = (why: string) => new InvalidArgumentError('cursor', why);
  if (cursor.length > 128 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad('is not a cursor from a previous page');
  const [version, scope, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (version !== 'v1' || rest.length || !isJobId(id) || !(scope === 'all' || isJobStatus(scope))) throw bad('is not a cursor from a previous page');
  if (scope !== (status ?? 'all')) throw bad(`belongs to a listing with status=${scope}`);
  return id;
}
