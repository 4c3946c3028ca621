import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubRequest } from '../hub-client.js';
import { agentStatus, postEvents } from './agent-client.js';
import { type DemoAgentUpdate, runAgentUpdatePhase } from './agent-update-phase.js';
import { digitInputs, prepareDemoModels } from './digits-models.js';
import { type DemoFederated, runFederatedPhase } from './federated-phase.js';
import { DemoFleet } from './fleet.js';
import { allEvents, ingestStats, listDevices } from './hub-view.js';
import {
  DEMO_PROFILES,
  type DemoInference,
  demoInferenceConfig,
  runInferencePhase,
} from './inference-phase.js';
import { runOfflinePhase } from './offline-phase.js';
import { DemoCable } from './partition.js';
import { waitFor } from './poll.js';
import type { DemoReport } from './report.js';
import { type DemoRollouts, rolloutAgentConfig, runRolloutPhase } from './rollout-phase.js';

export interface DemoOptions {
  /** Agents to run (default 3). */
  agents: number;
  /** Events each agent's application sends (default 200). */
  eventsPerAgent: number;
  /** Keep the work directory (logs, databases) instead of deleting it. */
  keep: boolean;
  /** Receives one line per step as it happens. */
  progress: (line: string) => void;
}

const LANE = 'telemetry';

