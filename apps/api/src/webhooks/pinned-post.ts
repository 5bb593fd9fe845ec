import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { rootCertificates } from 'node:tls';

import { formatIp, parseIpLiteral, type VettedWebhookTarget } from '@asyncdiff/queue';

/** One POST to a vetted webhook target. */
export interface PinnedPostOptions {
  readonly vetted: VettedWebhookTarget;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Whole attempt: connect, TLS, request, response head. */
  readonly timeoutMs: number;
  /** Extra CA certificates (PEM) for https receivers, besides Node's bundled ones. */
  readonly ca?: string;
}

/** What the receiver answered, and where the connection actually went. */
export interface PinnedPostResult {
  readonly status: number;
  readonly remoteAddress: string;
}

/**
 * POSTs to a target the guard has vetted, connecting only to its first vetted address: the
 * socket's `lookup` answers that address instead of asking DNS again (so a resolver cannot swap
 * in another between vetting and connecting — DNS rebinding), while the Host header and TLS SNI
 * still carry the URL's host name. Redirects are never followed (node:http does not), the body of
 * the answer is never read, and one timeout bounds the whole attempt. As a second line of defence
 * the address the socket actually connected to is checked against the vetted ones, and the
 * attempt fails if it is not one of them.
 */
export function postPinned(options: PinnedPostOptions): Promise<PinnedPostResult> {
  const { target, addresses } = options.vetted;
  const address = addresses[0];
  if (address === undefined) return Promise.reject(new Error('no vetted address to connect to'));
  const family = address.includes(':') ? 6 : 4;
  const lookup: LookupFunction = (_host, lookupOptions, callback) => {
    if (lookupOptions.all) (callback as unknown as (err: null, list: Array<{ address: string; family: number }>) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const vettedSet = new Set(addresses);
  const { url } = target;
  const https = target.protocol === 'https:';
  const requestOptions: RequestOptions & { servername?: string; ca?: string[] } = {
    host: target.literal ? address : target.host,
    port: target.port,
    path: `${url.pathname}${url.search}`,
    method: 'POST',
    headers: { ...options.headers, Host: url.host, 'Content-Length': String(Buffer.byteLength(options.body)) },
    lookup,
    agent: false,
    ...(url.username !== '' && { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` }),
    ...(https && !target.literal && { servername: target.host }),
    // `ca` replaces Node's bundled roots, so pass them along with the extra certificates.
    ...(https && options.ca !== undefined && { ca: [...rootCertificates, options.ca] }),
  };

  return new Promise<PinnedPostResult>((resolve, reject) => {
    let settled = false;
    const req = (https ? httpsRequest : httpRequest)(requestOptions, (res) => {
      const remoteAddress = res.socket.remoteAddress ?? '';
      // The status is all we need: drop the body (and the connection) instead of reading it.
      res.destroy();
      finish(undefined, { status: res.statusCode ?? 0, remoteAddress });
    });
    // Events fire asynchronously, after this function has returned: `req` and `timer` are set by then.
    function finish(err: Error | undefined, result?: PinnedPostResult): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(result as PinnedPostResult);
    }
    const timer = setTimeout(() => finish(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    req.on('error', (err) => finish(err));
    req.on('socket', (socket: Socket) => {
      socket.once('connect', () => {
        const remote = parseIpLiteral(socket.remoteAddress ?? '');
        if (!remote || !vettedSet.has(formatIp(remote))) {
          finish(new Error(`connected to ${socket.remoteAddress ?? 'an unknown address'}, which was not vetted`));
        }
      });
    });
    req.end(options.body);
  });
}
