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

  /** Starts (or restarts, on the same data directory) a device's agent process. */
  async startAgent(agent: DemoAgent): Promise<void> {
    const proc = spawnOutpost(
      [
        'agent',
        ...['--device-id', agent.id, '--data-dir', agent.dataDir],
        ...['--hub.mqtt-url', agent.mqttUrl ?? this.mqttUrl, '--api.port', '0'],
        ...['--link.reconnect-min-ms', '100', '--link.reconnect-max-ms', '2000'],
        ...['--outbox.ack-timeout-ms', '2000', '--log-level', 'warn'],
        ...(agent.extraArgs ?? []),
      ],
      {
        env: { OUTPOST_AGENT_DEVICE_SECRET: agent.secret },
        logFile: join(this.workDir, 'logs', `${agent.id}.log`),
      },
    );
    agent.proc = proc;
    agent.apiUrl = String((await proc.ready).api);
  }

  /** Kills an agent with SIGKILL, as a power cut or the OOM killer would, and waits for it. */
  async killAgent(agent: DemoAgent): Promise<void> {
    if (!agent.proc) return;
    agent.proc.child.kill('SIGKILL');
    await agent.proc.exited;
  }

  /** Stops every process gracefully. */
  async stopAll(): Promise<void> {
    await Promise.all(this.agents.map((a) => (a.proc ? stopProcess(a.proc) : undefined)));
    if (this.hubProc) await stopProcess(this.hubProc);
  }

  requireHub(): HubEndpoint {
    if (!this.hub) throw new Error('the hub is not started');
    return this.hub;
  }
}
