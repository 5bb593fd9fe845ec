import { parseArgs, type ParseArgsConfig } from 'node:util';

import { CliUsageError } from './cli-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flags of one sub-command (strings and booleans as given; typed readers below). */
export interface ParsedFlags {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/**
 * Strict flag parsing: an unknown flag, a missing value or a stray argument is a usage error
 * that names it, never silently ignored.
 */
export function parseFlags(argv: string[], options: Options, allowPositionals = false): ParsedFlags {
  // `--guidance -1` would otherwise be read as a flag named -1; bind negative numbers to the flag
  // before them so the value check can say what range is accepted.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (name !== undefined && !name.includes('=') && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    const msg = (e as Error).message;
    const flag = /'(-{1,2}[\w-]+)/.exec(msg)?.[1] ?? '(arguments)';
    throw new CliUsageError(flag, `${msg.replace(/\. To specify a positional argument.*$/s, '')}; see --help`);
  }
}

/** An integer flag in [min, max]; absent → `fallback`. */
export function intFlag(f: ParsedFlags, name: string, fallback: number, min: number, max: number): number {
  const raw = f.values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new CliUsageError(`--${name}`, `--${name} must be an integer from ${min} to ${max}, got "${String(raw)}"`);
  }
  return v;
}

/** A finite number flag in [min, max]; absent → `fallback`. */
export function numberFlag(f: ParsedFlags, name: string, fallback: number, min: number, max: number): number {
  const raw = f.values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw new CliUsageError(`--${name}`, `--${name} must be a number from ${min} to ${max}, got "${String(raw)}"`);
  }
  return v;
}

/** A string flag restricted to `choices`; absent → `fallback`. */
export function choiceFlag<T extends string>(f: ParsedFlags, name: string, choices: readonly T[], fallback: T): T {
  const raw = f.values[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) {
    throw new CliUsageError(`--${name}`, `--${name} must be one of ${choices.join(', ')}, got "${String(raw)}"`);
  }
  return raw as T;
}

/** A required string flag. */
export function requiredString(f: ParsedFlags, name: string, what: string): string {
  const raw = f.values[name];
  if (typeof raw !== 'string' || raw.trim() === '') throw new CliUsageError(`--${name}`, `--${name} is required (${what})`);
  return raw;
}

/** An optional string flag. */
export function stringFlag(f: ParsedFlags, name: string): string | undefined {
  const raw = f.values[name];
  return typeof raw === 'string' ? raw : undefined;
}

/** A boolean flag. */
export function boolFlag(f: ParsedFlags, name: string): boolean {
  return f.values[name] === true;
}
