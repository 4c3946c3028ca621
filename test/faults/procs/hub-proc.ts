import { type Child, entryPoint, spawnChild } from './spawn.js';

/** The `ready` message `outpost hub` sends over IPC once it listens. */
interface HubReady {
  type: 'ready';
  pid: number;
  http: string;
  mqtt: string;
}

/** How long a starting hub may take to listen, ms (a safety net, not a timing). */
const READY_TIMEOUT_MS = 30_000;

/**
 * The real hub as a separate process: `outpost hub` (the CLI's entry point, compiled or
 * from source) on a data directory that outlives it, listening on free loopback ports.
 * Every start gets new ports: trials route the agents through a fault proxy whose target
 * follows the hub.
 */
export class HubProcess {
  readonly #proc: Child<HubReady>;
  readonly http: string;
  readonly mqtt: string;

  private constructor(proc: Child<HubReady>, ready: HubReady) {
    this.#proc = proc;
    this.http = ready.http;
    this.mqtt = ready.mqtt;
  }

  /** Starts `outpost hub --data-dir dataDir` and waits until it listens. */
  static async start(dataDir: string, adminToken: string, logFile: string): Promise<HubProcess> {
    const args = [
      'hub',
      '--data-dir',
      dataDir,
      '--http.host',
      '127.0.0.1',
      '--http.port',
      '0',
      '--mqtt.host',
      '127.0.0.1',
      '--mqtt.port',
      '0',
      '--log-level',
      process.env.OUTPOST_TEST_LOG ?? 'warn',
    ];
    const proc = spawnChild<HubReady>(entryPoint('../../../cli/main'), args, {
      env: { OUTPOST_HUB_ADMIN_TOKEN: adminToken },
      logFile,
    });
    try {
      const ready = await proc.waitMessage(
        (m): m is HubReady => m.type === 'ready',
        'the hub to listen',
        READY_TIMEOUT_MS,
      );
      return new HubProcess(proc, ready);
    } catch (err) {
      await proc.kill9();
      throw err;
    }
  }

  get pid(): number {
    return this.#proc.pid;
  }

  /** SIGKILL: no clean shutdown, the broker's sessions and in-flight messages vanish. */
  kill9(): Promise<number | string> {
    return this.#proc.kill9();
  }

  /** Sends SIGKILL without waiting. */
  killNow(): void {
    this.#proc.child.kill('SIGKILL');
  }

  /** SIGTERM (clean shutdown: clients disconnected, store closed); SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<number | string> {
    if (this.#proc.dead) return this.#proc.exited;
    this.#proc.child.kill('SIGTERM');
    const timer = setTimeout(() => void this.#proc.kill9(), graceMs);
    const code = await this.#proc.exited;
    clearTimeout(timer);
    return code;
  }
}
