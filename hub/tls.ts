import { readFile } from 'node:fs/promises';
import { createServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Aedes } from 'aedes';
import type { TlsConfig } from './tls-config.js';

/**
 * Starts MQTT over TLS for the embedded broker (issue 8 item 4) with the configured certificate
 * and key; with `clientCerts` `optional` or `required`, asks for a client certificate signed
 * by `caFile` (`required` refuses the handshake without one). Resolves once listening.
 */
export async function listenMqttTls(aedes: Aedes, tls: TlsConfig): Promise<TlsServer> {
  if (tls.certFile === undefined || tls.keyFile === undefined)
    throw new Error('tls.certFile/keyFile missing');
  const [cert, key, ca] = await Promise.all([
    readFile(tls.certFile),
    readFile(tls.keyFile),
    tls.caFile === undefined ? undefined : readFile(tls.caFile),
  ]);
  const server = createServer(
    {
      cert,
      key,
      ...(ca === undefined ? {} : { ca }),
      requestCert: tls.clientCerts !== 'off',
      rejectUnauthorized: tls.clientCerts === 'required',
    },
    (socket) => aedes.handle(socket),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(tls.mqttPort, tls.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
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
