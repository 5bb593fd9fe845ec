import { pino, type DestinationStream } from 'pino';

/**
 * The GPU host's structured log: pino's call shape (`info({jobId, step}, 'message')`), so
 * `startGpuHost` accepts a pino logger as it is. Every line a job writes goes through a child
 * bound to `host`, `group` and `jobId`, and carries the `step` it is about.
 */
export interface HostLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  child(bindings: Record<string, unknown>): HostLogger;
}

/** The levels `LOG_LEVEL` accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One of `LOG_LEVELS`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** JSON lines on stdout (or `destination`): `level`, `time`, `msg`, `service`, `host`, and the caller's fields. */
export function createHostLogger(options: { hostId: string; level?: LogLevel; destination?: DestinationStream }): pino.Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'asyncdiff-gpu-host', host: options.hostId, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * A `HostLogger` over the older one-line callbacks (`log`, `onError`) for embedders that pass
 * only those (the CLI's `serve`, tests): fields become `key=value` after the message; an `err`
 * field at `error` level goes to `onError`, at `warn` its message is appended to the line.
 */
export function callbackLogger(log: (message: string) => void, onError: (err: unknown) => void, bindings: Record<string, unknown> = {}): HostLogger {
  const line = (fields: Record<string, unknown>, message: string): string => {
    const all = { ...bindings, ...fields };
    const tail = Object.entries(all)
      .filter(([k, v]) => k !== 'err' && v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const err = fields['err'];
    const reason = err === undefined ? '' : `: ${err instanceof Error ? err.message : String(err)}`;
    return `${message}${reason}${tail ? ` (${tail})` : ''}`;
  };
  return {
    info: (fields, message) => log(line(fields, message)),
    warn: (fields, message) => log(line(fields, message)),
    error: (fields, message) => (fields['err'] !== undefined ? onError(fields['err']) : log(line(fields, message))),
    child: (more) => callbackLogger(log, onError, { ...bindings, ...more }),
  };
}
