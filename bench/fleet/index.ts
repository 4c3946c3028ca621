import { randomBytes, scrypt } from 'node:crypto';
import { findPeer } from '../../test/helpers/peer.js';
import { millis, percentile, perSecond, timed } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark, BenchOptions } from '../lib/types.js';
import { BENCH_SCRYPT_N, type FleetDevice, makeFleet } from './credentials.js';
import { BENCH_DRIFT_EDGES, type FleetLane } from './devices.js';
import { converged, type KillPlan, type KillResult, killNodeAndReplica } from './kill.js';
import { checkOpenFiles } from './open-files.js';
import { pgMissing } from './pg-database.js';
import { DeviceShards } from './shards.js';
import { type FleetMode, type HubProcess, startStack } from './stack.js';

const MiB = 1024 * 1024;

/** Simulated devices per device process by default: a quarter of this machine's 20,000 open files. */
const DEVICES_PER_PROCESS = 5000;

interface ModeResult {
  mode: string;
  /** The QoS the devices used: the hub's join tokens' `link.qos`. */
  qos: 0 | 1;
  connectMs: number;
  desired: number;
  events: number;
  ingestMs: number;
  p50: number;
  p99: number;
  hubBytesPerDevice: number;
  brokerBytesPerDevice: number;
  resent: number;
  /** Hub CPU time (all replicas) from the first batch until every event's effect is visible, ms. */
  hubCpuMs: number;
  /** The broker processes' CPU time over the same span, ms (null: the broker is in the hub). */
  brokerCpuMs: number | null;
  /** Uplink payload bytes published by the devices (resends included). */
  uplinkBytes: number;
  /** Telemetry lane: from the last ack until every device's last report shows in the API, ms. */
  visibleMs: number | null;
  /** NATS: one node and one hub replica SIGKILLed once half the batches were acked. */
  kill: KillResult | null;
  lost: number;
  duplicated: number;
}

