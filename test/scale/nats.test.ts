import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { connect as natsConnect } from 'nats';
import { createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { decodeJoinToken, deviceTopic } from '../../shared/index.js';
import { agentTestConfig, TEST_LINK, testLogger } from '../helpers/agent.js';
import {
  api,
  type Credentials,
  closeClient,
  enroll,
  loginDevice,
  makeBatch,
  startHub,
  subscribeGranted,
  type TempDir,
  tempDir,
  waitFor,
} from '../helpers/hub.js';
import {
  NATS_HUB_PASSWORD,
  NATS_HUB_USER,
  natsSkip,
  startTestNatsCluster,
  type TestNatsCluster,
} from '../helpers/nats-cluster.js';
import { runBuiltCli } from '../packaging/process-helpers.js';

// The hub on a three-node NATS cluster of the test's own (docs/scale-out.md "NATS"): devices
// speak MQTT to any node; the hub publishes through node 1 only.

const connectTo = (url: string, creds: Credentials, clean = true) =>
  loginDevice(url, creds, { connectTimeout: 5000, clean });

let cluster: TestNatsCluster;

/** Rethrows a wait's failure with the last connect error and what each node logged last. */
async function withNodeLogs<T>(wait: Promise<T>, lastError: () => unknown): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    const logs = cluster.nodes
      .map((n) => `--- ${n.name} (${n.alive() ? 'alive' : 'dead'})\n${n.log().slice(-1500)}`)
      .join('\n');
    throw new Error(`${(err as Error).message}; last connect error: ${String(lastError())}\n${logs}`);
  }
}

/** Resolves once `url` accepts `creds` (auth.conf rewritten and the node reloaded). */
async function accepted(url: string, creds: Credentials): Promise<void> {
  let lastError: unknown;
  await withNodeLogs(
    waitFor(
      async () => {
        const c = await connectTo(url, creds).catch((err) => {
          lastError = err;
          return undefined;
        });
        if (c === undefined) return false;
        await closeClient(c);
        return true;
      },
      `the NATS node to accept ${creds.id}`,
      // Generous: a rewrite and a reload of three nodes sharing two loaded cores.
      60_000,
    ),
    () => lastError,
  );
}

/** Resolves true once `url` refuses `creds`. */
async function refused(url: string, creds: Credentials): Promise<boolean> {
  return waitFor(
    async () => {
      const c = await connectTo(url, creds).catch(() => undefined);
      if (c === undefined) return true;
      await closeClient(c);
      return false;
    },
    `the NATS node to refuse ${creds.id}`,
    // Generous: a rewrite and a reload of three nodes sharing two loaded cores.
    60_000,
  );
}

/**
 * Subscribes `client` to its own `topics` until every one is granted QoS 1, and returns the
 * grants. A NATS node answers a SUBSCRIBE it could not back with a JetStream consumer in time
 * (the cluster loaded) with 128, as it answers a forbidden topic; the agent retries such a
 * refusal (it reconnects), so the test retries too, and only a refusal that lasts fails it.
 */
async function grantedOwn(client: MqttClient, topics: string[]): Promise<number[]> {
  let grants: number[] = [];
  await waitFor(
    async () => {
      grants = await subscribeGranted(client, topics);
      return grants.every((g) => g === 1);
    },
    `QoS 1 grants for ${topics.join(', ')}`,
    // Generous: three nodes sharing two loaded cores.
    60_000,
  ).catch(() => undefined);
  return grants;
}

const closedWithin = (client: MqttClient, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (!client.connected) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    client.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });

