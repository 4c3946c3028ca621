/**
 * Attacks on the hub's HTTP side (the same whatever the broker): auth bypass paths, traversal,
 * stored XSS, another device's artifact, escape sequences reaching the operator's terminal,
 * an auth flood during which a device still connects, and tampered or replayed manifests
 * refused by the agent's checks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import type { MqttClient } from 'mqtt';
import { Agent, request } from 'undici';
import { verifiedManifests } from '../../agent/delivery/checks.js';
import { deviceTopic, generateSigningKeyPair, type Manifest, signManifest } from '../../shared/index.js';
import { runCli } from '../cli/run-cli.js';
import { basicAuth, pushModel } from '../delivery/helpers.js';
import { type Credentials, closeClient, waitFor } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { BROKER_OPTIONS, type BrokerTarget, connectAs } from './brokers.js';
import { attack, inParallel } from './harness.js';

const EMBEDDED = BROKER_OPTIONS[0];
const FLOOD = Number(process.env.OUTPOST_ATTACK_FLOOD ?? 1000);
const SCRIPT = '<script>alert(1)</script>';
const IMG = '"><img src=x onerror=alert(2)>';
const ESCAPES = '\u001b]0;pwned\u0007\u001b[2J\u009b31m';

/** A valid reported state whose agentVersion carries `agentVersion`. */
function reported(agentVersion: string) {
  return {
    v: 1,
    at: Date.now(),
    agentVersion,
    epoch: 'ep1',
    startedAt: Date.now(),
    appliedRev: 0,
    config: {},
    outbox: {},
  };
}

