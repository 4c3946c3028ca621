import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Aedes } from 'aedes';
import type { FastifyInstance } from 'fastify';
import type { TlsConfig } from './tls-config.js';

/**
 * Starts MQTT over TLS for the embedded broker with the configured certificate
 * and key; with `clientCerts` `optional` or `required`, asks for a client certificate signed
 * by `caFile` (`required` refuses the handshake without one). Resolves once listening.
 */
export async function listenMqttTls(aedes: Aedes, tls: TlsConfig): Promise<TlsServer> {
  const server = createServer(await serverOptions(tls), (socket) => aedes.handle(socket));
  await listen(server, tls.mqttPort, tls.host);
  return server;
}

/**
 * Serves the HTTP app (API, artifacts, dashboard) over HTTPS on `tls.httpsPort` with the same
 * certificate, key and client-certificate policy as MQTT over TLS: requests
 * go through fastify's router, so every route, hook and auth rule is the plain one. The app
 * must be ready (listening on plain HTTP). Resolves once listening.
 */
export async function listenHttps(app: FastifyInstance, tls: TlsConfig): Promise<HttpsServer> {
  const server = createHttpsServer(await serverOptions(tls), (req, res) => app.routing(req, res));
  await listen(server, tls.httpsPort ?? 0, tls.host);
  return server;
}

async function serverOptions(tls: TlsConfig) {
  if (tls.certFile === undefined || tls.keyFile === undefined)
    throw new Error('tls.certFile/keyFile missing');
  const [cert, key, ca] = await Promise.all([
    readFile(tls.certFile),
    readFile(tls.keyFile),
    tls.caFile === undefined ? undefined : readFile(tls.caFile),
  ]);
  return {
    cert,
    key,
    ...(ca === undefined ? {} : { ca }),
    requestCert: tls.clientCerts !== 'off',
    rejectUnauthorized: tls.clientCerts === 'required',
  };
}

function listen(server: TlsServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * The device id a client certificate vouches for (its subject CN), `null` when the connection
 * carries no verified certificate, or `undefined` when it is no TLS connection at all.
 */
export function certifiedDeviceId(conn: unknown): string | null | undefined {
  const socket = conn as Partial<TLSSocket> | undefined;
  if (socket?.getPeerCertificate === undefined) return undefined;
  if (socket.authorized !== true) return null;
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' ? cn : null;
}
