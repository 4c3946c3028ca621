import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { createAgent } from '../../agent/index.js';
import { DEFAULT_LANE_QUOTAS } from '../../agent/outbox/outbox-config.js';
import { openAgentStore } from '../../agent/store/index.js';
import type { Hub } from '../../hub/index.js';
import { deviceTopic } from '../../shared/index.js';
import { percentile, rate, timed } from '../lib/measure.js';
import { agentConfig, BATCH_MAX_BYTES, enroll, readingBody, type Scratch, silent } from './fixture.js';

/** Figures of the backlog drain and its baselines. */
export interface DrainFigures {
  backlog: number;
  /** Outbox drain with end-to-end acks (the hub stored every event before acking), events/s. */
  drain: number;
  batches: number;
  /** Raw mqtt.js QoS 1, one event per message, awaiting each PUBACK, events/s. */
  rawSequential: number;
  /** Raw mqtt.js QoS 1, one event per message, up to 1000 unacknowledged, events/s. */
  rawPipelined: number;
  /** Live `control` events enqueued during the drain: enqueue → hub ack, ms. */
  controlP50: number;
  controlP99: number;
  controlCount: number;
}

/** Most QoS 1 messages the pipelined baseline leaves unacknowledged (mqtt.js ids are 16-bit). */
const RAW_WINDOW = 1000;

/** Drains a pre-filled backlog to the hub, with live control events every 20 ms meanwhile. */
async function drainBacklog(hub: Hub, scratch: Scratch, backlog: number) {
  const creds = await enroll(hub);
  const dataDir = await scratch.dir();
  const prefill = openAgentStore({ dataDir, durability: 'crash-safe', quotas: DEFAULT_LANE_QUOTAS });
  for (let i = 1; i <= backlog; i++) {
    prefill.outbox.enqueue(
      'telemetry',
      'bench.reading',
      JSON.stringify(readingBody(i)),
      Date.now(),
      BATCH_MAX_BYTES,
    );
  }
  prefill.close();

  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const start = performance.now();
  const agent = await createAgent(
    agentConfig({ deviceId: creds.id, deviceSecret: creds.secret, dataDir, hub: { mqttUrl: hub.mqtt.url } }),
    {
      logger: silent(),
      onAck: (ack) => {
        if (ack.lane === 'telemetry' && ack.hwm >= backlog) finish();
        if (ack.lane !== 'control') return;
        for (const [seq, at] of sentAt) {
          if (seq > ack.hwm) continue;
          latencies.push(performance.now() - at);
          sentAt.delete(seq);
        }
      },
    },
  );
  const live = setInterval(() => {
    const at = performance.now();
    const { seq } = agent.enqueue({ type: 'bench.control', body: { at }, lane: 'control' });
    sentAt.set(seq, at);
  }, 20);
  await done;
  const ms = performance.now() - start;
  clearInterval(live);
  const batches = (await fetch(`${hub.http.url}/v1/stats`, {
    headers: { authorization: `Bearer ${hub.adminToken}` },
  }).then((r) => r.json())) as { ingest: { batches: number } };
  await agent.close();
  return { ms, latencies, batches: batches.ingest.batches };
}

/**
 * The baseline: a raw mqtt.js client publishing the same events, one per QoS 1 message, to
 * the same hub broker, as an enrolled device on a topic the hub reads without touching its
 * store (`ping`; the hub drops each as not a ping). It measures what the transport alone
 * costs and proves nothing about the hub's disk: PUBACK comes from the broker.
 */
async function rawPublish(hub: Hub, backlog: number, window: number): Promise<number> {
  const creds = await enroll(hub);
  const client = await mqtt.connectAsync(
    hub.mqtt.url,
    {
      protocolVersion: 4,
      clientId: creds.id,
      username: creds.id,
      password: creds.secret,
      reconnectPeriod: 0,
    },
    false,
  );
  const topic = deviceTopic(creds.id, 'ping');
  const payloads = Array.from({ length: backlog }, (_, i) =>
    Buffer.from(
      JSON.stringify({ seq: i + 1, type: 'bench.reading', at: Date.now(), body: readingBody(i + 1) }),
    ),
  );
  const { ms } = await timed(async () => {
    const inFlight = new Set<Promise<unknown>>();
    for (const payload of payloads) {
      const sent = client.publishAsync(topic, payload, { qos: 1 });
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
      if (inFlight.size >= window) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  });
  await client.endAsync();
  return rate(backlog, ms);
}

/** Drain of a `backlog`-event outage to a real hub, against raw publish loops to its broker. */
export async function measureDrain(
  hub: Hub,
  scratch: Scratch,
  backlog: number,
  progress: (line: string) => void,
): Promise<DrainFigures> {
  const rawSequential = await rawPublish(hub, backlog, 1);
  progress(`raw QoS 1 loop, one in flight: ${Math.round(rawSequential)}/s`);
  const rawPipelined = await rawPublish(hub, backlog, RAW_WINDOW);
  progress(`raw QoS 1 loop, ${RAW_WINDOW} in flight: ${Math.round(rawPipelined)}/s`);
  const drained = await drainBacklog(hub, scratch, backlog);
  progress(`outbox drain: ${Math.round(rate(backlog, drained.ms))}/s`);
  return {
    backlog,
    drain: rate(backlog, drained.ms),
    batches: drained.batches,
    rawSequential,
    rawPipelined,
    controlP50: percentile(drained.latencies, 50),
    controlP99: percentile(drained.latencies, 99),
    controlCount: drained.latencies.length,
  };
}
