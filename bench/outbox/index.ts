import { millis, perSecond, ratio } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark } from '../lib/types.js';
import { measureDrain } from './drain.js';
import { measureEnqueue } from './enqueue.js';
import { benchHub, Scratch } from './fixture.js';
import { measureLatency } from './latency.js';

/**
 * `npm run bench -- outbox`: durable enqueue (crash-safe, power-safe) against a
 * raw better-sqlite3 insert loop; a backlog drained to a real hub with end-to-end acks
 * against raw mqtt.js QoS 1 publish loops to the same broker; online latency p50/p99.
 */
export const outboxBenchmark: Benchmark = {
  description: 'durable enqueue vs raw SQLite, 100k backlog drain vs raw QoS 1, online latency',
  async run({ quick, progress }) {
    const scratch = new Scratch();
    try {
      const rounds = quick ? 1 : 4;
      const crash = await measureEnqueue(scratch, 'crash-safe', quick ? 3000 : 20_000, rounds, progress);
      const power = await measureEnqueue(scratch, 'power-safe', quick ? 300 : 3000, rounds, progress);
      const hub = await benchHub(await scratch.dir());
      try {
        const drain = await measureDrain(hub, scratch, quick ? 20_000 : 100_000, progress);
        const latency = await measureLatency(hub, scratch, quick ? 200 : 1000, 10);
        progress('done');
        const enqueueRows = [crash, power].map((e) => [
          e.durability,
          perSecond(e.raw),
          perSecond(e.store),
          ratio(e.store / e.raw),
          perSecond(e.agent),
          ratio(e.agent / e.raw),
        ]);
        return [
          `outbox benchmark${quick ? ' (--quick: small sizes, do not publish)' : ''} — ${machine()}`,
          '',
          `Durable enqueue, one transaction per event (${crash.events} / ${power.events} events, median of rounds):`,
          table(['durability', 'raw insert', 'OutboxStore', 'ratio', 'Agent.enqueue', 'ratio'], enqueueRows),
          '',
          `Drain of a ${drain.backlog.toLocaleString('en-US')}-event backlog to the hub (${drain.batches} batches):`,
          table(
            ['method', 'events/s', 'outbox ÷ it'],
            [
              ['outbox drain, end-to-end acks (window 8)', perSecond(drain.drain), '—'],
              [
                'raw QoS 1, one event/message, 1 in flight',
                perSecond(drain.rawSequential),
                ratio(drain.drain / drain.rawSequential),
              ],
              [
                'raw QoS 1, one event/message, 1000 in flight',
                perSecond(drain.rawPipelined),
                ratio(drain.drain / drain.rawPipelined),
              ],
            ],
          ),
          `Live control events during that drain: p50 ${millis(drain.controlP50)}, p99 ${millis(drain.controlP99)} (${drain.controlCount} events)`,
          '',
          `Online end-to-end latency, enqueue → hub ack (${latency.events} events, one every 10 ms):`,
          table(['p50', 'p99', 'max'], [[millis(latency.p50), millis(latency.p99), millis(latency.max)]]),
        ].join('\n');
      } finally {
        await hub.close();
      }
    } finally {
      await scratch.cleanup();
    }
  },
};
