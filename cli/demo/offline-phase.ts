import type { HubEndpoint } from '../hub-client.js';
import { agentStatus, postEvents } from './agent-client.js';
import type { DemoAgent } from './fleet.js';
import { listDevices } from './hub-view.js';
import type { DemoCable } from './partition.js';
import { waitFor } from './poll.js';

/** What one agent did while its link was down. */
export interface OfflineOutcome {
  device: string;
  /** Event numbers its application had accepted while offline. */
  accepted: number[];
  /** Events waiting in its outbox when the link came back. */
  queued: number;
  /** Events the hub acknowledged after the link came back (the queue, drained). */
  drained: number;
  /** Inputs its application had classified while offline, and how many the device answered itself. */
  inferred: number;
  servedLocally: number;
}

/** Where the offline phase reports and what it posts. */
export interface OfflinePhaseOptions {
  hub: HubEndpoint;
  agent: DemoAgent;
  cable: DemoCable;
  lane: string;
  /** Event numbers `first … first+count-1` (the application's own ids). */
  first: number;
  count: number;
  /** Model inputs the application classifies while the link is down (the model stays local). */
  inferInputs: ReadonlyArray<Record<string, unknown>>;
  model: string;
  step(what: string): void;
}

async function online(hub: HubEndpoint, id: string): Promise<boolean | undefined> {
  const device = (await listDevices(hub)).find((d) => d.id === id);
  return device?.online;
}

/**
 * Pulls one agent's network cable, lets its application keep posting (the agent queues
 * durably), shows the hub sees it offline, plugs the cable back and waits until the agent
 * has drained everything it queued. Exactly-once is checked later with every other event.
 */
export async function runOfflinePhase(o: OfflinePhaseOptions): Promise<OfflineOutcome> {
  const { hub, agent, cable, lane } = o;
  const api = agent.apiUrl ?? '';
  cable.unplug();
  await waitFor(`${agent.id} offline at the hub`, async () =>
    (await online(hub, agent.id)) === false ? true : undefined,
  );
  o.step(`${agent.id}'s network cable pulled: the hub sees it offline (its last will)`);

  const ackedBefore = (await agentStatus(api)).outbox[lane]?.acked ?? 0;
  const posted = await postEvents(api, agent.id, o.first, o.count);
  let servedLocally = 0;
  for (const inputs of o.inferInputs) {
    const res = await fetch(new URL(`/v1/models/${o.model}/infer`, api), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs }),
    });
    const answer = (await res.json()) as { route?: { servedBy?: string } };
    if (!res.ok) throw new Error(`offline inference answered ${res.status}: ${JSON.stringify(answer)}`);
    if ((answer.route?.servedBy ?? 'local') === 'local') servedLocally++;
  }
  const queued = (await agentStatus(api)).outbox[lane]?.pending ?? 0;
  o.step(
    `${agent.id} kept working offline: its application posted ${posted.accepted.length} events ` +
      `and classified ${o.inferInputs.length} digits (${servedLocally} answered on the device); ` +
      `${queued} events queued durably in its outbox`,
  );

  cable.plugIn();
  const status = await waitFor(`${agent.id} back online and drained`, async () => {
    const s = await agentStatus(api);
    const up = await online(hub, agent.id);
    return s.link.connected && up && (s.outbox[lane]?.pending ?? 0) === 0 ? s : undefined;
  });
  const drained = (status.outbox[lane]?.acked ?? 0) - ackedBefore;
  o.step(`${agent.id}'s cable plugged back in: it reconnected and drained ${drained} events to the hub`);
  return {
    device: agent.id,
    accepted: posted.accepted,
    queued,
    drained,
    inferred: o.inferInputs.length,
    servedLocally,
  };
}
