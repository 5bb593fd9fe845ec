import { isIP } from 'node:net';

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, `localhost`): only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)?.[1];
  return mapped !== undefined && mapped.startsWith('127.');
}

/** Listening where others can connect, with nobody's key required. */
export class InsecureBindError extends Error {
  override readonly name = 'InsecureBindError';
  readonly code = 'INSECURE_BIND';
  constructor(
    readonly host: string,
    how: string,
  ) {
    super(
      `refusing to listen on ${host} without API keys: anyone who can reach it could read, cancel and submit every job. ` +
        `Set API_KEYS (and API_ADMIN_KEYS for the dashboard), listen on 127.0.0.1, or pass ${how} to allow it anyway.`,
    );
  }
}

/**
 * Refuses a non-loopback listen address while no API key is configured, unless `insecure` says
 * the operator means it (`how` names that switch in the error, e.g. `--insecure`).
 */
export function assertSafeBind(host: string, keysConfigured: boolean, insecure: boolean, how: string): void {
  if (!keysConfigured && !insecure && !isLoopbackHost(host)) throw new InsecureBindError(host, how);
}
