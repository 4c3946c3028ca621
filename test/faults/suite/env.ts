import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HubApi } from '../check/hub-view.js';
import { FaultProxy } from '../fault-proxy.js';
import { AgentLauncher } from '../procs/agent-proc.js';
import { bundledAgentChild } from '../procs/bundle.js';
import { HubProcess } from '../procs/hub-proc.js';

/** Attempts at enrolling a device while hub trials restart the hub. */
const ENROLL_ATTEMPTS = 5;

/**
 * What every trial shares: one hub process (restarted in place by the trials that kill it),
 * the admin API, an agent launcher with a warm spare, and the fault proxies of the trials'
 * agents, which follow the hub to its new port after every restart.
 */
export class SuiteEnv {
  readonly workDir: string;
  readonly logDir: string;
  readonly hubDir: string;
  readonly api: HubApi;
  readonly launcher: AgentLauncher;
  readonly #token = randomBytes(24).toString('base64url');
  readonly #proxies = new Set<FaultProxy>();
  #hub: HubProcess | undefined;
  #hubStarts = 0;
  /** Since when the hub has been down (taken down and not yet listening again); undefined while up. */
  #downSince: number | undefined;
  /** Time the hub was down in finished outages, ms. */
  #downMs = 0;
  #names = 0;

  private constructor(workDir: string, agentChild: { file: string; execArgv: string[] }) {
    this.workDir = workDir;
    this.logDir = join(workDir, 'logs');
    this.hubDir = join(workDir, 'hub');
    mkdirSync(this.logDir, { recursive: true });
    this.api = new HubApi('', this.#token);
    this.launcher = new AgentLauncher(this.logDir, agentChild);
  }

  /** Bundles the agent child (see {@link bundledAgentChild}) and starts the hub in `workDir/hub`. */
  static async start(workDir: string): Promise<SuiteEnv> {
    const env = new SuiteEnv(workDir, await bundledAgentChild());
    await env.hubUp();
    return env;
  }

  /** True while the hub process runs. */
  get hubRunning(): boolean {
    return this.#hub !== undefined;
  }

  /**
   * Time the hub has been down since the suite started, ms: from each {@link hubDown} until
   * the restarted hub listens again, the current outage included. A trial's deadline does not
   * count time another trial kept the hub down.
   */
  hubDownMs(): number {
    return this.#downMs + (this.#downSince === undefined ? 0 : Date.now() - this.#downSince);
  }

  /**
   * Enrolls a new device `prefix-N` (N never used before in this run) and returns its name
   * and secret. A hub killed mid-request by a hub trial leaves it unknown whether the device
   * was created (its secret would then be lost), so a failed attempt is retried under the
   * next name.
   */
  async enroll(prefix: string): Promise<{ name: string; secret: string }> {
    for (let attempt = 1; ; attempt++) {
      this.#names += 1;
      const name = `${prefix}-${this.#names}`;
      try {
        return { name, secret: await this.api.enroll(name) };
      } catch (err) {
        if (attempt >= ENROLL_ATTEMPTS) throw err;
      }
    }
  }

  /** A fault proxy in front of the hub's broker, retargeted on every hub restart. */
  async proxy(): Promise<FaultProxy> {
    const proxy = await FaultProxy.start();
    this.#proxies.add(proxy);
    // The hub may have restarted while the proxy was starting: aim it now.
    proxy.setTarget(this.#hub?.mqtt);
    return proxy;
  }

  /** Resets every connection through every proxy (every trial's agent); returns how many. */
  cutAll(): number {
    let n = 0;
    for (const proxy of this.#proxies) n += proxy.cut();
    return n;
  }

  /** Closes a proxy made by {@link proxy}. */
  async dropProxy(proxy: FaultProxy): Promise<void> {
    this.#proxies.delete(proxy);
    await proxy.close();
  }

  /**
   * Takes the hub down: `kill` = SIGKILL (a crash: nothing flushed, no will, no goodbye),
   * else SIGTERM (clean shutdown, the embedded broker closes every connection). Proxies
   * refuse new connections until {@link hubUp}.
   */
  async hubDown(kill: boolean): Promise<void> {
    const hub = this.#hub;
    this.#hub = undefined;
    this.#downSince ??= Date.now();
    for (const proxy of this.#proxies) proxy.setTarget(undefined);
    if (hub) await (kill ? hub.kill9() : hub.stop());
  }

  /** Starts the hub on its data directory (new ports) and points every proxy at it. */
  async hubUp(): Promise<void> {
    if (this.#hub) return;
    this.#hubStarts += 1;
    const hub = await HubProcess.start(
      this.hubDir,
      this.#token,
      join(this.logDir, `hub-${this.#hubStarts}.log`),
    );
    this.#hub = hub;
    this.api.url = hub.http;
    for (const proxy of this.#proxies) proxy.setTarget(hub.mqtt);
    if (this.#downSince !== undefined) this.#downMs += Date.now() - this.#downSince;
    this.#downSince = undefined;
  }

  /**
   * Kills the hub and the spare agent at once, synchronously (on SIGINT; the agent children
   * exit by themselves when their IPC channel to the suite closes).
   */
  killNow(): void {
    this.#hub?.killNow();
    this.launcher.killNow();
  }

  /** Stops everything (the hub cleanly). */
  async close(): Promise<void> {
    for (const proxy of this.#proxies) await proxy.close();
    this.#proxies.clear();
    await this.launcher.close();
    await this.hubDown(false);
  }
}
