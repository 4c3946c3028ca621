import { percentile } from '../lib/measure.js';
import { epochNow } from './shard-protocol.js';
import type { DeviceShards } from './shards.js';
import type { FleetStack, HubProcess } from './stack.js';

/** When the kill happened ({@link epochNow}) and how many devices were on the killed node. */
export interface KillPlan {
  killAt: number;
  victims: number;
}

/** How the fleet came back after the kill. */
export interface KillResult {
  /** Devices that were on the killed node. */
  victims: number;
  /** Of those: connected and subscribed again on a surviving node. */
  reconnected: number;
  /** Of those: received their retained desired state on the new link. */
  desired: number;
  /** From the kill until each victim was subscribed again, ms (over the reconnected ones). */
  p50: number;
  max: number;
  /** Reconnects of every device (devices on surviving nodes may lose their link too). */
  reconnects: number;
}

/**
 * SIGKILL of the cluster's first node and of `replica` at the same moment. The node is never
 * restarted: the two survivors carry the fleet, the other replica takes the whole uplink
 * (queue group) and the leases.
 */
export async function killNodeAndReplica(
  stack: FleetStack,
  devices: DeviceShards,
  replica: HubProcess,
): Promise<KillPlan> {
  const node = stack.nats?.nodes[0];
  if (node === undefined) throw new Error('the kill needs a NATS cluster');
  const victims = await devices.markVictims(node.mqttUrl);
  stack.cpu(); // the last CPU readings of the two about to die
  const killAt = epochNow();
  await Promise.all([node.kill(), replica.kill()]);
  return { killAt, victims };
}

/** How long the devices of the killed node have to come back. */
const CONVERGE_MS = 300_000;

/**
 * Waits (up to 5 min) until every device of the killed node is subscribed again and got its
 * retained desired state on the new link; reports what it has when the time runs out.
 */
export async function converged(
  plan: KillPlan,
  devices: DeviceShards,
  progress: (line: string) => void,
): Promise<KillResult> {
  const ticker = setInterval(() => {
    void devices.status().then(
      (s) =>
        progress(
          `waiting: ${s.victimsBack}/${s.victims} devices of the killed node back, ${s.victimsDone} with desired state`,
        ),
      () => undefined,
    );
  }, 15_000);
  const c = await devices.converged(plan.killAt, CONVERGE_MS).finally(() => clearInterval(ticker));
  const result: KillResult = {
    victims: c.victims,
    reconnected: c.reconnected,
    desired: c.desired,
    p50: c.times.length > 0 ? percentile(c.times, 50) : Number.NaN,
    max: c.times.length > 0 ? Math.max(...c.times) : Number.NaN,
    reconnects: c.reconnects,
  };
  if (result.desired < result.victims)
    progress(
      `after 5 min, ${result.reconnected}/${result.victims} back, ${result.desired} with desired state`,
    );
  return result;
}
