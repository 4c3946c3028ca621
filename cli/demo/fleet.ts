import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HubEndpoint } from '../hub-client.js';
import { hubRequest } from '../hub-client.js';
import { type OutpostProcess, spawnOutpost, stopProcess } from './child-process.js';

/** A demo device: its enrollment and, while it runs, its agent process. */
export interface DemoAgent {
  id: string;
  secret: string;
  dataDir: string;
  proc?: OutpostProcess;
  apiUrl?: string;
  /** Broker URL this agent uses instead of the hub's own (the demo cable, see partition.ts). */
  mqttUrl?: string;
  /** Extra arguments for its agent process (the inference phase's `--config`). */
  extraArgs?: string[];
  /** Pid of the agent the launcher runs now (from its latest `ready`). */
  agentPid?: number;
}

/** Whether process `pid` still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILL to a launcher's process group (the launcher and its agent). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The hub and agents of one demo run, all separate processes under `workDir`. */
export class DemoFleet {
  readonly agents: DemoAgent[] = [];
  hubProc?: OutpostProcess;
  hub?: HubEndpoint;
  mqttUrl = '';

  constructor(readonly workDir: string) {}

  /** Starts the hub on free ports with a fresh admin token. */
  async startHub(): Promise<HubEndpoint> {
    const token = randomBytes(24).toString('hex');
    await mkdir(join(this.workDir, 'logs'), { recursive: true });
    const proc = spawnOutpost(
      [
        'hub',
        ...['--data-dir', join(this.workDir, 'hub')],
        ...['--http.host', '127.0.0.1', '--http.port', '0'],
        ...['--mqtt.host', '127.0.0.1', '--mqtt.port', '0'],
        ...['--log-level', 'warn'],
      ],
      { env: { OUTPOST_HUB_ADMIN_TOKEN: token }, logFile: join(this.workDir, 'logs', 'hub.log') },
    );
    this.hubProc = proc;
    const ready = await proc.ready;
    this.mqttUrl = String(ready.mqtt);
    this.hub = { url: String(ready.http), token };
    return this.hub;
  }

  /** Enrolls a device through the admin API, as `outpost devices add` does. */
  async enroll(id: string): Promise<DemoAgent> {
    const hub = this.requireHub();
    const created = await hubRequest<{ id: string; secret: string }>(hub, 'POST', '/v1/devices', {
      id,
      name: `demo device ${id}`,
      labels: { demo: 'true' },
    });
    const agent = { id: created.id, secret: created.secret, dataDir: join(this.workDir, created.id) };
    this.agents.push(agent);
    return agent;
  }

  /**
   * Starts (or restarts, on the same data directory) a device's agent as systemd runs it:
   * `outpost agent launch`, the launcher that runs the agent from an install slot and installs
   * the agent releases the hub rolls out. Its agent's `ready` announcements (one per start,
   * e.g. after an update) keep `apiUrl` current.
   */
  async startAgent(agent: DemoAgent): Promise<void> {
    const proc = spawnOutpost(
      [
        'agent',
        'launch',
        ...['--device-id', agent.id, '--data-dir', agent.dataDir],
        ...['--hub.mqtt-url', agent.mqttUrl ?? this.mqttUrl, '--api.port', '0'],
        ...['--link.reconnect-min-ms', '100', '--link.reconnect-max-ms', '2000'],
        ...['--outbox.ack-timeout-ms', '2000', '--log-level', 'warn'],
        ...(agent.extraArgs ?? []),
      ],
      {
        env: { OUTPOST_AGENT_DEVICE_SECRET: agent.secret },
        logFile: join(this.workDir, 'logs', `${agent.id}.log`),
        detached: true,
      },
    );
    agent.proc = proc;
    proc.child.on('message', (m: { type?: unknown; api?: unknown; pid?: unknown }) => {
      if (m?.type !== 'ready' || typeof m.api !== 'string') return;
      agent.apiUrl = m.api;
      if (typeof m.pid === 'number') agent.agentPid = m.pid;
    });
    const ready = await proc.ready;
    agent.apiUrl = String(ready.api);
    agent.agentPid = ready.pid;
  }

  /**
   * Kills an agent and its launcher with SIGKILL, as a power cut or the OOM killer would, and
   * waits until both are gone.
   */
  async killAgent(agent: DemoAgent): Promise<void> {
    if (!agent.proc) return;
    killGroup(agent.proc.child.pid);
    await agent.proc.exited;
    const pid = agent.agentPid;
    for (let i = 0; pid !== undefined && alive(pid) && i < 100; i++)
      await new Promise((r) => setTimeout(r, 20));
  }

  /** Stops every process gracefully (a launcher stops its agent first). */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.agents.map(async (a) => {
        if (!a.proc) return;
        await stopProcess(a.proc, 15_000);
        killGroup(a.proc.child.pid);
      }),
    );
    if (this.hubProc) await stopProcess(this.hubProc);
  }

  requireHub(): HubEndpoint {
    if (!this.hub) throw new Error('the hub is not started');
    return this.hub;
  }
}
