import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAgentBundle } from '../agent-bundle.js';
import { type HubEndpoint, hubRequest } from '../hub-client.js';
import { postEvents } from './agent-client.js';
import type { DemoAgent } from './fleet.js';
import { waitFor } from './poll.js';

/** The demo's `agentUpdate` section. */
export interface DemoAgentUpdate {
  /** 0.2.0 exits at start: its canary's launcher reverted it, the rollout rolled back. */
  broken: {
    version: string;
    rolledBack: boolean;
    reason: string | null;
    device: string | null;
    rollout: string;
  };
  /** 0.2.1 reached the whole fleet. */
  good: { version: string; devices: string[]; rollout: string; state: string };
  /** Event numbers each device's application had accepted during the updates. */
  accepted: Record<string, number[]>;
  problems: string[];
}

export const BROKEN_AGENT = '0.2.0';
export const GOOD_AGENT = '0.2.1';

/** The root of this outpost package (where package.json and dist/ are). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the outpost package root');
    dir = parent;
  }
  return dir;
}

/** The node_modules directory this package's dependencies resolve from. */
function nodeModulesDir(root: string): string {
  const pino = createRequire(join(root, 'package.json')).resolve('pino/package.json');
  return dirname(dirname(pino));
}

// biome-ignore lint/suspicious/noExplicitAny: the hub's JSON status
type Status = any;

async function rolloutToEnd(hub: HubEndpoint, body: Record<string, unknown>, timeoutMs: number) {
  const created = await hubRequest<{ id: string }>(hub, 'POST', '/v1/rollouts', body);
  const status: Status = await waitFor(
    `the rollout of agent ${String(body.version)} to end`,
    async () => {
      const s: Status = await hubRequest(hub, 'GET', `/v1/rollouts/${created.id}`);
      return s.rollout.state === 'running' ? undefined : s;
    },
    { timeoutMs, intervalMs: 200 },
  );
  return { id: created.id, status };
}

// biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
async function device(hub: HubEndpoint, id: string): Promise<any> {
  return hubRequest(hub, 'GET', `/v1/devices/${id}`);
}

/**
 * Over-the-air updates of the agents themselves. Two releases are made from this very dist,
 * with a patched version number (their dependencies linked, so they run on this machine only):
 * 0.2.0, whose entry point exits 1 at start, and a good 0.2.1. Both are pushed to the hub's
 * registry, which signs them. 0.2.0 is rolled out first: its canary's launcher installs it,
 * sees it exit before confirming its health, reverts to the release it ran and restarts it;
 * that agent reports why, and the rollout's `failed` gate rolls it back before any other
 * device gets it. 0.2.1 then reaches the whole fleet. The devices' applications keep posting
 * events throughout: the final check counts them exactly once like every other event.
 */
