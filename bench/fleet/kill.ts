import { percentile } from '../lib/measure.js';
import type { SimDevice } from './devices.js';
import type { FleetStack, HubProcess } from './stack.js';

/** What was killed, when, and which devices were on the killed node. */
export interface KillPlan {
  killAt: number;
  victims: SimDevice[];
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
  devices: readonly SimDevice[],
  replica: HubProcess,
): Promise<KillPlan> {
  const node = stack.nats?.nodes[0];
  if (node === undefined) throw new Error('the kill needs a NATS cluster');
  const victims = devices.filter((d) => d.urls[d.urlIndex] === node.mqttUrl);
  stack.cpu(); // the last CPU readings of the two about to die
  const killAt = performance.now();
  await Promise.all([node.kill(), replica.kill()]);
  return { killAt, victims };
}

/**
 * Waits (up to 5 min) until every device of the killed node is subscribed again and got its
 * retained desired state on the new link; reports what it has when the time runs out.
 */
export async function converged(
  plan: KillPlan,
  devices: readonly SimDevice[],
  progress: (line: string) => void,
): Promise<KillResult> {
  const done = (v: SimDevice) => v.reconnects > 0 && v.desiredOnLink > 0;
  const start = Date.now();
  let shown = start;
  while (!plan.victims.every(done) && Date.now() < start + 300_000) {
    await new Promise((r) => setTimeout(r, 50));
    if (Date.now() - shown > 15_000) {
      shown = Date.now();
      const back = plan.victims.filter((v) => v.reconnects > 0).length;
      progress(
        `waiting: ${back}/${plan.victims.length} devices of the killed node back, ${plan.victims.filter(done).length} with desired state`,
      );
    }
  }
  const back = plan.victims.filter((v) => v.reconnects > 0);
  const times = back.map((v) => (v.reconnectedAt as number) - plan.killAt);
  const result: KillResult = {
    victims: plan.victims.length,
    reconnected: back.length,
    desired: plan.victims.filter(done).length,
    p50: times.length > 0 ? percentile(times, 50) : Number.NaN,
    max: times.length > 0 ? Math.max(...times) : Number.NaN,
    reconnects: devices.reduce((n, d) => n + d.reconnects, 0),
  };
  if (result.desired < result.victims)
    progress(
      `after 5 min, ${result.reconnected}/${result.victims} back, ${result.desired} with desired state`,
    );
  return result;
}
