import { ShmInvalidNameError } from './errors.js';

/** Prefix of every segment this project creates: `/asyncdiff-<instance>-<pid>-<label>`. */
export const DEFAULT_SEGMENT_PREFIX = 'asyncdiff';

/** Where glibc's shm_open keeps POSIX shared memory on Linux (and where instance locks live). */
export const SHM_DIR = '/dev/shm';

const PREFIX_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
// POSIX: one leading slash, no other; NAME_MAX is 255 bytes for the part after it.
const NAME_RE = /^\/[A-Za-z0-9][A-Za-z0-9._-]{0,250}$/;
/** An instance id: a letter, then 11 lowercase letters or digits — never all digits, so it cannot be read as a pid. */
const INSTANCE_RE = /^[a-z][a-z0-9]{11}$/;

export function validatePrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new ShmInvalidNameError(
      `prefix ${JSON.stringify(prefix)} is invalid: 1-32 characters, a letter then letters, digits or "_"`,
    );
  }
  return prefix;
}

/** Whether `id` has the shape of an instance id (see `newInstanceId`). */
export function isInstanceId(id: string): boolean {
  return INSTANCE_RE.test(id);
}

/**
 * Builds `/<prefix>-<instance>-<pid>-<label>`. The instance id decides liveness (its lock file,
 * see instance.ts); the pid is there for people reading `ls /dev/shm`.
 */
export function segmentName(label: string, prefix: string, instance: string, pid: number = process.pid): string {
  validatePrefix(prefix);
  if (!isInstanceId(instance)) throw new ShmInvalidNameError(`instance id ${JSON.stringify(instance)} is invalid`);
  if (!LABEL_RE.test(label)) {
    throw new ShmInvalidNameError(
      `label ${JSON.stringify(label)} is invalid: 1-128 characters of letters, digits, ".", "_" or "-", not starting with a punctuation mark`,
    );
  }
  return validateSegmentName(`/${prefix}-${instance}-${pid}-${label}`);
}

/** Path of an instance's lock file: `/dev/shm/<prefix>-<instance>.lock`. */
export function lockFilePath(prefix: string, instance: string, dir: string = SHM_DIR): string {
  return `${dir}/${prefix}-${instance}.lock`;
}

/** Checks a full POSIX shm name such as one received from another process. */
export function validateSegmentName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new ShmInvalidNameError(
      `segment name ${JSON.stringify(name)} is invalid: "/" then 1-251 characters of letters, digits, ".", "_" or "-"`,
    );
  }
  return name;
}

/**
 * What a /dev/shm entry (no leading slash) is to a sweeper of `prefix`: a segment of an instance,
 * an instance's lock file, a segment named the pre-instance way (`<prefix>-<pid>-<label>`, whose
 * only liveness record is the pid), or nothing of ours (undefined).
 */
export type ShmEntry =
  | { readonly kind: 'segment'; readonly instance: string; readonly pid: number }
  | { readonly kind: 'lock'; readonly instance: string }
  | { readonly kind: 'legacy'; readonly pid: number };

/** Classifies a /dev/shm entry of `prefix` (see `ShmEntry`). */
export function parseShmEntry(entry: string, prefix: string): ShmEntry | undefined {
  if (!entry.startsWith(`${prefix}-`)) return undefined;
  const rest = entry.slice(prefix.length + 1);
  const lock = /^([a-z][a-z0-9]{11})\.lock$/.exec(rest);
  if (lock?.[1]) return { kind: 'lock', instance: lock[1] };
  const seg = /^([a-z][a-z0-9]{11})-(\d+)-./.exec(rest);
  if (seg?.[1] && seg[2]) {
    const pid = Number(seg[2]);
    return Number.isSafeInteger(pid) && pid > 0 ? { kind: 'segment', instance: seg[1], pid } : undefined;
  }
  const legacy = /^(\d+)-./.exec(rest);
  if (!legacy?.[1]) return undefined;
  const pid = Number(legacy[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? { kind: 'legacy', pid } : undefined;
}
