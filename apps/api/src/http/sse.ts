import type { Response } from 'express';

import { ApiError } from '../errors.js';

/** How long an ended stream may take to flush before its connection is cut. */
const END_GRACE_MS = 1000;

/** One open Server-Sent Events stream. */
export interface SseStream {
  /** Writes one event; false once the stream is closed (ended, dropped, or the client left). */
  send(event: string, data: unknown): boolean;
  readonly closed: boolean;
  /** Ends the stream (repeat-safe). */
  close(): void;
  /** Runs `fn` once when the stream closes, for whatever reason. */
  onClose(fn: () => void): void;
}

/** A place for a stream, held against the client's quota until released or started and closed. */
export interface SseSlot {
  /** Sends the headers and starts the stream. */
  start(res: Response): SseStream;
  /** Gives the place back without streaming (e.g. the job turned out to be 404). */
  release(): void;
}

/** Settings of `sseHub`. */
export interface SseHubConfig {
  /** Streams one client may hold in this process; 0: no cap. */
  readonly maxPerClient: number;
  /** Unsent bytes past which a stream is dropped. */
  readonly maxBufferedBytes: number;
  readonly heartbeatMs: number;
  /** Called with the number of open streams whenever it changes, and with each drop's reason. */
  readonly onCount?: (open: number) => void;
  readonly onDrop?: (reason: 'slow_reader') => void;
}

/**
 * Every SSE stream of one API process: a per-client cap (429 TOO_MANY_STREAMS before anything is
 * streamed), heartbeats, and a slow-reader guard — a client that stops reading makes `write`
 * buffer in this process, so once a stream's unsent bytes pass `maxBufferedBytes` it is cut
 * (destroyed: ending it would queue yet more bytes behind the ones it does not read) and the
 * client may reconnect, starting over from the current state. `closeAll` ends every stream first
 * when the server drains.
 */
export interface SseHub {
  /** Reserves a stream for `clientId`; throws TOO_MANY_STREAMS when it holds its quota already. */
  reserve(clientId: string): SseSlot;
  readonly open: number;
  closeAll(): void;
}

/** Creates the hub of one process. */
export function sseHub(config: SseHubConfig): SseHub {
  const perClient = new Map<string, number>();
  const streams = new Set<SseStream>();
  let reserved = 0;
  const count = () => config.onCount?.(reserved);
  const take = (clientId: string) => {
    const held = perClient.get(clientId) ?? 0;
    if (config.maxPerClient > 0 && held >= config.maxPerClient) {
      throw new ApiError('TOO_MANY_STREAMS', `at most ${config.maxPerClient} event streams per client at once; close one first`, null, { headers: { 'Retry-After': '5' } });
    }
    perClient.set(clientId, held + 1);
    reserved += 1;
    count();
  };
  const give = (clientId: string) => {
    const held = (perClient.get(clientId) ?? 1) - 1;
    if (held > 0) perClient.set(clientId, held);
    else perClient.delete(clientId);
    reserved -= 1;
    count();
  };

  return {
    get open() {
      return reserved;
    },
    reserve(clientId) {
      take(clientId);
      let done = false;
      const release = () => {
        if (done) return;
        done = true;
        give(clientId);
      };
      return {
        release,
        start(res) {
          res.status(200).set({
            'Content-Type': 'text/event-stream; charset=utf-8',
            'Cache-Control': 'no-cache, no-transform',
            Connection: 'keep-alive',
            'X-Accel-Buffering': 'no',
          });
          res.flushHeaders();
          let seq = 0;
          let closed = false;
          const listeners: Array<() => void> = [];
          const finish = () => {
            if (closed) return;
            closed = true;
            clearInterval(heartbeat);
            streams.delete(stream);
            release();
            for (const fn of listeners.splice(0)) {
              try {
                fn();
              } catch {
                // one cleanup's failure must not skip the others
              }
            }
          };
          const write = (chunk: string): boolean => {
            if (closed) return false;
            if (res.write(chunk) || res.writableLength <= config.maxBufferedBytes) return true;
            config.onDrop?.('slow_reader');
            res.destroy();
            finish();
            return false;
          };
          const heartbeat = setInterval(() => write(': keep-alive\n\n'), config.heartbeatMs);
          const stream: SseStream = {
            send: (event, data) => write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
            get closed() {
              return closed;
            },
            close() {
              if (closed) return;
              finish();
              res.end();
              // A reader that does not read never lets the end through: cut it after a grace period.
              if (!res.writableFinished) {
                const cut = setTimeout(() => res.destroy(), END_GRACE_MS);
                cut.unref();
                res.once('finish', () => clearTimeout(cut));
              }
            },
            onClose(fn) {
              if (closed) fn();
              else listeners.push(fn);
            },
          };
          streams.add(stream);
          res.on('close', finish); // the client went away (or we ended the stream)
          if (res.destroyed || !res.socket || res.socket.destroyed) finish(); // it left before we started
          return stream;
        },
      };
    },
    closeAll() {
      for (const s of [...streams]) s.close();
    },
  };
}