describe('HTTP and operator-facing attacks', () => {
  let target: BrokerTarget;
  let device: Credentials;
  let other: Credentials;
  const clients: MqttClient[] = [];

  before(async () => {
    if (EMBEDDED === undefined) throw new Error('no embedded broker option');
    target = await EMBEDDED.start();
    device = await target.enroll('http-dev');
    other = await target.enroll('http-other');
  });
  after(async () => {
    for (const c of clients) await closeClient(c);
    await target?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(`${target.hub.http.url}${path}`, { method, headers, redirect: 'manual' });

  attack('http: admin auth bypass paths', async () => {
    const paths = [
      '/v1/devices',
      '//v1/devices',
      '/v1/devices/',
      '/V1/DEVICES',
      '/v1/./devices',
      '/v1/devices?x=1',
      '/v1/devices%2f',
      '/v1/stats',
      '/dashboard',
      '/v1/rollouts',
    ];
    const credentials: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer ' },
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: `Bearer ${target.hub.adminToken} x` },
      { authorization: basicAuth(device.id, device.secret) },
      { authorization: basicAuth('admin', 'wrong-token-wrong') },
      { 'x-forwarded-for': '127.0.0.1', 'x-original-url': '/healthz' },
    ];
    const open: string[] = [];
    for (const path of paths) {
      for (const headers of credentials) {
        for (const method of ['GET', 'HEAD']) {
          const res = await get(path, headers, method);
          await res.arrayBuffer();
          if (res.status < 300) open.push(`${method} ${path} ${JSON.stringify(headers)} → ${res.status}`);
        }
      }
    }
    return open.length === 0 ? undefined : open.join('; ');
  });

  attack('http: path traversal on artifacts and dashboard', async () => {
    const paths = [
      '/v1/artifacts/..%2F..%2Fhub.db',
      '/v1/artifacts/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/v1/artifacts/../../hub.db',
      '/v1/artifacts/..\\..\\hub.db',
      '/dashboard/devices/..%2F..%2Fadmin-token',
      '/v1/models/..%2F..%2Fadmin-token',
    ];
    const leaks: string[] = [];
    for (const path of paths) {
      for (const authorization of [basicAuth(device.id, device.secret), `Bearer ${target.hub.adminToken}`]) {
        const res = await get(path, { authorization });
        const body = await res.text();
        if (
          res.status < 300 ||
          body.includes('SQLite format') ||
          body.includes('root:') ||
          body.includes(target.hub.adminToken)
        ) {
          leaks.push(`${path} → ${res.status}`);
        }
      }
    }
    return leaks.length === 0 ? undefined : leaks.join('; ');
  });

  attack('http: stored XSS through device name, labels and reported state', async () => {
    const res = await fetch(`${target.hub.http.url}/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.hub.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'xss-dev', name: SCRIPT, labels: { site: IMG } }),
    });
    const xss = (await res.json()) as Credentials;
    const client = await connectAs(target.deviceUrl, xss);
    clients.push(client);
    await client.publishAsync(deviceTopic(xss.id, 'state'), JSON.stringify(reported(SCRIPT)), {
      qos: 1,
      retain: true,
    });
    await waitFor(
      async () => (await target.hub.store.getDevice(xss.id))?.reported !== null,
      'the reported state stored',
    );
    const auth = { authorization: `Bearer ${target.hub.adminToken}` };
    const found: string[] = [];
    for (const page of ['/dashboard', `/dashboard/devices/${xss.id}`]) {
      const html = await (await get(page, auth)).text();
      if (html.includes(SCRIPT) || html.includes('<img src=x')) found.push(page);
    }
    return found.length === 0 ? undefined : `raw markup on ${found.join(', ')}`;
  });

  attack('http: downloading an artifact pinned only to another device', async () => {
    const bytes = classifierModel(7).bytes;
    const sha = createHash('sha256').update(bytes).digest('hex');
    const pushed = await pushModel(target.hub, 'pinned', '1.0.0', bytes);
    if (pushed.status !== 201) throw new Error(`push failed: ${pushed.status}`);
    await target.hub.delivery.desired.setModel(other.id, { name: 'pinned', version: '1.0.0' });
    const own = await get(`/v1/artifacts/${sha}`, { authorization: basicAuth(other.id, other.secret) });
    await own.arrayBuffer();
    if (own.status !== 200) throw new Error(`the pinned device itself got ${own.status}`);
    const res = await get(`/v1/artifacts/${sha}`, { authorization: basicAuth(device.id, device.secret) });
    await res.arrayBuffer();
    return res.status === 200 ? `${device.id} downloaded ${other.id}'s artifact` : undefined;
  });

  attack('cli: terminal escapes in reported text reach `outpost devices list`', async () => {
    const client = await connectAs(target.deviceUrl, device);
    clients.push(client);
    await client.publishAsync(deviceTopic(device.id, 'state'), JSON.stringify(reported(ESCAPES)), {
      qos: 1,
      retain: true,
    });
    await waitFor(
      async () =>
        ((await target.hub.store.getDevice(device.id))?.reported as { agentVersion?: string } | null)
          ?.agentVersion === ESCAPES,
      'the escape-laden state stored',
    );
    const env = { OUTPOST_CLI_HUB_URL: target.hub.http.url, OUTPOST_CLI_ADMIN_TOKEN: target.hub.adminToken };
    const out = await runCli(['devices', 'list'], env);
    if (out.code !== 0) throw new Error(`devices list failed: ${out.stderr}`);
    const leaked = ['\u001b', '\u0007', '\u009b'].filter((c) => out.stdout.includes(c));
    return leaked.length === 0 ? undefined : 'control characters reached stdout';
  });

  attack(`http: auth flood (${FLOOD} wrong Basic credentials) while a device connects`, async () => {
    const dispatcher = new Agent({ connect: { localAddress: '127.0.0.2' } as never, connections: 50 });
    const bytes = classifierModel(8).bytes;
    const sha = createHash('sha256').update(bytes).digest('hex');
    let sent = 0;
    const flooding = inParallel(
      Array.from({ length: FLOOD }, (_, i) => i),
      50,
      async (i) => {
        const id = i % 2 === 0 ? `nobody-${i}` : device.id;
        const res = await request(`${target.hub.http.url}/v1/artifacts/${sha}`, {
          dispatcher,
          headers: { authorization: basicAuth(id, randomBytes(16).toString('hex')) },
        });
        await res.body.dump();
        sent += 1;
      },
    );
    await waitFor(() => sent >= Math.min(50, FLOOD), 'the flood under way');
    const client = await connectAs(target.deviceUrl, other).catch((err: Error) => err);
    await flooding;
    await dispatcher.close();
    if (client instanceof Error) return `the device was refused during the flood: ${client.message}`;
    await closeClient(client);
    return undefined;
  });

  attack('agent: tampered, re-signed and replayed manifests', async () => {
    const hubKeys = generateSigningKeyPair();
    const strangerKeys = generateSigningKeyPair();
    const manifest: Manifest = {
      schema: 'outpost.manifest/v1',
      name: 'clf',
      version: '1.0.0',
      format: 'onnx',
      precision: 'fp32',
      sha256: 'a'.repeat(64),
      size: 10,
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 2] }],
      createdAt: 1,
    };
    const signed = signManifest(manifest, hubKeys);
    const trusted = [hubKeys.publicKeyPem];
    const cases = {
      'tampered sha256': {
        name: 'clf',
        version: '1.0.0',
        manifests: [{ ...signed, manifest: { ...manifest, sha256: 'b'.repeat(64) } }],
      },
      'signed by an untrusted key': {
        name: 'clf',
        version: '1.0.0',
        manifests: [signManifest(manifest, strangerKeys)],
      },
      'replayed under another version': { name: 'clf', version: '2.0.0', manifests: [signed] },
    };
    const accepted: string[] = [];
    for (const [name, entry] of Object.entries(cases)) {
      try {
        verifiedManifests(entry, trusted);
        accepted.push(name);
      } catch {
        // refused: held
      }
    }
    // The untampered one must pass, or the check proves nothing.
    verifiedManifests({ name: 'clf', version: '1.0.0', manifests: [signed] }, trusted);
    return accepted.length === 0 ? undefined : `accepted: ${accepted.join(', ')}`;
  });
});