describe('the hub on a NATS cluster', { skip: natsSkip() }, () => {
  let dir: TempDir;
  let hub: Hub;
  const clients: MqttClient[] = [];
  const node = (i: number) => cluster.nodes[i]?.mqttUrl as string;

  before(async () => {
    cluster = await startTestNatsCluster(3);
    dir = await tempDir('outpost-nats-hub-');
    // The hub reaches MQTT through node 1 only: what devices on nodes 2 and 3 get went through the cluster.
    hub = await startHub(dir.path, { broker: cluster.brokerConfig([0]) });
  });
  after(async () => {
    for (const c of clients) await closeClient(c);
    await hub?.close();
    await dir?.remove();
    await cluster?.remove();
  });

  test('a device on node 3 gets the retained desired state the hub published via node 1', async () => {
    const creds = await enroll(hub, { id: 'nats-desired' });
    const put = await api(hub, 'PUT', `/v1/devices/${creds.id}/desired`, { config: { fps: 7 } });
    assert.equal(put.status, 200);
    await accepted(node(2), creds);
    const device = await connectTo(node(2), creds);
    clients.push(device);
    const got: unknown[] = [];
    device.on('message', (topic, payload) => {
      if (topic === deviceTopic(creds.id, 'desired')) got.push(JSON.parse(payload.toString()));
    });
    assert.deepEqual(await grantedOwn(device, [deviceTopic(creds.id, 'desired')]), [1]);
    const desired = (await waitFor(() => got[0], 'the retained desired state on node 3')) as { rev: number };
    assert.equal(desired.rev, put.body.rev);
    assert.equal(desired.rev, 1);
    // The hub cannot count a NATS cluster's MQTT clients, and says so rather than reporting 0.
    assert.equal((await api(hub, 'GET', '/healthz', undefined, null)).body.broker.clients, null);
    const metrics = await (await fetch(`${hub.http.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /^outpost_hub_mqtt_connections \d/m);
  });

  test('a device is confined to its own topics', async () => {
    const a = await enroll(hub, { id: 'nats-confined-a' });
    const b = await enroll(hub, { id: 'nats-confined-b' });
    // Each enrollment rewrites the users and reloads the nodes. Once node 1 accepts b, it runs
    // the later of the two configurations: no reload is left to drop a's connection as it opens
    // (a's probe alone could pass between the two reloads).
    await accepted(node(1), b);
    await accepted(node(1), a);
    const evil = await connectTo(node(1), a);
    clients.push(evil);
    const foreign = [
      deviceTopic(b.id, 'desired'),
      deviceTopic(b.id, 'ack'),
      deviceTopic(b.id, 'up'),
      'outpost/v1/d/+/up',
      '#',
      '$MQTT/sub/#',
    ];
    for (const topic of foreign) {
      assert.deepEqual(await subscribeGranted(evil, [topic]), [128], topic);
    }
    assert.deepEqual(await grantedOwn(evil, [deviceTopic(a.id, 'ack')]), [1]);
    // A forged uplink in b's name is dropped by the node: the hub never stores it.
    await evil.publishAsync(
      deviceTopic(b.id, 'up'),
      JSON.stringify(makeBatch('forgedepoch', 1, 1, 'forged-1')),
      {
        qos: 1,
      },
    );
    const acks: string[] = [];
    evil.on('message', (_t, p) => acks.push(JSON.parse(p.toString()).batchId));
    await evil.publishAsync(deviceTopic(a.id, 'up'), JSON.stringify(makeBatch('ownepoch1', 1, 1, 'own-1')), {
      qos: 1,
    });
    await waitFor(() => acks.includes('own-1'), 'the ack of its own batch');
    assert.equal((await hub.store.listEvents(b.id, { epoch: 'forgedepoch', limit: 10 })).length, 0);
    // A device's credentials open MQTT connections only, never a NATS client connection.
    const natsUrl = cluster.natsUrls.split(',')[1] as string;
    await assert.rejects(
      natsConnect({ servers: natsUrl, user: a.id, pass: a.secret, reconnect: false, timeout: 5000 }),
      /Authorization Violation/i,
    );
  });

  test('the hub acks over core NATS: a QoS 1 subscription gets it, JetStream never stores it', async () => {
    const creds = await enroll(hub, { id: 'nats-core-ack' });
    await accepted(node(2), creds);
    // Every QoS 1 message an MQTT client publishes is also a message on `$MQTT.msgs.<subject>`
    // (the write into the replicated stream); a core NATS message is not.
    const tap = await natsConnect({
      servers: cluster.natsUrls.split(',')[2] as string,
      user: NATS_HUB_USER,
      pass: NATS_HUB_PASSWORD,
      timeout: 5000,
    });
    const seen: string[] = [];
    for (const subject of [`outpost.v1.d.${creds.id}.ack`, `$MQTT.msgs.outpost.v1.d.${creds.id}.ack`])
      tap.subscribe(subject, { callback: (_err, msg) => seen.push(msg.subject) });
    await tap.flush();
    try {
      // As the agent subscribes: a persistent session, QoS 1.
      const device = await connectTo(node(2), creds, false);
      clients.push(device);
      const acks: string[] = [];
      device.on('message', (_t, p) => acks.push(JSON.parse(p.toString()).batchId));
      assert.deepEqual(await grantedOwn(device, [deviceTopic(creds.id, 'ack')]), [1]);
      const batch = makeBatch('coreackepoch', 1, 2, 'core-ack-1');
      await device.publishAsync(deviceTopic(creds.id, 'up'), JSON.stringify(batch), { qos: 1 });
      await waitFor(() => acks.includes('core-ack-1'), 'the ack on the QoS 1 subscription');
      await waitFor(() => seen.length > 0, 'the ack seen by the tap');
      await tap.flush();
      assert.deepEqual(seen, [`outpost.v1.d.${creds.id}.ack`]);
    } finally {
      await tap.close();
    }
  });

  test('an id with a "." is refused at enrollment: NATS could never carry its topics', async () => {
    const res = await api(hub, 'POST', '/v1/devices', { id: 'line.3' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'HUB_DEVICE_ID_RESERVED');
    assert.match(
      res.body.error.message,
      /device id "line\.3" is reserved: "\." separates NATS subject tokens/,
    );
    assert.equal(await hub.store.getDevice('line.3'), undefined);
  });

  test('removal, disabling and secret rotation cut the live session and refuse the old credentials', async () => {
    for (const [action, id] of [
      ['remove', 'nats-removed'],
      ['disable', 'nats-disabled'],
      ['rotate', 'nats-rotated'],
    ] as const) {
      const creds = await enroll(hub, { id });
      await accepted(node(1), creds);
      const live = await connectTo(node(1), creds);
      clients.push(live);
      let fresh: string | undefined;
      if (action === 'remove') assert.equal((await api(hub, 'DELETE', `/v1/devices/${id}`)).status, 204);
      if (action === 'disable')
        assert.equal((await api(hub, 'POST', `/v1/devices/${id}/disable`)).status, 200);
      if (action === 'rotate') {
        const res = await api(hub, 'POST', `/v1/devices/${id}/rotate-secret`);
        assert.equal(res.status, 200);
        fresh = res.body.secret;
      }
      // A safety net, not a timing: the rewrite and reload of three nodes on two loaded cores.
      assert.ok(await closedWithin(live, 60_000), `${action}: the live session was closed`);
      assert.ok(await refused(node(2), creds), `${action}: the old credentials are refused`);
      if (fresh !== undefined) await accepted(node(2), { id, secret: fresh });
    }
  });

  test('a join token lists every node; the joined agent and `doctor agent` use the list', async () => {
    const res = await api(hub, 'POST', '/v1/devices', { id: 'nats-joined' });
    assert.equal(res.status, 201);
    assert.equal(res.body.mqtt.url, node(0), 'this hub publishes via node 1 only, and says so');
    await accepted(node(0), { id: 'nats-joined', secret: res.body.secret });
    const work = await tempDir('outpost-nats-join-');
    try {
      const dataDir = join(work.path, 'agent');
      assert.equal((await runBuiltCli(['agent', 'join', res.body.joinToken, '--data-dir', dataDir])).code, 0);
      // A hub on NATS gives its agents QoS 0 (no JetStream write per batch, no consumer per
      // subscription); the joined config carries it.
      assert.equal(decodeJoinToken(res.body.joinToken).linkQos, 0);
      const joined = JSON.parse(await readFile(join(dataDir, 'agent.json'), 'utf8'));
      assert.deepEqual(joined.link, { qos: 0 });
      // Every node, as an operator lists them (a hub whose broker.mqttUrls or public.mqttUrl has all).
      const all = cluster.nodes.map((n) => n.mqttUrl).join(',');
      const doctor = await runBuiltCli(['doctor', 'agent', '--data-dir', dataDir], {
        OUTPOST_AGENT_API__PORT: '0',
        OUTPOST_AGENT_HUB__MQTT_URL: all,
      });
      const line = doctor.stdout.split('\n').find((l) => /^\S+\s+broker\s/.test(l));
      assert.equal(
        line?.replace(/\s+/g, ' '),
        `ok broker ${all} accepts nats-joined`,
        `${doctor.stdout}\n${doctor.stderr}`,
      );
    } finally {
      await work.remove();
    }
  });

  test('an agent moves to another node when its node dies, and loses nothing', async () => {
    const creds = await enroll(hub, { id: 'nats-agent' });
    await accepted(node(0), creds);
    const agentDir = await tempDir('outpost-nats-agent-');
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: agentDir.path,
        // Node 2 first, so that killing it leaves the hub's own MQTT connection (node 1) alone.
        hub: { mqttUrl: [node(1), node(2), node(0)].join(',') },
        // What this hub's join tokens set: batches and subscriptions at QoS 0.
        link: { ...TEST_LINK, qos: 0 },
      }),
      { logger: testLogger() },
    );
    try {
      await waitFor(() => agent.status().link.connected, 'the agent connected');
      for (let i = 1; i <= 10; i++) agent.enqueue({ type: 'reading', body: { i } });
      await waitFor(() => agent.status().outbox.telemetry.pending === 0, 'the first ten acked');
      await cluster.nodes[1]?.kill();
      for (let i = 11; i <= 20; i++) agent.enqueue({ type: 'reading', body: { i } });
      await waitFor(() => agent.status().link.connects >= 2, 'the agent reconnected to another node', 20_000);
      await waitFor(() => agent.status().outbox.telemetry.pending === 0, 'all twenty acked', 20_000);
      const res = await api(hub, 'GET', `/v1/devices/${creds.id}/events?lane=telemetry&limit=100`);
      assert.deepEqual(
        res.body.events.map((e: { seq: number }) => e.seq),
        Array.from({ length: 20 }, (_, k) => k + 1),
      );
    } finally {
      await agent.close();
      await agentDir.remove();
      await cluster.nodes[1]?.restart();
    }
  });
});
