import { ShmInvalidNameError } from './errors.js';

/** Prefix of every segment this project creates: `/asyncdiff-<pid>-<label>`. */
export const DEFAULT_SEGMENT_PREFIX = 'asyncdiff';

const PREFIX_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
// POSIX: one leading slash, no other; NAME_MAX is 255 bytes for the part after it.
const NAME_RE = /^\/[A-Za-z0-9][A-Za-z0-9._-]{0,250}$/;

export function validatePrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new ShmInvalidNameError(
      `prefix ${JSON.stringify(prefix)} is invalid: 1-32 characters, a letter then letters, digits or "_"`,
    );
  }
  return prefix;
}

/** Builds `/<prefix>-<pid>-<label>` so the creator of any segment can be told from its name. */
export function segmentName(label: string, prefix: string = DEFAULT_SEGMENT_PREFIX, pid: number = process.pid): string {
  validatePrefix(prefix);
  if (!LABEL_RE.test(label)) {
    throw new ShmInvalidNameError(
      `label ${JSON.stringify(label)} is invalid: 1-128 characters of letters, digits, ".", "_" or "-", not starting with a punctuation mark`,
    );
  }
  return validateSegmentName(`/${prefix}-${pid}-${label}`);
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

/** The creator pid encoded in a /dev/shm entry (no leading slash), or undefined if foreign. */
export function creatorPid(entry: string, prefix: string): number | undefined {
  if (!entry.startsWith(`${prefix}-`)) return undefined;
  const match = /^(\d+)-./.exec(entry.slice(prefix.length + 1));
  if (!match?.[1]) return undefined;
  const pid = Number(match[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
