import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Agent, request } from 'undici';
import { buildHub, type Hub, HubConfigSchema } from '../../hub/index.js';
import type { Benchmark } from '../lib/types.js';

/** Flood traffic comes from another loopback address than the legitimate device. */
const ATTACKER = '127.0.0.2';

function varint(n: number): Buffer {
  const out: number[] = [];
  let x = n;
  do {
    let b = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) b |= 0x80;
    out.push(b);
  } while (x > 0);
  return Buffer.from(out);
}

function mqttString(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

/** An MQTT 3.1.1 CONNECT with user name and password. */
function connectPacket(id: string, password: string): Buffer {
  const body = Buffer.concat([
    mqttString('MQTT'),
    Buffer.from([4, 0xc2, 0, 30]),
    mqttString(id),
    mqttString(id),
    mqttString(password),
  ]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}

/** One bad CONNECT from the attacker's address; resolves on CONNACK or close. */
function badConnect(url: string, id: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: hostname, port: Number(port), localAddress: ATTACKER });
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.on('connect', () => socket.write(connectPacket(id, randomBytes(16).toString('hex'))));
    socket.on('data', done);
    socket.on('close', done);
    socket.on('error', done);
  });
}

/** Runs `count` calls of `one`, 50 at once; `onProgress(sent)` after each. */
async function flood(count: number, one: (i: number) => Promise<void>, onProgress: (n: number) => void) {
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < count) {
      await one(next++);
      onProgress(++sent);
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
}

/** Milliseconds a device takes to connect (CONNECT to CONNACK). */
async function timeConnect(url: string, id: string, secret: string): Promise<number> {
  const start = performance.now();
  const client = await mqtt.connectAsync(
    url,
    {
      protocolVersion: 4,
      clientId: id,
      username: id,
      password: secret,
      reconnectPeriod: 0,
      connectTimeout: 60_000,
    },
    false,
  );
  const ms = performance.now() - start;
  await client.endAsync(true);
  return ms;
}

/** Connect time of the legitimate device once the flood is `warm` attempts in. */
async function duringFlood(
  count: number,
  one: (i: number) => Promise<void>,
  measure: () => Promise<number>,
): Promise<{ connectMs: number; floodMs: number }> {
  const warm = Math.min(100, Math.floor(count / 4));
  let started: () => void = () => undefined;
  const warmed = new Promise<void>((resolve) => {
    started = resolve;
  });
  const begin = performance.now();
  const running = flood(count, one, (n) => n >= warm && started());
  await warmed;
  const connectMs = await measure();
  await running;
  return { connectMs, floodMs: performance.now() - begin };
}

async function enroll(hub: Hub, id: string): Promise<{ id: string; secret: string }> {
  const res = await fetch(`${hub.http.url}/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  return (await res.json()) as { id: string; secret: string };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/**
 * `npm run bench -- floods`: how long a legitimate device takes to connect to the embedded
 * broker with no flood, during 1,000 bad CONNECTs, and during 1,000 bad HTTP Basic
 * credentials (half unknown ids, half a known id with wrong secrets), from another address.
 */
export const floodsBenchmark: Benchmark = {
  description: 'a legitimate device connecting during 1,000 bad CONNECTs / bad HTTP credentials',
  async run({ quick, progress }) {
    const count = quick ? 200 : 1000;
    const dir = await mkdtemp(join(tmpdir(), 'outpost-bench-floods-'));
    const hub = await buildHub(
      HubConfigSchema.parse({
        dataDir: dir,
        logLevel: (process.env.BENCH_LOG ?? 'silent') as 'silent',
        http: { host: '127.0.0.1', port: 0 },
        mqtt: { host: '127.0.0.1', port: 0 },
      }),
    );
    try {
      const legit = await enroll(hub, 'bench-legit');
      const victim = await enroll(hub, 'bench-victim');
      const connect = () => timeConnect(hub.mqtt.url, legit.id, legit.secret);
      const baseline: number[] = [];
      for (let i = 0; i < 5; i++) baseline.push(await connect());
      progress(`baseline connect ${median(baseline).toFixed(1)} ms`);

      const idOf = (i: number) => (i % 2 === 0 ? `nobody-${i}` : victim.id);
      const mqttFlood = await duringFlood(count, (i) => badConnect(hub.mqtt.url, idOf(i)), connect);
      progress(`during ${count} bad CONNECTs: ${mqttFlood.connectMs.toFixed(1)} ms`);

      const dispatcher = new Agent({ connect: { localAddress: ATTACKER } as never, connections: 50 });
      const url = `${hub.http.url}/v1/artifacts/${'0'.repeat(64)}`;
      const httpFlood = await duringFlood(
        count,
        async (i) => {
          const basic = Buffer.from(`${idOf(i)}:${randomBytes(16).toString('hex')}`).toString('base64');
          const res = await request(url, { dispatcher, headers: { authorization: `Basic ${basic}` } });
          await res.body.dump();
        },
        connect,
      );
      await dispatcher.close();
      progress(`during ${count} bad HTTP credentials: ${httpFlood.connectMs.toFixed(1)} ms`);
      const rejected = hub.stats().rejected.byReason;
      return [
        `floods (embedded broker, ${count} bad attempts each, 50 at once, from ${ATTACKER})`,
        `  legitimate connect, no flood (median of 5)   ${median(baseline).toFixed(1)} ms`,
        `  legitimate connect during bad CONNECTs       ${mqttFlood.connectMs.toFixed(1)} ms   (flood took ${(mqttFlood.floodMs / 1000).toFixed(1)} s)`,
        `  legitimate connect during bad HTTP Basic     ${httpFlood.connectMs.toFixed(1)} ms   (flood took ${(httpFlood.floodMs / 1000).toFixed(1)} s)`,
        `  CONNECTs refused before hashing              ${rejected['connect.source-limited'] ?? 0}`,
        `  CONNECTs hashed and refused                  ${(rejected['connect.bad-credentials'] ?? 0) + (rejected['connect.not-authorized'] ?? 0)}`,
      ].join('\n');
    } finally {
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