export async function runAgentUpdatePhase(
  hub: HubEndpoint,
  agents: readonly DemoAgent[],
  workDir: string,
  firstEvent: number,
  step: (what: string) => void,
): Promise<DemoAgentUpdate> {
  const problems: string[] = [];
  const root = packageRoot();
  const common = {
    packageDir: root,
    pack: 'files' as const,
    deps: 'link' as const,
    nodeModules: nodeModulesDir(root),
  };
  const broken = await buildAgentBundle({
    ...common,
    out: join(workDir, `outpost-agent-${BROKEN_AGENT}.tgz`),
    version: BROKEN_AGENT,
    broken: true,
  });
  const good = await buildAgentBundle({
    ...common,
    out: join(workDir, `outpost-agent-${GOOD_AGENT}.tgz`),
    version: GOOD_AGENT,
  });
  for (const b of [broken, good]) {
    const res = await fetch(new URL('/v1/agents/releases', hub.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.token}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(b.file),
    });
    if (res.status !== 201)
      throw new Error(`push agent ${b.info.version}: ${res.status} ${await res.text()}`);
  }
  step(
    `agent releases ${BROKEN_AGENT} (exits at start) and ${GOOD_AGENT} bundled from this dist (${(good.size / 1024).toFixed(0)} KiB each) and pushed; the hub signed them`,
  );

  // The devices' applications keep posting while their agents are replaced.
  const accepted: Record<string, number[]> = Object.fromEntries(agents.map((a) => [a.id, []]));
  let running = true;
  const apps = agents.map(async (agent, i) => {
    let n = firstEvent;
    while (running) {
      const url = agent.apiUrl;
      if (url) {
        const posted = await postEvents(url, agent.id, n, 5, { concurrency: 1 });
        accepted[agent.id]?.push(...posted.accepted);
        n += 5;
      }
      await new Promise((r) => setTimeout(r, 150 + i * 20));
    }
  });

  try {
    const first = await rolloutToEnd(
      hub,
      { target: 'agent', version: BROKEN_AGENT, stages: [33, 100], bakeMs: '2s', deviceDeadlineMs: '60s' },
      90_000,
    );
    const canary: string | null = first.status.devices[0]?.deviceId ?? null;
    let reason: string | null = null;
    if (canary !== null) {
      const d = await waitFor(
        `${canary} back on its release, reporting the revert`,
        async () => {
          const x = await device(hub, canary);
          return x.online && x.reported?.update?.failed?.version === BROKEN_AGENT ? x : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      ).catch(() => undefined);
      reason = d?.reported?.update?.failed?.reason ?? null;
    }
    const rolledBack = first.status.rollout.state === 'rolled-back';
    step(
      `rollout ${first.id}: agent ${BROKEN_AGENT} reached canary ${canary}; its launcher reverted it by itself (${reason ?? 'no reason reported'}); ` +
        `the rollout ${rolledBack ? `rolled back at stage ${first.status.rollout.stage + 1}` : `ended ${first.status.rollout.state}`}`,
    );
    if (!rolledBack || first.status.rollout.stage !== 0)
      problems.push(
        `the broken agent ${BROKEN_AGENT} was not rolled back at its canary (${first.status.rollout.state})`,
      );
    if (reason === null) problems.push(`the canary never reported why ${BROKEN_AGENT} was reverted`);
    const others = first.status.devices.length;
    if (others !== 1) problems.push(`the broken agent reached ${others} devices, not only its canary`);

    const second = await rolloutToEnd(
      hub,
      {
        target: 'agent',
        version: GOOD_AGENT,
        stages: [100],
        bakeMs: 0,
        gates: ['online_s<=60', 'crashes<1'],
        deviceDeadlineMs: '90s',
      },
      120_000,
    );
    const ids = agents.map((a) => a.id);
    const on = await waitFor(
      `every device on agent ${GOOD_AGENT}`,
      async () => {
        const versions = await Promise.all(
          ids.map(async (id) => (await device(hub, id)).reported?.agentVersion),
        );
        return versions.every((v) => v === GOOD_AGENT) ? ids : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch(async () => {
      const out: string[] = [];
      for (const id of ids) if ((await device(hub, id)).reported?.agentVersion === GOOD_AGENT) out.push(id);
      return out;
    });
    step(
      `rollout ${second.id}: agent ${GOOD_AGENT} ${second.status.rollout.state} — ${on.length}/${ids.length} devices run it, each confirmed healthy by its launcher`,
    );
    if (second.status.rollout.state !== 'completed')
      problems.push(
        `the rollout of agent ${GOOD_AGENT} ended ${second.status.rollout.state}: ${second.status.rollout.reason}`,
      );
    for (const id of ids) if (!on.includes(id)) problems.push(`${id} does not run agent ${GOOD_AGENT}`);
    return {
      broken: { version: BROKEN_AGENT, rolledBack, reason, device: canary, rollout: first.id },
      good: { version: GOOD_AGENT, devices: on, rollout: second.id, state: second.status.rollout.state },
      accepted,
      problems,
    };
  } finally {
    running = false;
    await Promise.all(apps);
  }
}

/** Summary lines of the phase. */
export function agentUpdateLines(u: Pick<DemoAgentUpdate, 'broken' | 'good'>): string[] {
  return [
    '',
    'over-the-air agent updates:',
    `  ${u.broken.version} (broken)  canary ${u.broken.device ?? '–'}: ${u.broken.rolledBack ? 'reverted by its launcher, rollout ROLLED BACK' : 'NOT rolled back'}${u.broken.reason ? ` — ${u.broken.reason}` : ''}`,
    `  ${u.good.version}           ${u.good.state.toUpperCase()}: ${u.good.devices.join(', ') || 'no device'}`,
  ];
}