/**
 * `outpost demo`: a hub and N agents as separate processes on free ports; enroll,
 * come online, apply desired state, send events, SIGKILL one agent mid-burst and restart it,
 * then prove every event the agents stored reached the hub exactly once.
 */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const started = Date.now();
  const workDir = await mkdtemp(join(tmpdir(), 'outpost-demo-'));
  const fleet = new DemoFleet(workDir);
  let cable: DemoCable | undefined;
  const timeline: DemoReport['timeline'] = [];
  const step = (what: string) => {
    timeline.push({ atMs: Date.now() - started, what });
    options.progress(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${what}`);
  };
  try {
    // A real model, trained here on real MNIST digits before the hub starts (the
    // hub serves the bigger one from its data dir).
    const models = await prepareDemoModels(join(workDir, 'models'), join(workDir, 'hub'), 100);
    step(
      `digits classifiers trained in TypeScript on real MNIST (device model ${(models.trainAccuracy * 100).toFixed(0)}% on its training digits; ` +
        `int8 variant ${(models.int8Bytes / 1024).toFixed(0)} KiB vs ${(models.fp32Bytes / 1024).toFixed(0)} KiB fp32)`,
    );
    const hub = await fleet.startHub();
    step(`hub up (pid ${fleet.hubProc?.child.pid}): ${hub.url}, broker ${fleet.mqttUrl}`);

    const ids = Array.from({ length: options.agents }, (_, i) => `demo-${i + 1}`);
    // Agents trust the hub's signing key and fetch artifacts from it.
    const keys = await hubRequest<{ keys: Array<{ publicKeyPem: string }> }>(hub, 'GET', '/v1/keys');
    const delivery = rolloutAgentConfig(
      hub.url,
      keys.keys.map((k) => k.publicKeyPem),
    );
    for (const [i, id] of ids.entries()) {
      const agent = await fleet.enroll(id);
      const configFile = join(workDir, `${id}.config.json`);
      const profile = DEMO_PROFILES[i % DEMO_PROFILES.length] ?? 'x86-64-cpu';
      await writeFile(
        configFile,
        JSON.stringify({
          ...(demoInferenceConfig(profile, hub.url, models.threshold) as object),
          ...delivery,
        }),
      );
      agent.extraArgs = ['--config', configFile];
    }
    step(`enrolled ${ids.join(', ')} (each got a secret once; the hub keeps a scrypt hash)`);

    // The first agent reaches the broker through a cable the demo can pull.
    const wanderer = fleet.agents[0];
    if (!wanderer) throw new Error('the demo needs at least one agent');
    cable = await DemoCable.start(fleet.mqttUrl);
    wanderer.mqttUrl = cable.url;
    await Promise.all(fleet.agents.map((a) => fleet.startAgent(a)));
    await waitFor('every agent online at the hub', async () => {
      const devices = await listDevices(hub);
      return devices.filter((d) => d.online).length === ids.length ? true : undefined;
    });
    step(`${ids.length} agents started as separate processes; all online at the hub`);

    const revs = new Map<string, number>();
    for (const id of ids) {
      const desired = await hubRequest<{ rev: number }>(hub, 'PUT', `/v1/devices/${id}/desired`, {
        config: { reportIntervalS: 30, labels: { site: 'demo', role: id } },
      });
      revs.set(id, desired.rev);
    }
    await waitFor('desired state applied by every agent', async () => {
      const devices = await listDevices(hub);
      return devices.every((d) => (d.reported?.appliedRev ?? 0) >= (revs.get(d.id) ?? 0)) ? true : undefined;
    });
    step('desired state (report interval, labels) published retained; every agent applied and reported it');

    const inference = await runInferencePhase(fleet.agents, models, fleet.agents.at(-1) ?? wanderer, step);

    // V1 to the fleet, a broken v2 caught at its canary and rolled back, v3 everywhere.
    const rollouts = await runRolloutPhase(hub, fleet.agents, step);

    // Non-IID MNIST slices on the devices, FedAvg rounds, the better model rolled out.
    const federated = await runFederatedPhase(hub, fleet.agents, step);

    const [victim, ...steady] = [...fleet.agents].reverse();
    if (!victim) throw new Error('the demo needs at least one agent');
    const n = options.eventsPerAgent;
    const steadyPosts = steady.map((a) => postEvents(a.apiUrl ?? '', a.id, 0, n));

    // The victim's application sends a burst; half-way through, the agent is SIGKILLed while
    // requests are still in flight, and the application's remaining requests fail.
    let killed: Promise<void> | undefined;
    let pendingAtKill = 0;
    const victimApi = victim.apiUrl ?? '';
    const burst = await postEvents(victimApi, victim.id, 0, n, {
      onAccepted: (accepted) => {
        if (accepted === Math.floor(n / 2) && !killed) {
          killed = agentStatus(victimApi)
            .then((s) => {
              pendingAtKill = s.outbox[LANE]?.pending ?? 0;
            })
            .catch(() => undefined)
            .then(() => fleet.killAgent(victim));
        }
        return false;
      },
    });
    await killed;
    step(
      `${victim.id} SIGKILLed mid-burst: ${burst.accepted.length} events accepted, ` +
        `${pendingAtKill} still unacknowledged in its outbox, ${burst.refused.length} requests failed`,
    );
    await waitFor(`${victim.id} offline at the hub (last will)`, async () => {
      const devices = await listDevices(hub);
      return devices.find((d) => d.id === victim.id)?.online === false ? true : undefined;
    });
    step(`hub saw ${victim.id} go offline through its last will`);

    await fleet.startAgent(victim);
    await waitFor(`${victim.id} back online`, async () => {
      const devices = await listDevices(hub);
      return devices.find((d) => d.id === victim.id)?.online ? true : undefined;
    });
    step(
      `${victim.id} restarted on the same store; online again, resending what the hub had not acknowledged`,
    );
    const rest = await postEvents(victim.apiUrl ?? '', victim.id, n, n - burst.accepted.length);
    const steadyOutcomes = await Promise.all(steadyPosts);

    const accepted = new Map<string, number[]>([
      ...steady.map((a, i) => [a.id, steadyOutcomes[i]?.accepted ?? []] as [string, number[]]),
      [victim.id, [...burst.accepted, ...rest.accepted]],
    ]);

    const offline =
      wanderer === victim
        ? undefined
        : await runOfflinePhase({
            hub,
            agent: wanderer,
            cable,
            lane: LANE,
            first: n,
            count: n,
            model: 'digits',
            inferInputs: Array.from({ length: 10 }, (_, d) => digitInputs(models.test, d)),
            step,
          });
    if (offline) accepted.set(wanderer.id, [...(accepted.get(wanderer.id) ?? []), ...offline.accepted]);

    // Over-the-air updates of the agents themselves: a broken release reverted at its
    // canary, a good one to the whole fleet, events still exactly once.
    const agentUpdate = await runAgentUpdatePhase(hub, fleet.agents, workDir, 10 * n, step);
    for (const [id, numbers] of Object.entries(agentUpdate.accepted))
      accepted.set(id, [...(accepted.get(id) ?? []), ...numbers]);

    await waitFor('every outbox drained', async () => {
      const statuses = await Promise.all(fleet.agents.map((a) => agentStatus(a.apiUrl ?? '')));
      return statuses.every((s) => (s.outbox[LANE]?.pending ?? 0) === 0) ? statuses : undefined;
    });
    step('every agent outbox drained: the hub acknowledged each event after storing it');

    return await verify(fleet, accepted, {
      started,
      timeline,
      workDir,
      crash: {
        device: victim.id,
        acceptedBeforeKill: burst.accepted.length,
        pendingAtKill,
        failedRequests: burst.refused.length,
      },
      offline: offline && {
        device: offline.device,
        queued: offline.queued,
        drained: offline.drained,
        inferred: offline.inferred,
        servedLocally: offline.servedLocally,
      },
      inference,
      rollouts,
      federated,
      agentUpdate,
    });
  } finally {
    await fleet.stopAll();
    await cable?.close();
    if (!options.keep) await rm(workDir, { recursive: true, force: true });
  }
}

/** Compares what the agents durably stored with what the hub holds, event by event. */
async function verify(
  fleet: DemoFleet,
  accepted: Map<string, number[]>,
  context: Pick<DemoReport, 'timeline' | 'workDir' | 'crash' | 'offline'> & {
    started: number;
    inference: DemoInference;
    rollouts: DemoRollouts;
    federated: DemoFederated;
    agentUpdate: DemoAgentUpdate;
  },
): Promise<DemoReport> {
  const hub = fleet.requireHub();
  const problems: string[] = [
    ...context.rollouts.problems,
    ...context.federated.problems,
    ...context.agentUpdate.problems,
  ];
  const perDevice: DemoReport['perDevice'] = [];
  for (const agent of fleet.agents) {
    const status = await agentStatus(agent.apiUrl ?? '');
    const sent = status.outbox[LANE]?.enqueued ?? 0;
    const events = await allEvents(hub, agent.id, LANE);
    const uids = new Map<string, number>();
    for (const e of events) {
      // The lane also carries the agents' own telemetry (per-model metrics; device
      // telemetry): those have no uid and are told apart by their seq.
      const bodyUid = (e.body as { uid?: unknown } | null)?.uid;
      const uid = bodyUid === undefined ? `seq:${e.seq}` : String(bodyUid);
      uids.set(uid, (uids.get(uid) ?? 0) + 1);
    }
    const duplicates = [...uids.values()].reduce((sum, c) => sum + (c - 1), 0);
    const missing = (accepted.get(agent.id) ?? []).filter((n) => !uids.has(`${agent.id}/${n}`));
    if (missing.length) problems.push(`${agent.id}: ${missing.length} accepted events never reached the hub`);
    if (duplicates) problems.push(`${agent.id}: ${duplicates} duplicate events at the hub`);
    if (uids.size !== sent)
      problems.push(`${agent.id}: agent stored ${sent} events, hub holds ${uids.size} distinct`);
    perDevice.push({
      id: agent.id,
      accepted: accepted.get(agent.id)?.length ?? 0,
      sent,
      ingested: events.length,
      duplicates,
      lost: Math.max(0, sent - uids.size),
    });
  }
  const devices = await listDevices(hub);
  const online = devices.filter((d) => d.online).length;
  if (online !== fleet.agents.length)
    problems.push(`${online} of ${fleet.agents.length} devices online at the end`);
  const stats = await ingestStats(hub);
  const sum = (key: 'accepted' | 'sent' | 'ingested' | 'duplicates' | 'lost') =>
    perDevice.reduce((total, d) => total + d[key], 0);
  return {
    ok: problems.length === 0,
    problems,
    durationMs: Date.now() - context.started,
    devices: { enrolled: fleet.agents.length, online },
    events: {
      accepted: sum('accepted'),
      sent: sum('sent'),
      ingested: sum('ingested'),
      duplicates: sum('duplicates'),
      lost: sum('lost'),
      redeliveriesIgnored: stats.duplicates,
    },
    crash: context.crash,
    ...(context.offline ? { offline: offlineSummary(context.offline, perDevice) } : {}),
    inference: context.inference,
    rollouts: context.rollouts,
    federated: context.federated,
    agentUpdate: {
      broken: context.agentUpdate.broken,
      good: context.agentUpdate.good,
      problems: context.agentUpdate.problems,
    },
    perDevice,
    timeline: context.timeline,
    workDir: context.workDir,
  };
}

/** The offline phase's figures, with that device's duplicates and losses from the final check. */
function offlineSummary(
  offline: NonNullable<DemoReport['offline']>,
  perDevice: DemoReport['perDevice'],
): NonNullable<DemoReport['offline']> {
  const device = perDevice.find((d) => d.id === offline.device);
  return { ...offline, duplicates: device?.duplicates ?? 0, lost: device?.lost ?? 0 };
}
