/**
 * Resource attacks on every broker option: oversized and slow packets, an outsider locking a
 * device out by its id, and floods of bad CONNECTs during which a legitimate device must
 * still connect (how fast is measured by `npm run bench -- floods`, not asserted here).
 * Flood traffic comes from 127.0.0.2, the legitimate device from 127.0.0.1: two sources.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Credentials, closeClient } from '../helpers/hub.js';
import { BROKER_OPTIONS, type BrokerTarget, connectAs } from './brokers.js';
import { attack, inParallel } from './harness.js';
import { closedWithin, connectHeader, connectPacket, openRaw, rawConnect } from './raw-mqtt.js';

const ATTACKER_ADDRESS = '127.0.0.2';
/** Bad CONNECTs per flood in the suite (the bench sends 1,000). */
const FLOOD = Number(process.env.OUTPOST_ATTACK_FLOOD ?? 1000);

/** Streams `total` bytes after an oversized CONNECT header; true when the broker let it all in. */
async function oversizedAccepted(url: string, total: number): Promise<boolean> {
  const socket = await openRaw(url, ATTACKER_ADDRESS);
  socket.on('error', () => undefined);
  const closed = closedWithin(socket, 60_000);
  socket.write(connectHeader(250 * 1024 * 1024));
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  let sent = 0;
  while (sent < total && !socket.destroyed) {
    const ok = socket.write(chunk);
    sent += chunk.length;
    if (!ok) {
      await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
  }
  const accepted = !socket.destroyed;
  socket.destroy();
  await closed;
  return accepted;
}

/** `count` bad CONNECTs from the attacker's address, `width` at once. */
async function flood(url: string, count: number, victimId: string): Promise<void> {
  const attempts = Array.from({ length: count }, (_, i) => i);
  await inParallel(attempts, 50, async (i) => {
    // Half unknown ids, half a known id with a wrong password.
    const id = i % 2 === 0 ? `nobody-${i}` : victimId;
    await rawConnect(url, connectPacket(id, id, randomBytes(16).toString('hex')), ATTACKER_ADDRESS).catch(
      () => undefined,
    );
  });
}

for (const option of BROKER_OPTIONS) {
  describe(`MQTT resource attacks, ${option.name} broker`, { skip: option.skip }, () => {
    let target: BrokerTarget;
    let victim: Credentials;
    let legit: Credentials;

    before(async () => {
      target = await option.start({ limits: { mqtt: { connectTimeoutMs: 1000 } } });
      victim = await target.enroll('flood-victim');
      legit = await target.enroll('flood-legit');
    });
    after(async () => target?.close());

    attack(
      `${option.name}: oversized CONNECT (announces 250 MiB, sends 16 MiB) before authentication`,
      async () =>
        (await oversizedAccepted(target.deviceUrl, 16 * 1024 * 1024))
          ? 'the broker read 16 MiB of a CONNECT announcing 250 MiB'
          : undefined,
      option.name === 'nats-cluster'
        ? {
            knownLimit:
              'nats-server 2.9 reads an MQTT packet of up to 256 MiB whole before parsing it (max_payload does not apply to MQTT packets); ' +
              'an unauthenticated connection is closed after the authorization timeout (2 s), which bounds how long such a buffer lives, ' +
              'and max_connections bounds how many there are',
          }
        : {},
    );

    if (option.name !== 'embedded') {
      test(`${option.name}: oversized CONNECT over WebSocket`, {
        skip: 'does not apply: devices reach this broker option over MQTT/TCP only (the hub serves MQTT over WebSocket with its embedded broker alone)',
      });
    } else {
      attack(`${option.name}: oversized CONNECT over WebSocket`, async () => {
        const { WebSocket } = await import('ws');
        const ws = new WebSocket(target.hub.ws.url, 'mqtt');
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
        ws.send(connectHeader(250 * 1024 * 1024));
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        let sent = 0;
        while (sent < 16 * 1024 * 1024 && ws.readyState === ws.OPEN) {
          await new Promise<void>((resolve) => ws.send(chunk, () => resolve()));
          sent += chunk.length;
        }
        const open = ws.readyState === ws.OPEN;
        ws.terminate();
        await closed;
        return open ? 'the broker read 16 MiB over WebSocket of a CONNECT announcing 250 MiB' : undefined;
      });
    }

    attack(
      `${option.name}: slow packet (a CONNECT that never completes holds a connection)`,
      async () => {
        const socket = await openRaw(target.deviceUrl, ATTACKER_ADDRESS);
        socket.on('error', () => undefined);
        socket.write(connectPacket('slowpoke', 'slowpoke', 'x').subarray(0, 5));
        // Generous: the embedded broker closes after connectTimeoutMs (1 s here).
        const closed = await closedWithin(socket, 30_000);
        socket.destroy();
        return closed ? undefined : 'a half-sent CONNECT kept its connection open for 30 s';
      },
      option.name === 'mosquitto'
        ? {
            knownLimit:
              'Mosquitto 2.0 has no timeout for an unfinished CONNECT; such connections hold a socket each, bounded by max_connections',
          }
        : {},
    );

    attack(`${option.name}: outsider lockout (bad passwords with a device's id)`, async () => {
      for (let i = 0; i < 100; i++) {
        await rawConnect(
          target.deviceUrl,
          connectPacket(victim.id, victim.id, `wrong-${i}`),
          ATTACKER_ADDRESS,
        ).catch(() => undefined);
      }
      const client = await connectAs(target.deviceUrl, victim).catch((err: Error) => err);
      if (client instanceof Error) return `${victim.id} was refused: ${client.message}`;
      await closeClient(client);
      return undefined;
    });

    attack(`${option.name}: connect flood (${FLOOD} bad CONNECTs) while a device connects`, async () => {
      const flooding = flood(target.deviceUrl, FLOOD, victim.id);
      const client = await connectAs(target.deviceUrl, legit).catch((err: Error) => err);
      await flooding;
      if (client instanceof Error)
        return `the legitimate device was refused during the flood: ${client.message}`;
      await closeClient(client);
      return undefined;
    });
  });
}
