import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';

/** Starts MQTT over TCP on `host:port` (0 picks a free port); resolves once listening. */
export async function listenMqttTcp(aedes: Aedes, host: string, port: number): Promise<Server> {
  // noDelay: acks and PUBACKs are small; Nagle plus delayed ACKs would hold each one back
  // for tens of ms (end-to-end latency).
  const server = createServer({ noDelay: true }, (socket) => aedes.handle(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Stops accepting TCP connections and waits for the open ones (closed by aedes) to end. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

/** MQTT over WebSocket on an HTTP server; `close()` terminates every WebSocket. */
export interface WebSocketTransport {
  close(): Promise<void>;
}

/**
 * Serves MQTT over WebSocket at `path` of `http` (upgrade requests to other paths are
 * refused with 404). Each WebSocket becomes a stream handed to aedes, with the upgrade
 * request so aedes sees the remote address.
 */
export function attachMqttWebSocket(
  http: HttpServer,
  path: string,
  aedes: Aedes,
  logger: Logger,
): WebSocketTransport {
  const wss = new WebSocketServer({ noServer: true });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', (err) => logger.debug({ err: err.message }, 'websocket stream error'));
      aedes.handle(stream, req);
    });
  };
  http.on('upgrade', onUpgrade);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        http.off('upgrade', onUpgrade);
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}
