import { pino, type DestinationStream, type Level, type LevelWithSilent, type Logger as PinoLogger } from 'pino';

/**
 * Where the API's log lines go. Console-shaped (`warn('message', err)`), so embedders and tests
 * can pass `console` or a collector; the default writes JSON lines through pino.
 */
export interface Logger {
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

/** A `Logger` backed by pino: request logging (pino-http) and request-scoped children use `pino`. */
export interface StructuredLogger extends Logger {
  readonly pino: PinoLogger;
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** @defaultValue `info` (env `LOG_LEVEL`, parsed in `apiOptionsFromEnv`) */
  readonly level?: LogLevel;
  /** @defaultValue stdout */
  readonly destination?: DestinationStream;
}

/**
 * The API's default logger: one JSON object per line on stdout (`level`, `time`, `msg`,
 * `service`, and `requestId` on every line written while serving a request). Credentials never
 * reach it: the request serializer drops headers and the query string.
 */
export function createLogger(options: LoggerOptions = {}): StructuredLogger {
  const level = options.level ?? 'info';
  const base = pino(
    {
      level,
      base: { service: 'asyncdiff-api', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
  return fromPino(base);
}

/** Wraps a pino logger: `warn('message', err, …)` becomes `{err, details?, msg}` on one line. */
export function fromPino(log: PinoLogger): StructuredLogger {
  const write = (level: Level) => (message: string, ...details: unknown[]) => {
    const err = details.find((d): d is Error => d instanceof Error);
    const rest = details.filter((d) => d !== err);
    log[level]({ ...(err && { err }), ...(rest.length > 0 && { details: rest.map(plain) }) }, message);
  };
  return { pino: log, info: write('info'), warn: write('warn'), error: write('error') };
}

/** Whether `logger` can make request-scoped children (the default logger can; a test collector cannot). */
export function isStructured(logger: Logger): logger is StructuredLogger {
  return typeof (logger as Partial<StructuredLogger>).pino?.child === 'function';
}

/**
 * The logger of one request: a pino child carrying `requestId`, or for a console-shaped logger
 * the same calls with the request id appended as a last detail.
 */
export function withRequestId(logger: Logger, requestId: string): Logger {
  if (isStructured(logger)) return fromPino(logger.pino.child({ requestId }));
  const tag = { requestId };
  return {
    info: (m, ...d) => logger.info(m, ...d, tag),
    warn: (m, ...d) => logger.warn(m, ...d, tag),
    error: (m, ...d) => logger.error(m, ...d, tag),
  };
}

/** The levels `LOG_LEVEL` accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];

/** One of `LOG_LEVELS`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

function plain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return String(value);
  }
}
