import { type ChildProcess, spawn } from 'node:child_process';
import { entryPoint } from '../lib/entry-point.js';
import type { FleetDevice } from './credentials.js';
import type { FleetLane } from './devices.js';
import type { ShardAcks, ShardAnswer, ShardCall, ShardReplies, ShardRequest } from './shard-protocol.js';

const SHARD = entryPoint('../fleet/shard-main');

/** One device shard process and its pending calls. */
class Shard {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited: string | undefined;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    onAcked: (count: number) => void,
  ) {
    child.on('message', (a: ShardAnswer | ShardAcks) => {
      if ('acked' in a) {
        onAcked(a.acked);
        return;
      }
      const call = this.pending.get(a.id);
      this.pending.delete(a.id);
      if (a.ok) call?.resolve(a.reply);
      else call?.reject(new Error(`${name}: ${a.error}`));
    });
    child.once('exit', (code, signal) => {
      this.exited = `${name} exited (${signal ?? `code ${code}`})`;
      for (const call of this.pending.values()) call.reject(new Error(this.exited));
      this.pending.clear();
    });
  }

  call<K extends ShardRequest['op']>(request: Extract<ShardRequest, { op: K }>): Promise<ShardReplies[K]> {
    if (this.exited !== undefined) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, request } satisfies ShardCall);
    });
  }

  async close(): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    // Devices end their links cleanly; a shard that does not exit in 30 s is killed.
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.call({ op: 'stop' }).catch(() => this.child.kill('SIGKILL'));
    await gone;
    clearTimeout(timer);
  }
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * The fleet's simulated devices, spread over child processes of at most `perProcess` devices
 * each (`--devices-per-process`): every device is a socket, and one process may hold no more
 * than `ulimit -n`.
 */
export class DeviceShards {
  private readonly shards: Shard[];
  private readonly parts: FleetDevice[][] = [];
  /** Batches acked over all shards, as they report them. */
  acked = 0;
  /** Hears of acked batches as soon as a shard reports them, with the running total. */
  onAcked: (total: number) => void = () => {};

  constructor(fleet: readonly FleetDevice[], perProcess: number) {
    for (let i = 0; i < fleet.length; i += perProcess) this.parts.push(fleet.slice(i, i + perProcess));
    this.shards = this.parts.map(
      (_, i) =>
        new Shard(
          `device shard ${i + 1}/${this.parts.length}`,
          spawn(process.execPath, [...SHARD.execArgv, SHARD.file], {
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          }),
          (count) => {
            this.acked += count;
            this.onAcked(this.acked);
          },
        ),
    );
  }

  get processes(): number {
    return this.shards.length;
  }

  private all<K extends ShardRequest['op']>(
    request: Extract<ShardRequest, { op: K }>,
  ): Promise<Array<ShardReplies[K]>> {
    return Promise.all(this.shards.map((s) => s.call(request)));
  }

  /**
   * Connects every device to `urls[start(i)]`, device `i` being `fleet-i`; `concurrency` is
   * the connections in flight over all shards. Returns how many attempts were retried.
   */
  async connect(urls: readonly string[], start: (i: number) => number, qos: 0 | 1, concurrency: number) {
    const each = Math.max(1, Math.ceil(concurrency / this.shards.length));
    const replies = await Promise.all(
      this.shards.map((s, k) =>
        s.call({
          op: 'connect',
          urls: [...urls],
          qos,
          concurrency: each,
          devices: (this.parts[k] as FleetDevice[]).map((device) => ({
            device,
            index: start(Number(device.id.slice('fleet-'.length))),
          })),
        }),
      ),
    );
    return sum(replies.map((r) => r.retried));
  }

  async status() {
    const all = await this.all({ op: 'status' });
    return {
      connected: sum(all.map((s) => s.connected)),
      withDesired: sum(all.map((s) => s.withDesired)),
      down: sum(all.map((s) => s.down)),
      lastError: all.find((s) => s.lastError !== undefined)?.lastError,
      victims: sum(all.map((s) => s.victims)),
      victimsBack: sum(all.map((s) => s.victimsBack)),
      victimsDone: sum(all.map((s) => s.victimsDone)),
    };
  }

  /** Every device sends its batches, each waiting for its ack; the ack latencies, ms. */
  async send(batches: number, perBatch: number, lane: FleetLane): Promise<number[]> {
    const all = await this.all({ op: 'send', batches, perBatch, lane });
    return all.flatMap((r) => r.latencies);
  }

  /** Marks the devices whose link in use is `url` (a node about to be killed); how many. */
  async markVictims(url: string): Promise<number> {
    return sum((await this.all({ op: 'markVictims', url })).map((r) => r.victims));
  }

  /** Waits up to `waitMs` for the marked devices to be back with desired state (see ShardConvergence). */
  async converged(killAt: number, waitMs: number) {
    const all = await this.all({ op: 'converged', killAt, waitMs });
    return {
      victims: sum(all.map((r) => r.victims)),
      reconnected: sum(all.map((r) => r.reconnected)),
      desired: sum(all.map((r) => r.desired)),
      times: all.flatMap((r) => r.times),
      reconnects: sum(all.map((r) => r.reconnects)),
    };
  }

  async totals() {
    const all = await this.all({ op: 'totals' });
    return {
      ids: all.flatMap((r) => r.ids),
      resent: sum(all.map((r) => r.resent)),
      sentBytes: sum(all.map((r) => r.sentBytes)),
    };
  }

  /** Ends every device's link and the shard processes. */
  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}
