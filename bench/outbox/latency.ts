import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { percentile } from '../lib/measure.js';
import { agentConfig, enroll, readingBody, type Scratch, silent } from './fixture.js';

/** End-to-end latency of an online agent: `Agent.enqueue` → the hub's ack applied, ms. */
export interface LatencyFigures {
  events: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Online latency: a connected agent, an event every `intervalMs` (after a warm-up), each
 * timed from just before `enqueue` (which commits it) to the agent applying the hub's ack,
 * which the hub sends only after its own commit.
 */
export async function measureLatency(
  hub: Hub,
  scratch: Scratch,
  events: number,
  intervalMs = 2,
): Promise<LatencyFigures> {
  const creds = await enroll(hub);
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let measuring = false;
  const agent = await createAgent(
    agentConfig({
      deviceId: creds.id,
      deviceSecret: creds.secret,
      dataDir: await scratch.dir(),
      hub: { mqttUrl: hub.mqtt.url },
    }),
    {
      logger: silent(),
      onAck: (ack) => {
        const now = performance.now();
        for (const [seq, at] of sentAt) {
          if (seq > ack.hwm) continue;
          if (measuring) latencies.push(now - at);
          sentAt.delete(seq);
        }
      },
    },
  );
  const send = (i: number) => {
    const at = performance.now();
    sentAt.set(agent.enqueue({ type: 'bench.reading', body: readingBody(i), lane: 'results' }).seq, at);
  };
  while (!agent.status().link.connected) await sleep(10);
  for (let i = 0; i < 100; i++) {
    send(i);
    await sleep(intervalMs);
  }
  while (sentAt.size > 0) await sleep(10);
  measuring = true;
  for (let i = 0; i < events; i++) {
    send(i);
    await sleep(intervalMs);
  }
  while (sentAt.size > 0) await sleep(10);
  await agent.close();
  return {
    events: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: percentile(latencies, 100),
  };
}
