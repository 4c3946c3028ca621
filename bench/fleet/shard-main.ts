/**
 * A device shard: a child process of the fleet bench holding a share of its simulated devices.
 * It answers the bench's requests (see shard-protocol.ts) over the IPC channel and exits when
 * told to stop or when the bench goes away.
 */
import { connectDevice, pool, reconnectDelay, type SimDevice, sendEvents, stopDevice } from './devices.js';
import type {
  ShardAcks,
  ShardAnswer,
  ShardCall,
  ShardConvergence,
  ShardReplies,
  ShardRequest,
  ShardStatus,
} from './shard-protocol.js';

const devices: SimDevice[] = [];
/** Acks not yet reported to the bench, which hears of them once per turn of the event loop. */
let unreported = 0;

function countAck() {
  if (unreported++ > 0) return;
  setImmediate(() => {
    process.send?.({ acked: unreported } satisfies ShardAcks);
    unreported = 0;
  });
}
let victims: SimDevice[] = [];

const backAgain = (v: SimDevice) => v.reconnects > 0;
const desiredAgain = (v: SimDevice) => v.reconnects > 0 && v.desiredOnLink > 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Connects its devices, at most `concurrency` at a time. Like the agent, a refused subscription
 * (a NATS node whose JetStream consumer creation timed out under the storm) or a connection
 * closed before its CONNACK (a node still persisting the session) drops the connection and
 * tries again after the agent's reconnect delay, on the same node (the round-robin spread is
 * what is measured), for up to 5 min.
 */
async function connect(request: Extract<ShardRequest, { op: 'connect' }>): Promise<ShardReplies['connect']> {
  let retried = 0;
  await pool(request.devices, request.concurrency, async ({ device, index }) => {
    const giveUp = Date.now() + 300_000;
    for (let attempt = 0; ; attempt++) {
      try {
        devices.push(await connectDevice(request.urls, index, device, request.qos));
        return;
      } catch (err) {
        if (Date.now() > giveUp) throw err;
        retried++;
        await reconnectDelay(attempt);
      }
    }
  });
  return { retried };
}

function status(): ShardStatus {
  const down = devices.filter((d) => d.client.connected !== true);
  return {
    connected: devices.length,
    withDesired: devices.filter((d) => d.desired > 0).length,
    down: down.length,
    ...(down[0]?.lastError === undefined ? {} : { lastError: down[0].lastError }),
    victims: victims.length,
    victimsBack: victims.filter(backAgain).length,
    victimsDone: victims.filter(desiredAgain).length,
  };
}

async function send(request: Extract<ShardRequest, { op: 'send' }>): Promise<ShardReplies['send']> {
  const latencies: number[] = [];
  await Promise.all(
    devices.map((d) => sendEvents(d, request.batches, request.perBatch, latencies, request.lane, countAck)),
  );
  return { latencies };
}

/** Waits up to `waitMs` until every victim is subscribed again with its desired state. */
async function converged(request: Extract<ShardRequest, { op: 'converged' }>): Promise<ShardConvergence> {
  const until = Date.now() + request.waitMs;
  while (!victims.every(desiredAgain) && Date.now() < until) await sleep(50);
  const back = victims.filter(backAgain);
  return {
    victims: victims.length,
    reconnected: back.length,
    desired: victims.filter(desiredAgain).length,
    times: back.map((v) => (v.reconnectedAt as number) - request.killAt),
    reconnects: devices.reduce((n, d) => n + d.reconnects, 0),
  };
}

async function answer(request: ShardRequest): Promise<unknown> {
  switch (request.op) {
    case 'connect':
      return connect(request);
    case 'status':
      return status();
    case 'send':
      return send(request);
    case 'markVictims':
      victims = devices.filter((d) => d.urls[d.urlIndex] === request.url);
      return { victims: victims.length };
    case 'converged':
      return converged(request);
    case 'totals':
      return {
        ids: devices.map((d) => d.device.id),
        resent: devices.reduce((n, d) => n + d.resent, 0),
        sentBytes: devices.reduce((n, d) => n + d.sentBytes, 0),
      };
    case 'stop':
      await pool(devices, 500, (d) => stopDevice(d));
      return {};
  }
}

process.on('message', (call: ShardCall) => {
  answer(call.request).then(
    (reply) => {
      process.send?.({ id: call.id, ok: true, reply } satisfies ShardAnswer);
      if (call.request.op === 'stop') process.disconnect();
    },
    (err: unknown) =>
      process.send?.({
        id: call.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      } satisfies ShardAnswer),
  );
});
// The bench is gone (finished, or killed): nothing here is worth keeping.
process.on('disconnect', () => process.exit(0));
