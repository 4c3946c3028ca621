import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent as Dispatcher, fetch as undiciFetch } from 'undici';
import { type Agent, createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { basicAuth, modelReport, pushModel } from '../delivery/helpers.js';
import { tempDir as agentTempDir, agentTestConfig, testLogger } from '../helpers/agent.js';
import { makeCertificates } from '../helpers/certs.js';
import { type Credentials, enroll, startHub, tempDir, waitFor } from '../helpers/hub.js';
import { classifierModel, f32 } from '../helpers/models.js';

// HTTPS for the hub's HTTP API with the same certificate and key as MQTT over
// TLS, client certificates required; a real agent trusting the private CA and presenting its
// device certificate connects over mqtts://, reports, downloads a pinned model over https://
// and activates it. Clients without a certificate, or with another device's, are refused.

describe('HTTPS and mqtts with client certificates, agent end to end', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let certs: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let creds: Credentials;
  let agent: Agent | undefined;
  let agentDir: ReturnType<typeof agentTempDir>;
  let sha256 = '';
  const dispatchers: Dispatcher[] = [];
  const path = (name: string) => join(certs.path, name);
  const file = (name: string) => readFileSync(path(name));

  /** undici fetch trusting the test CA, presenting `device`'s certificate when given. */
  const clientFetch = (device?: string) => {
    const dispatcher = new Dispatcher({
      connect: {
        ca: file('ca.crt'),
        ...(device ? { cert: file(`${device}.crt`), key: file(`${device}.key`) } : {}),
      },
    });
    dispatchers.push(dispatcher);
    return (url: string, headers: Record<string, string> = {}) => undiciFetch(url, { headers, dispatcher });
  };

  before(async () => {
    certs = await tempDir('outpost-certs-');
    makeCertificates(certs.path, ['https-dev-1', 'https-dev-2']);
    dir = await tempDir();
    hub = await startHub(dir.path, {
      tls: {
        certFile: path('server.crt'),
        keyFile: path('server.key'),
        caFile: path('ca.crt'),
        clientCerts: 'required',
        mqttPort: 0,
        httpsPort: 0,
        host: '127.0.0.1',
      },
    });
    const pushed = await pushModel(hub, 'clf', '1.0.0', classifierModel(1).bytes);
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    sha256 = pushed.body.variants[0].sha256;
    assert.match(sha256, /^[0-9a-f]{64}$/, JSON.stringify(pushed.body));
    creds = await enroll(hub, { id: 'https-dev-1' });
    agentDir = agentTempDir();
  });
  after(async () => {
    await agent?.close();
    for (const d of dispatchers) await d.close();
    await hub?.close();
    agentDir?.remove();
    await dir?.remove();
    await certs?.remove();
  });

  test('the agent connects over mqtts, downloads a pinned model over https and activates it', async () => {
    assert.match(hub.https?.url ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: agentDir.path,
        hub: { mqttUrl: hub.mqtts?.url ?? 'mqtts://missing' },
        tls: { caFile: path('ca.crt'), certFile: path('https-dev-1.crt'), keyFile: path('https-dev-1.key') },
        inference: { profile: 'x86-64-cpu', threads: 1 },
        delivery: {
          trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
          hubHttpUrl: hub.https?.url ?? 'https://missing',
          retryMinMs: 50,
          retryMaxMs: 500,
        },
      }),
      { logger: testLogger() },
    );
    const running = agent;
    await waitFor(() => running.status().link.connected, 'the agent connected over mqtts', 30_000);
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '1.0.0' });
    const report = await waitFor(
      async () => {
        const r = await modelReport(hub, creds.id, 'clf');
        return r?.active?.version === '1.0.0' && r;
      },
      'v1 active on the device (downloaded over https)',
      30_000,
    );
    assert.equal(report.refused, undefined);
    const answer = await running.models.infer('clf', { x: f32([1, 4], [0.5, -1, 2, 0.25]) });
    assert.equal(answer.version, '1.0.0');
  });

  test('device routes: a verified certificate authenticates, none or another device is refused', async () => {
    const url = `${hub.https?.url}/v1/artifacts/${sha256}`;
    // The certificate alone identifies the device (no Basic).
    const byCert = await clientFetch('https-dev-1')(url);
    assert.equal(byCert.status, 200);
    assert.equal(Buffer.from(await byCert.arrayBuffer()).length, classifierModel(1).bytes.length);
    // Basic credentials of another device than the certificate names: 401.
    const other = await clientFetch('https-dev-2')(url, { authorization: basicAuth(creds.id, creds.secret) });
    assert.equal(other.status, 401);
    assert.match(await other.text(), /certificate names https-dev-2, not https-dev-1/);
    // A certificate of a device the hub never enrolled: 401.
    const unknown = await clientFetch('https-dev-2')(url);
    assert.equal(unknown.status, 401);
    await unknown.text();
    // No client certificate at all: the TLS handshake is refused (clientCerts required), even
    // with valid Basic credentials.
    await assert.rejects(clientFetch()(url, { authorization: basicAuth(creds.id, creds.secret) }));
  });

  test('clientCerts optional: Basic without a certificate still works, a certificate alone too', async () => {
    const optional = await startHub(join(dir.path, 'optional'), {
      tls: {
        certFile: path('server.crt'),
        keyFile: path('server.key'),
        caFile: path('ca.crt'),
        clientCerts: 'optional',
        httpsPort: 0,
        mqttPort: 0,
        host: '127.0.0.1',
      },
    });
    try {
      const pushed = await pushModel(optional, 'clf', '1.0.0', classifierModel(1).bytes);
      assert.equal(pushed.status, 201);
      const d = await enroll(optional, { id: 'https-dev-2' });
      await optional.delivery.desired.setModel(d.id, { name: 'clf', version: '1.0.0' });
      const url = `${optional.https?.url}/v1/artifacts/${pushed.body.variants[0].sha256}`;
      const basic = await clientFetch()(url, { authorization: basicAuth(d.id, d.secret) });
      assert.equal(basic.status, 200);
      await basic.arrayBuffer();
      const cert = await clientFetch('https-dev-2')(url);
      assert.equal(cert.status, 200);
      await cert.arrayBuffer();
      const neither = await clientFetch()(url);
      assert.equal(neither.status, 401);
      await neither.text();
    } finally {
      await optional.close();
    }
  });

  test('plain HTTP to the HTTPS port fails; the hub certificate is checked', async () => {
    const port = hub.https?.port;
    await assert.rejects(fetch(`http://127.0.0.1:${port}/v1/artifacts/${sha256}`));
    // A client that does not trust the private CA refuses the hub.
    await assert.rejects(fetch(`${hub.https?.url}/v1/artifacts/${sha256}`), (err: Error) => {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return /certificate|self[- ]signed|unable to verify/i.test(`${cause?.code} ${cause?.message}`);
    });
  });
});
