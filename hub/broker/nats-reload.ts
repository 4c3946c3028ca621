import { readFile } from 'node:fs/promises';

/** What one reload did: the PIDs signalled, and each target or PID that could not be. */
export interface NatsReloadResult {
  signalled: number[];
  failed: string[];
}

/** The PIDs that `targets` name (each a PID file or a PID); an entry naming none is in `failed`. */
export async function resolveNatsPids(
  targets: readonly string[],
): Promise<{ pids: number[]; failed: string[] }> {
  const pids: number[] = [];
  const failed: string[] = [];
  for (const target of targets) {
    try {
      const text = /^\d+$/.test(target) ? target : (await readFile(target, 'utf8')).trim();
      const pid = Number(text);
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no PID in ${target}`);
      pids.push(pid);
    } catch (err) {
      failed.push(`${target}: ${(err as Error).message}`);
    }
  }
  return { pids, failed };
}

/**
 * Makes nats-server nodes on this machine reread their config (SIGHUP, what
 * `nats-server --signal reload=PIDFILE` sends): each entry of `targets` is a PID file or a
 * PID. A node's reload is atomic: it parses the whole config first and keeps the old one when
 * that fails.
 *
 * Before a reload reaches a node process it has not seen, the reloader first runs `warm` (the
 * hub's MQTT login to every node, `warmNatsMqtt`): nats-server 2.9.10 breaks a node's MQTT
 * for good when its first MQTT client arrives while it reloads, and a node restarted since the
 * last reload (a new PID in its PID file) has had no MQTT client yet.
 */
export class NatsReloader {
  readonly #warmed = new Set<number>();

  constructor(
    private readonly targets: readonly string[],
    private readonly warm: () => Promise<void>,
  ) {}

  /** Runs `warm` now and counts the nodes' current processes as warmed. */
  async warmAll(): Promise<void> {
    const { pids } = await resolveNatsPids(this.targets);
    await this.warm();
    for (const pid of pids) this.#warmed.add(pid);
  }

  /** Signals every node to reload, after `warm` when one of them is a process not yet warmed. */
  async reload(): Promise<NatsReloadResult & { warmed: boolean }> {
    const { pids, failed } = await resolveNatsPids(this.targets);
    const fresh = pids.some((pid) => !this.#warmed.has(pid));
    if (fresh) {
      await this.warm();
      for (const pid of pids) this.#warmed.add(pid);
    }
    const signalled: number[] = [];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGHUP');
        signalled.push(pid);
      } catch (err) {
        failed.push(`${pid}: ${(err as Error).message}`);
      }
    }
    return { signalled, failed, warmed: fresh };
  }
}
