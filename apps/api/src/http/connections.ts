import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** The open connections of a server, and which of them are between requests. */
export interface ConnectionTracker {
  /** Destroys every connection with no request in flight (idle keep-alive, or no request yet). */
  closeIdle(): number;
  /** Destroys every connection. */
  closeAll(): void;
  readonly size: number;
}

/**
 * Tracks a server's connections itself. Node's own `closeIdleConnections` misses idle keep-alive
 * connections once a streaming response on another connection was aborted by its client (its
 * connection list follows pooled HTTP parsers, and the aborted one's parser is reused), which
 * would hold a drain open until the keep-alive timeout; counting requests per socket does not.
 */
export function trackConnections(server: Server): ConnectionTracker {
  const inFlight = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    if (!inFlight.has(socket)) return;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      if (inFlight.has(socket)) inFlight.set(socket, Math.max(0, (inFlight.get(socket) ?? 1) - 1));
    });
  });
  return {
    get size() {
      return inFlight.size;
    },
    closeIdle() {
      let closed = 0;
      for (const [socket, n] of inFlight) {
        if (n > 0) continue;
        socket.destroy();
        closed++;
      }
      return closed;
    },
    closeAll() {
      for (const socket of inFlight.keys()) socket.destroy();
    },
  };
}
