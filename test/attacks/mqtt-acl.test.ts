/**
 * Attacks by an enrolled device with its own valid credentials against other devices and the
 * hub, over MQTT, on every broker option: cross-device publish and subscribe, wildcards,
 * `$SYS`, shared and queue subscriptions (uplink theft), client-id takeover, will abuse,
 * retained publishes, and enrolling an id the hub uses itself.
 */
import { after, before, describe } from 'node:test';
import type { MqttClient } from 'mqtt';
import { deviceTopic, TOPIC_ROOT } from '../../shared/index.js';
import { api, type Credentials, closeClient, makeBatch, subscribeGranted, waitFor } from '../helpers/hub.js';
import { BROKER_OPTIONS, type BrokerTarget, connect, connectAs } from './brokers.js';
import { attack } from './harness.js';
import { capture, roundTrip, subscribeOwnAck, tryPublish } from './mqtt-tools.js';

const FORGED = 'forged-by-attacker';

/** Why the client-id takeover succeeds on NATS, and what bounds it (docs/security.md "NATS"). */
const NATS_CLIENT_ID_LIMIT =
  'nats-server 2.9 does not bind an MQTT client id to its user (Mosquitto has use_username_as_clientid): ' +
  "an enrolled device can connect with another device's client id and so close its connection; it gets none " +
  "of the victim's messages (the session's subscriptions are re-checked against the intruder's own " +
  'permissions) and cannot publish as it; the victim reconnects and takes the id back, and the node logs the ' +
  "intruder's user name, so it can be disabled";