/** Waits until `GET /v1/telemetry/devices` shows every device's last report; ms waited. */
async function telemetryVisible(
  http: string,
  token: string,
  devices: number,
  lastUptime: number,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    const res = await fetch(`${http}/v1/telemetry/devices`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await res.json()) as { devices: Array<{ latest: { uptimeS: number } }> };
    const done = body.devices.filter((d) => d.latest.uptimeS === lastUptime).length;
    if (done >= devices) return performance.now() - start;
    if (performance.now() - start > 120_000)
      throw new Error(`only ${done}/${devices} reports visible after 120 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The ingest fails when no batch was acked for this long (a broker that stopped delivering). */
const STALL_MS = 180_000;

async function runMode(
  mode: FleetMode,
  fleet: readonly FleetDevice[],
  sizes: { batches: number; perBatch: number; concurrency: number; lane: FleetLane; perProcess: number },
  progress: (line: string) => void,
  bins: { mosquitto: string; nats: string },
  natsOptions: { consumerReplicas?: number },
): Promise<ModeResult> {
  const stack = await startStack(mode, fleet, bins, natsOptions);
  const baseline = stack.rss();
  const shards = new DeviceShards(fleet, sizes.perProcess);
  try {
    progress(
      `${mode}: connecting ${fleet.length} devices (${sizes.concurrency} at a time, from ${shards.processes} device ` +
        `process${shards.processes === 1 ? '' : 'es'})` +
        (stack.database ? `, two hub replicas on PostgreSQL database ${stack.database}` : ''),
    );
    const { urls } = stack.deviceUrls(0);
    const connect = await timed(() =>
      shards.connect(urls, (i) => stack.deviceUrls(i).index, stack.linkQos, sizes.concurrency),
    );
    const retried = connect.value;
    const deadline = Date.now() + 60_000;
    let status = await shards.status();
    while (status.withDesired < fleet.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      status = await shards.status();
    }
    const desired = status.withDesired;
    const connected = stack.rss();
    if (retried > 0) progress(`${mode}: ${retried} connections retried (refused subscription or no CONNACK)`);
    progress(
      `${mode}: connected in ${millis(connect.ms)}; sending ${sizes.batches}×${sizes.perBatch} events each`,
    );
    const token = stack.token;
    const http = () =>
      (stack.hubs.find((h) => h.child.exitCode === null && h.child.signalCode === null) ?? stack.hubs[0])
        ?.http as string;
    if (sizes.lane === 'telemetry') {
      // A baseline, so that each drift evaluation computes PSI and KS like a real one.
      const res = await fetch(`${http()}/v1/drift/baselines/bench/1.0.0`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          features: Array.from({ length: 4 }, () => ({
            edges: BENCH_DRIFT_EDGES,
            counts: new Array(10).fill(100),
          })),
          classes: [34, 33, 33],
        }),
      });
      if (!res.ok) throw new Error(`drift baseline: ${res.status} ${await res.text()}`);
    }
    const cpuBefore = stack.cpu();
    const allBatches = fleet.length * sizes.batches;
    let killing: Promise<KillPlan> | undefined;
    // Once half the batches are acked (NATS), a node and a replica die.
    shards.onAcked = (acked) => {
      if (mode !== 'nats' || killing !== undefined || acked < allBatches / 2) return;
      progress(`${mode}: ${acked}/${allBatches} batches acked; SIGKILL of node n1 and hub replica 1`);
      killing = killNodeAndReplica(stack, shards, stack.hubs[0] as HubProcess);
      // Awaited once the ingest is done; a failure before that is not unhandled meanwhile.
      killing.catch(() => undefined);
    };
    // A line every 15 s while the ingest runs, so that a stalled run shows where it stands; a
    // run whose acks stop for STALL_MS fails, saying so, instead of resending forever.
    let stalled: (err: Error) => void = () => {};
    const stall = new Promise<never>((_, reject) => {
      stalled = reject;
    });
    let lastAcked = 0;
    let lastProgress = performance.now();
    const ticker = setInterval(() => {
      void shards.status().then((s) => {
        progress(
          `${mode}: ${shards.acked}/${allBatches} batches acked, ${s.down} devices without a link` +
            (s.lastError ? ` (${s.lastError})` : ''),
        );
        if (shards.acked !== lastAcked) {
          lastAcked = shards.acked;
          lastProgress = performance.now();
        } else if (performance.now() - lastProgress > STALL_MS) {
          stalled(
            new Error(
              `${mode}: stalled: ${allBatches - shards.acked} of ${allBatches} batches unacked for ${STALL_MS / 1000} s, ` +
                `${s.down} devices without a link (each resent after its ack timeout)`,
            ),
          );
        }
      }, stalled);
    }, 15_000);
    const ingest = await timed(() =>
      Promise.race([stall, shards.send(sizes.batches, sizes.perBatch, sizes.lane)]),
    ).finally(() => clearInterval(ticker));
    const latencies = ingest.value;
    const total = sizes.batches * sizes.perBatch;
    // The last telemetry.device report of each device is event total - 2 or total - 1 (even k).
    const lastUptime = (total - 1) % 2 === 0 ? total - 1 : total - 2;
    const visibleMs =
      sizes.lane === 'telemetry' ? await telemetryVisible(http(), token, fleet.length, lastUptime) : null;
    const cpuAfter = stack.cpu();
    const kill = killing ? await converged(await killing, shards, progress) : null;
    if (mode === 'nats' && kill === null) throw new Error('nats: the node and replica kill never happened');
    const totals = await shards.totals();
    const exact = await stack.check('epochfleet1', totals.ids, total);
    return {
      mode,
      qos: stack.linkQos,
      connectMs: connect.ms,
      desired,
      events: latencies.length * sizes.perBatch,
      ingestMs: ingest.ms,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      hubBytesPerDevice: (connected.hub - baseline.hub) / fleet.length,
      brokerBytesPerDevice: (connected.broker - baseline.broker) / fleet.length,
      resent: totals.resent,
      hubCpuMs: cpuAfter.hub - cpuBefore.hub,
      brokerCpuMs: mode === 'embedded' ? null : cpuAfter.broker - cpuBefore.broker,
      uplinkBytes: totals.sentBytes,
      visibleMs,
      kill,
      ...exact,
    };
  } finally {
    await shards.close();
    await stack.close();
  }
}

function productionScryptMs(): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) =>
    scrypt('x', randomBytes(16), 32, { N: 16_384, r: 8, p: 1, maxmem: 64 * MiB }, (err) =>
      err ? reject(err) : resolve(performance.now() - start),
    ),
  );
}

/**
 * `npm run bench -- fleet [--devices N] [--events N] [--batch N] [--broker both|all|embedded|mosquitto|nats]
 * [--nats-consumer-replicas 1|2|3] [--devices-per-process N] [--quick]`. Ratios are against the first broker run (embedded unless only Mosquitto).
 */
export const fleetBenchmark: Benchmark = {
  description: 'fleet load: N protocol-level devices against the embedded broker vs the Mosquitto-backed hub',
  async run(options: BenchOptions): Promise<string> {
    const params = options.params ?? {};
    for (const key of Object.keys(params)) {
      if (
        ![
          'devices',
          'events',
          'batch',
          'broker',
          'lane',
          'nats-consumer-replicas',
          'devices-per-process',
        ].includes(key)
      )
        throw new Error(`fleet: unknown setting --${key}`);
    }
    const count = Number(params.devices ?? (options.quick ? 200 : 5000));
    const perBatch = Number(params.batch ?? 5);
    const events = Number(params.events ?? 20);
    const perProcess = Number(params['devices-per-process'] ?? DEVICES_PER_PROCESS);
    if (
      ![count, perBatch, events, perProcess].every((n) => Number.isInteger(n) && n > 0) ||
      events % perBatch !== 0
    ) {
      throw new Error(
        'fleet: --devices, --events, --batch and --devices-per-process must be positive integers, events a multiple of batch',
      );
    }
    const brokers = {
      both: ['embedded', 'mosquitto'],
      all: ['embedded', 'mosquitto', 'nats'],
      embedded: ['embedded'],
      mosquitto: ['mosquitto'],
      nats: ['nats'],
    } as const;
    const broker = String(params.broker ?? 'both');
    if (!(broker in brokers))
      throw new Error(`fleet: --broker must be both, all, embedded, mosquitto or nats, not ${broker}`);
    const lane = String(params.lane ?? 'results');
    if (lane !== 'results' && lane !== 'telemetry')
      throw new Error(`fleet: --lane must be results or telemetry, not ${lane}`);
    const sizes = {
      batches: events / perBatch,
      perBatch,
      concurrency: 200,
      lane: lane as FleetLane,
      perProcess,
    };
    const consumerReplicas =
      params['nats-consumer-replicas'] === undefined ? undefined : Number(params['nats-consumer-replicas']);
    if (consumerReplicas !== undefined && ![1, 2, 3].includes(consumerReplicas))
      throw new Error(
        `fleet: --nats-consumer-replicas must be 1, 2 or 3, not ${params['nats-consumer-replicas']}`,
      );
    const mosquittoPeer = findPeer(
      'Mosquitto',
      'OUTPOST_BENCH_MOSQUITTO',
      '/usr/sbin/mosquitto',
      'apt-get install mosquitto',
    );
    const natsPeer = findPeer(
      'nats-server',
      'OUTPOST_BENCH_NATS',
      '/usr/sbin/nats-server',
      'apt-get install nats-server',
    );
    const wanted: readonly FleetMode[] = brokers[broker as keyof typeof brokers];
    checkOpenFiles(wanted, count, perProcess);
    const pg = wanted.includes('nats') && natsPeer.missing === undefined ? await pgMissing() : undefined;
    const modes = wanted.filter(
      (m) =>
        (m !== 'mosquitto' || mosquittoPeer.missing === undefined) &&
        (m !== 'nats' || (natsPeer.missing === undefined && pg === undefined)),
    ) as FleetMode[];
    const missing = [mosquittoPeer.missing, natsPeer.missing, pg].filter((m) => m !== undefined);
    for (const m of missing) options.progress(m);
    if (modes.length === 0) return `fleet: nothing to run — ${missing.join('; ')}`;
    options.progress(
      `hashing credentials of ${count} devices (scrypt N=${BENCH_SCRYPT_N}, PBKDF2 for Mosquitto)`,
    );
    const fleet = await makeFleet(count);
    const results: ModeResult[] = [];
    for (const mode of modes)
      results.push(
        await runMode(
          mode,
          fleet,
          sizes,
          options.progress,
          { mosquitto: mosquittoPeer.bin, nats: natsPeer.bin },
          consumerReplicas === undefined ? {} : { consumerReplicas },
        ),
      );
    const scryptMs = await productionScryptMs();
    const base = results[0] as ModeResult;
    const rows = results.map((r) => [
      r.mode === 'embedded'
        ? 'hub, embedded aedes'
        : r.mode === 'nats'
          ? 'hub + NATS, 3 nodes'
          : 'hub + Mosquitto 2',
      `${millis(r.connectMs)} (${(r.connectMs / base.connectMs).toFixed(2)}×)`,
      `${r.desired}/${count}`,
      `${perSecond((r.events * 1000) / r.ingestMs)} (${(r.events / r.ingestMs / (base.events / base.ingestMs)).toFixed(2)}×)`,
      millis(r.p50),
      millis(r.p99),
      `${(r.hubBytesPerDevice / 1024).toFixed(1)} KiB`,
      `${(r.brokerBytesPerDevice / 1024).toFixed(1)} KiB`,
      String(r.resent),
      r.kill === null ? '-' : `${millis(r.kill.p50)} / ${millis(r.kill.max)}`,
      r.kill === null ? '-' : `${r.kill.desired}/${r.kill.victims}`,
      String(r.lost),
      String(r.duplicated),
      `${(r.uplinkBytes / r.events).toFixed(0)} B`,
      r.brokerCpuMs === null ? '-' : `${((r.brokerCpuMs * 1000) / r.events).toFixed(0)} µs`,
      `${((r.hubCpuMs * 1000) / r.events).toFixed(0)} µs`,
      r.visibleMs === null ? '' : millis(r.visibleMs),
    ]);
    return [
      `fleet: ${count} devices, ${events} ${lane === 'telemetry' ? 'telemetry events (device reports and drift summaries, alternately)' : 'events'} each in batches of ${perBatch}, one ack per batch`,
      `QoS of batches and subscriptions: what each hub's join tokens set (link.qos): ${results.map((r) => `${r.mode} ${r.qos}`).join(', ')}`,
      machine(),
      ...(modes.includes('nats')
        ? [
            `NATS MQTT: stream replicas 3, consumer replicas ${consumerReplicas ?? "3 (NATS's default: the streams')"}`,
          ]
        : []),
      '',
      table(
        [
          'broker',
          'connect storm',
          'desired',
          'ingest events/s',
          'ack p50',
          'ack p99',
          'hub mem/device',
          'broker mem/device',
          'resent',
          'reconnect p50 / max',
          'desired again',
          'lost',
          'duplicated',
          'uplink/event',
          'broker CPU/event',
          'hub CPU/event',
          'visible after',
        ],
        rows,
      ),
      ...missing,
      '',
      'Ratios are against the first broker in the same run. Devices, hubs and brokers share this',
      `machine's cores; the devices run in ${Math.ceil(count / perProcess)} child process${count > perProcess ? 'es' : ''} of at most ${perProcess} devices each`,
      '(--devices-per-process; each device is a socket there). hub / broker mem/device: growth of',
      "the hubs' RSS and of Mosquitto's or the three NATS nodes' RSS from before the storm to all",
      'connected, divided by the devices. Embedded and',
      'Mosquitto: one hub on SQLite (FULL sync). NATS: three nodes and two hub replicas (separate',
      'processes, one uplink queue group) on a fresh PostgreSQL database; once half the batches were',
      'acked, node n1 and replica 1 are SIGKILLed (never restarted). Reconnect: from the kill until each',
      'device of n1 was connected to another node and subscribed again; desired again: those of them',
      'that got their retained desired state on the new link. Devices resend an unacked batch with the',
      'same batch id after a reconnect, or when no ack came in 10 s (doubling per timeout in a row up',
      "to 80 s, jittered, as the agent's outbox). Lost / duplicated: per device, the stored rows and",
      'distinct seqs against the seqs 1..N it sent (every one acked), summed over the fleet.',
      "Hub / broker CPU/event: the hubs' and the broker processes' CPU time (a killed one up to its",
      'kill) from the first batch until the last effect is visible, per event (the embedded broker is',
      "in the hub's). Uplink/event: the devices' batch payload bytes (resends included) per event.",
      'Visible after (telemetry lane): from the last ack until every device',
      'last report is served by GET /v1/telemetry/devices.',
      `Device hashes use scrypt N=${BENCH_SCRYPT_N}; production enrollment uses N=16384, whose check took`,
      `${millis(scryptMs)} of one core here: the embedded broker pays it on every CONNECT (about`,
      `${((scryptMs * count) / 1000).toFixed(0)} core-seconds for this storm), Mosquitto pays PBKDF2-SHA512 x101 instead,`,
      'NATS bcrypt cost 4. NATS devices are spread round-robin over the three nodes (all on this machine).',
    ].join('\n');
  },
};
