import type { z } from 'zod';

import type { SpecIssue } from './errors.js';

/**
 * Flattens zod issues into `{field, code, message}` with dotted field paths, one per unknown key,
 * so every validation error names exactly one field. `root` prefixes paths (`query`, `params`);
 * an issue at the root itself is reported as `root` (or `body`). A field absent from `input` is
 * reported with code `required`.
 */
export function toSpecIssues(error: z.ZodError, input: unknown, root = ''): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: join(root, [...base, key]), code: 'unknown_field', message: `unknown field "${key}"` });
      continue;
    }
    const missing = base.length > 0 && isMissing(input, issue.path);
    out.push({ field: join(root, base), code: missing ? 'required' : issue.code, message: missing ? 'is required' : issue.message });
  }
  return out;
}

function join(root: string, path: string[]): string {
  // An empty key is named `""` so the field is never blank.
  const parts = (root ? [root, ...path] : path).map((p) => (p === '' ? '""' : p));
  return parts.length ? parts.join('.') : 'body';
}

function isMissing(input: unknown, path: readonly PropertyKey[]): boolean {
  let value: unknown = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, key)) return true;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value === undefined;
}
