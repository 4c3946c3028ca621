import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IClientOptions } from 'mqtt';
import type { Hub } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import { makeCertificates } from '../helpers/certs.js';
import {
  type Credentials,
  closeClient,
  enroll,
  loginDevice,
  makeBatch,
  startHub,
  tempDir,
  waitFor,
} from '../helpers/hub.js';

// MQTT over TLS with a given certificate and key (made here with openssl: a
// CA, the hub's server certificate for 127.0.0.1, device certificates with CN = device id),
// and client-certificate authentication: the CN must be the MQTT user name.
// Certificates: test/helpers/certs.ts.

describe('MQTT over TLS with client certificates', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let certs: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let strict: Hub;
  let d1: Credentials;
  let d2: Credentials;
  const file = (name: string) => readFileSync(join(certs.path, name));

  before(async () => {
    certs = await tempDir('outpost-certs-');
    makeCertificates(certs.path, ['tls-dev-1', 'tls-dev-2']);
    const tls = (clientCerts: 'optional' | 'required') => ({
      certFile: join(certs.path, 'server.crt'),
      keyFile: join(certs.path, 'server.key'),
      caFile: join(certs.path, 'ca.crt'),
      clientCerts,
      mqttPort: 0,
      host: '127.0.0.1',
    });
    dir = await tempDir();
    hub = await startHub(join(dir.path, 'a'), { tls: tls('optional') });
    strict = await startHub(join(dir.path, 'b'), { tls: tls('required') });
    d1 = await enroll(hub, { id: 'tls-dev-1' });
    d2 = await enroll(hub, { id: 'tls-dev-2' });
  });
  after(async () => {
    await hub?.close();
    await strict?.close();
    await dir?.remove();
    await certs?.remove();
  });

  const connect = (target: Hub, creds: Credentials, extra: Partial<IClientOptions>) =>
    loginDevice(target.mqtts?.url ?? 'missing', creds, { ca: file('ca.crt'), ...extra });

  test('a device ingests over mqtts; a client that does not trust the CA refuses the hub', async () => {
    assert.match(hub.mqtts?.url ?? '', /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const client = await connect(hub, d1, {});
    try {
      const acks: Array<{ batchId: string; stored: number }> = [];
      client.on('message', (_t, p) => acks.push(JSON.parse(p.toString())));
      await client.subscribeAsync(deviceTopic(d1.id, 'ack'), { qos: 1 });
      await client.publishAsync(
        deviceTopic(d1.id, 'up'),
        JSON.stringify(makeBatch('epochtls01', 1, 2, 't1')),
        { qos: 1 },
      );
      const ack = await waitFor(() => acks.find((a) => a.batchId === 't1'), 'the ack over TLS');
      assert.equal(ack.stored, 2);
    } finally {
      await closeClient(client);
    }
    await assert.rejects(connect(hub, d1, { ca: undefined }), /self[- ]signed|unable to verify|certificate/i);
  });

  test('a client certificate must name the device: CN = MQTT user name', async () => {
    const own = await connect(hub, d1, { cert: file('tls-dev-1.crt'), key: file('tls-dev-1.key') });
    await closeClient(own);
    await assert.rejects(
      connect(hub, d1, { cert: file('tls-dev-2.crt'), key: file('tls-dev-2.key') }),
      /Not authorized/i,
      "another device's certificate is refused",
    );
    assert.equal(hub.stats().rejected.byReason['connect.not-authorized'], 1);
    void d2;
  });

  test('clientCerts required: no certificate, no connection', async () => {
    const s1 = await enroll(strict, { id: 'tls-dev-1' });
    await assert.rejects(connect(strict, s1, {}));
    const ok = await connect(strict, s1, { cert: file('tls-dev-1.crt'), key: file('tls-dev-1.key') });
    await closeClient(ok);
  });
});
