/**
 * Helpers of the over-the-air update tests: bundles built from this checkout's dist with a
 * patched version (dependencies linked, so they run only here), pushed to a real hub, and
 * agents run under the real launcher (`outpost agent launch`) as process groups.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAgentBundle } from '../../cli/agent-bundle.js';
import type { Hub } from '../../hub/index.js';
import { REPO_ROOT } from '../compat/previous-release.js';
import { waitFor } from './fixtures.js';
import { api } from './hub.js';

/** The built CLI the launcher and its agents run. */
export const MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** A bundle of this checkout as release `version` (`broken`: its entry exits 1). */
export async function testBundle(dir: string, version: string, broken = false) {
  return buildAgentBundle({
    packageDir: REPO_ROOT,
    out: join(dir, `outpost-agent-${version}${broken ? '-broken' : ''}.tgz`),
    pack: 'files',
    deps: 'link',
    version,
    broken,
  });
}

/** Pushes a bundle file to the hub's registry (`POST /v1/agents/releases`). */
export async function pushBundle(hub: Hub, file: string) {
  const res = await fetch(`${hub.http.url}/v1/agents/releases`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/octet-stream' },
    body: readFileSync(file),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 201) throw new Error(`push ${file}: ${res.status} ${JSON.stringify(body)}`);
  return body as { version: string; platform: string; sha256: string; size: number };
}

/** An agent run by `outpost agent launch` in a process group of its own. */
export interface LaunchedAgent {
  child: ChildProcess;
  /** The local API of the agent that announced itself last. */
  apiUrl: () => string | undefined;
  /** Every `ready` announcement so far (one per agent start). */
  readies: Array<{ pid: number; api: string }>;
  exited: Promise<number | string>;
  /** SIGKILL to the launcher and its agent together (a power cut, or systemd killing the cgroup). */
  killGroup(): Promise<void>;
  /** SIGTERM to the launcher, which stops its agent; SIGKILL to the group after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Writes the agent config of a device for the launcher tests and returns its path. */
export function writeAgentConfig(
  dir: string,
  hub: Hub,
  creds: { id: string; secret: string },
  extra: Record<string, unknown> = {},
): string {
  const file = join(dir, `${creds.id}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      deviceId: creds.id,
      deviceSecret: creds.secret,
      dataDir: join(dir, creds.id),
      hub: { mqttUrl: hub.mqtt.url },
      api: { port: 0 },
      link: { reconnectMinMs: 50, reconnectMaxMs: 500 },
      outbox: { ackTimeoutMs: 1000 },
      logLevel: process.env.OUTPOST_TEST_AGENT_LOG ?? 'warn',
      ...extra,
    }),
  );
  return file;
}

/** Starts `outpost agent launch --config FILE`, its output appended to `logFile`. */
export function launchAgent(configFile: string, logFile: string): LaunchedAgent {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [MAIN, 'agent', 'launch', '--config', configFile], {
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
  });
  const readies: LaunchedAgent['readies'] = [];
  child.on('message', (m: { type?: string; pid?: number; api?: string }) => {
    if (m?.type === 'ready' && typeof m.api === 'string') readies.push({ pid: m.pid ?? -1, api: m.api });
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // already gone
    }
  };
  return {
    child,
    readies,
    apiUrl: () => readies.at(-1)?.api,
    exited,
    async killGroup() {
      group('SIGKILL');
      await exited;
      // The agent of the group may outlive the launcher by a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => group('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      group('SIGKILL');
    },
  };
}

/** The device as the hub shows it. */
export async function deviceOf(hub: Hub, id: string) {
  // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
  return (await api(hub, 'GET', `/v1/devices/${id}`)).body as any;
}

/** Waits until the hub's view of the device satisfies `check`. */
export function waitForDevice(
  hub: Hub,
  id: string,
  // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
  check: (d: any) => boolean,
  what: string,
  timeoutMs = 60_000,
) {
  return waitFor(
    async () => {
      const d = await deviceOf(hub, id);
      return check(d) ? d : undefined;
    },
    what,
    timeoutMs,
  );
}

/** Posts events `first…first+count-1` to an agent's local API; returns the numbers accepted. */
export async function postEvents(apiUrl: string, deviceId: string, first: number, count: number) {
  const accepted: number[] = [];
  for (let n = first; n < first + count; n++) {
    try {
      const res = await fetch(new URL('/v1/events', apiUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'test.reading', lane: 'results', body: { uid: `${deviceId}/${n}`, n } }),
      });
      await res.arrayBuffer();
      if (res.status === 202) accepted.push(n);
    } catch {
      // The agent is restarting.
    }
  }
  return accepted;
}

/** Every `test.reading` uid the hub holds for a device, with how often. */
export async function readingsAtHub(hub: Hub, id: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ lane: 'results', limit: '5000', ...(after ? { after } : {}) });
    const page = (await api(hub, 'GET', `/v1/devices/${id}/events?${q}`)).body as {
      events: Array<{ type: string; body: { uid?: string } }>;
      next?: string | null;
    };
    for (const e of page.events)
      if (e.type === 'test.reading' && e.body?.uid) out.set(e.body.uid, (out.get(e.body.uid) ?? 0) + 1);
    if (!page.next || page.events.length === 0) return out;
    after = String(page.next);
  }
}