for (const option of BROKER_OPTIONS) {
  describe(`MQTT access control, ${option.name} broker`, { skip: option.skip }, () => {
    let target: BrokerTarget;
    let victim: Credentials;
    let attacker: Credentials;
    let other: Credentials;
    const clients: MqttClient[] = [];
    const open = async (creds: Credentials, extra: Parameters<typeof connectAs>[2] = {}) => {
      const client = await connectAs(target.deviceUrl, creds, extra);
      clients.push(client);
      const seen = capture(client);
      await subscribeOwnAck(client, creds);
      return { client, seen };
    };

    before(async () => {
      target = await option.start();
      victim = await target.enroll('victim-1');
      attacker = await target.enroll('attacker-1');
      other = await target.enroll('other-1');
    });
    after(async () => {
      for (const c of clients) await closeClient(c);
      await target?.close();
    });

    attack(`${option.name}: cross-device publish (uplink as another device, downlink to it)`, async () => {
      const victimConn = await open(victim);
      const downlink = [deviceTopic(victim.id, 'cmd'), deviceTopic(victim.id, 'desired')];
      await subscribeGranted(victimConn.client, downlink);
      const evil = await connectAs(target.deviceUrl, attacker);
      clients.push(evil);
      const forged = JSON.stringify(makeBatch('forgedepoch', 1, 1, FORGED));
      // The embedded broker drops the connection on the first refused publish.
      await tryPublish(evil, deviceTopic(victim.id, 'up'), forged);
      for (const topic of downlink) await tryPublish(evil, topic, FORGED);
      await closeClient(evil);
      await roundTrip(victimConn.client, victim, victimConn.seen);
      const stored = await target.hub.store.listEvents(victim.id, { epoch: 'forgedepoch', limit: 10 });
      if (stored.length > 0) return `the hub stored ${stored.length} forged events as ${victim.id}'s`;
      if (victimConn.seen.some((m) => m.payload.includes(FORGED)))
        return 'the victim received a forged downlink';
      return undefined;
    });

    attack(`${option.name}: cross-device subscribe, wildcards and $SYS`, async () => {
      const evil = await open(attacker);
      const filters = [
        deviceTopic(victim.id, 'ack'),
        deviceTopic(victim.id, 'cmd'),
        deviceTopic(victim.id, 'desired'),
        deviceTopic(victim.id, 'up'),
        `${TOPIC_ROOT}/+/ack`,
        `${TOPIC_ROOT}/+/up`,
        `${TOPIC_ROOT}/#`,
        '#',
        '+/#',
        '$SYS/#',
        '$SYS/+/new/clients',
      ];
      await subscribeGranted(evil.client, filters);
      // Traffic the attacker must not see: the victim's uplink and ack, a new connection ($SYS).
      const victimConn = await open(victim);
      await roundTrip(victimConn.client, victim, victimConn.seen);
      await closeClient(victimConn.client);
      await roundTrip(evil.client, attacker, evil.seen);
      const foreign = evil.seen.filter((m) => !m.topic.startsWith(`${TOPIC_ROOT}/${attacker.id}/`));
      await closeClient(evil.client);
      return foreign.length === 0 ? undefined : `received ${foreign.map((m) => m.topic).join(', ')}`;
    });

    attack(`${option.name}: shared and queue subscriptions on the uplink (uplink theft)`, async () => {
      const groups = ['outpost-hub', 'outpost', 'hub', 'outpost-hubs', 'g'];
      const thieves: Array<ReturnType<typeof capture>> = [];
      for (const clientId of [attacker.id, `${attacker.id}-extra`]) {
        const client = await connectAs(target.deviceUrl, attacker, { clientId }).catch(() => undefined);
        if (client === undefined) continue;
        clients.push(client);
        thieves.push(capture(client));
        const filters = [
          ...groups.map((g) => `$share/${g}/${TOPIC_ROOT}/+/up`),
          `$queue/${TOPIC_ROOT}/+/up`,
          `$share/outpost-hub/${TOPIC_ROOT}/#`,
        ];
        await subscribeGranted(client, filters).catch(() => undefined);
      }
      const sender = await open(other);
      const batches = 30;
      for (let i = 1; i <= batches; i++) {
        const batchId = `theft-${i}`;
        await sender.client.publishAsync(
          deviceTopic(other.id, 'up'),
          JSON.stringify(makeBatch('theftepoch', i, 1, batchId)),
          { qos: 1 },
        );
      }
      // Every batch is acked on first delivery (no resend here): a batch a thief took away
      // from the hub is never acked.
      const acked = await waitFor(
        () => {
          const n = sender.seen.filter((m) => m.payload.includes('"theft-')).length;
          return n >= batches && n;
        },
        'acks of every batch',
        30_000,
      ).catch(() => sender.seen.filter((m) => m.payload.includes('"theft-')).length);
      await closeClient(sender.client);
      const stolen = thieves.flat().filter((m) => m.topic.includes(`/${other.id}/`));
      if (stolen.length > 0) return `the attacker received ${stolen.length} of ${other.id}'s messages`;
      if (acked < batches) return `the hub stored only ${acked} of ${batches} batches on first delivery`;
      return undefined;
    });

    attack(
      `${option.name}: client-id takeover (kick another device off, fire its will)`,
      async () => {
        const victimConn = await open(victim);
        let kicked = false;
        victimConn.client.on('close', () => {
          kicked = true;
        });
        // With the attacker's own password, and with the victim's user name and a wrong one.
        await connect(target.deviceUrl, {
          clientId: victim.id,
          username: attacker.id,
          password: attacker.secret,
        })
          .then((c) => closeClient(c))
          .catch(() => undefined);
        await connect(target.deviceUrl, {
          clientId: victim.id,
          username: victim.id,
          password: 'x'.repeat(43),
        })
          .then((c) => closeClient(c))
          .catch(() => undefined);
        if (kicked) return `${victim.id}'s connection was closed`;
        await roundTrip(victimConn.client, victim, victimConn.seen);
        const wasKicked = kicked;
        await closeClient(victimConn.client);
        return wasKicked ? `${victim.id}'s connection was closed` : undefined;
      },
      option.name === 'nats-cluster' ? { knownLimit: NATS_CLIENT_ID_LIMIT } : {},
    );

    attack(`${option.name}: will abuse (a will on another device's status)`, async () => {
      const conn = 'c-victim-will';
      const victimConn = await open(victim);
      await victimConn.client.publishAsync(
        deviceTopic(victim.id, 'status'),
        JSON.stringify({ v: 1, state: 'online', conn, at: Date.now() }),
        { qos: 1, retain: true },
      );
      await waitFor(
        async () => (await target.hub.store.getDevice(victim.id))?.online === true,
        'victim online',
      );
      const will = {
        topic: deviceTopic(victim.id, 'status'),
        payload: Buffer.from(JSON.stringify({ v: 1, state: 'offline', conn, at: Date.now() })),
        qos: 1 as const,
        retain: true,
      };
      const evil = await connectAs(target.deviceUrl, attacker, { will }).catch(() => undefined);
      // Ungraceful end: the broker publishes the will (if it accepted it).
      evil?.stream.destroy();
      const again = await open(attacker);
      await roundTrip(again.client, attacker, again.seen);
      await roundTrip(victimConn.client, victim, victimConn.seen);
      const device = await target.hub.store.getDevice(victim.id);
      await closeClient(again.client);
      await closeClient(victimConn.client);
      return device?.online === true ? undefined : `the hub shows ${victim.id} offline`;
    });

    attack(`${option.name}: retained publishes on another device's downlink`, async () => {
      const evil = await connectAs(target.deviceUrl, attacker);
      clients.push(evil);
      for (const channel of ['desired', 'cmd'] as const) {
        await tryPublish(evil, deviceTopic(victim.id, channel), FORGED, true);
      }
      await closeClient(evil);
      const victimConn = await open(victim);
      await subscribeGranted(victimConn.client, [
        deviceTopic(victim.id, 'desired'),
        deviceTopic(victim.id, 'cmd'),
      ]);
      await roundTrip(victimConn.client, victim, victimConn.seen);
      await closeClient(victimConn.client);
      const forged = victimConn.seen.filter((m) => m.payload.includes(FORGED));
      return forged.length === 0
        ? undefined
        : `the victim received ${forged.length} retained forged messages`;
    });

    attack(`${option.name}: enrolling ids the hub and broker use themselves`, async () => {
      const accepted: string[] = [];
      for (const id of ['outpost-hub', 'OUTPOST-HUB', 'outpost-hub-0a1b2c3d4e5f', 'outpost-anything']) {
        const res = await api(target.hub, 'POST', '/v1/devices', { id });
        if (res.status === 201 || res.body?.error?.code !== 'HUB_DEVICE_ID_RESERVED') {
          accepted.push(`${id} (${res.status} ${res.body?.error?.code ?? ''})`);
        }
      }
      return accepted.length === 0 ? undefined : `enrollment answered ${accepted.join(', ')}`;
    });
  });
}
