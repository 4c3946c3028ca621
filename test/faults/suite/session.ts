import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfigInput, AgentStatus } from '../../../agent/index.js';
import { LANES, type Lane } from '../../../shared/index.js';
import { dropsAnswered, readAgentStore } from '../check/agent-db.js';
import { checkHubLedger } from '../check/hub-ledger.js';
import { checkInvariant, type Tally } from '../check/invariant.js';
import type { EnqueueCommand } from '../children/protocol.js';
import type { FaultProxy } from '../fault-proxy.js';
import type { AgentProcess, Receipt } from '../procs/agent-proc.js';
import type { SuiteEnv } from './env.js';

/** Outcome of the invariant check of one store. */
export interface CheckResult {
  tally: Tally;
  problems: string[];
}

/** Agent settings a trial may vary (fast reconnects and ack timeouts are always on). */
export type SessionTuning = Partial<Pick<AgentConfigInput, 'outbox' | 'durability' | 'link' | 'telemetry'>>;

/** Polling period while waiting for a drain, ms. */
const POLL_MS = 30;
/** Safety net for the hub's answer about the last drops once drained, ms. */
const ANSWER_TIMEOUT_MS = 15_000;
/**
 * A status answered this late means the agent (or the suite) stood still meanwhile: a
 * synchronous SQLite commit held up by a stalled disk, a starved CPU. Ms.
 */
const LATE_ANSWER_MS = 1_000;
/**
 * The most a drain deadline moves for time the agent stood still or the hub was down, ms (a
 * hung agent still fails).
 */
const MAX_DRAIN_CREDIT_MS = 180_000;
/**
 * Before a drain is reported as failed, the status is read once more this long after the
 * deadline: an agent that stood still answers the first request after its stall before its
 * overdue timers (the ping's deadline among them) have run, so that answer can be stale. Ms.
 */
const FRESH_STATUS_DELAY_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One agent store under test: an enrolled device, a data directory that outlives the agent
 * processes started on it, a fault proxy between the agent and the hub, and the receipts the
 * application got. The invariant is checked per store.
 */
export class StoreSession {
  readonly name: string;
  readonly dataDir: string;
  readonly proxy: FaultProxy;
  readonly receipts: Receipt[] = [];
  readonly #env: SuiteEnv;
  readonly #config: AgentConfigInput;
  #agent: AgentProcess | undefined;
  #nextOrdinal = 0;
  /** Enqueue loops started on the running agent process (they die with it). */
  readonly #loops = new Set<string>();
  #tags = 0;

  /** The settings the store's agents run with (beyond the suite's defaults). */
  readonly tuning: SessionTuning;

  private constructor(
    env: SuiteEnv,
    name: string,
    proxy: FaultProxy,
    config: AgentConfigInput,
    tuning: SessionTuning,
  ) {
    this.#env = env;
    this.name = name;
    this.proxy = proxy;
    this.#config = config;
    this.tuning = tuning;
    this.dataDir = config.dataDir ?? '';
  }

  /**
   * Enrolls a new device `prefix-N`, makes its data directory and proxy. The agent is not
   * started.
   */
  static async open(env: SuiteEnv, prefix: string, tuning: SessionTuning = {}): Promise<StoreSession> {
    const { name, secret } = await env.enroll(prefix);
    const dataDir = join(env.workDir, 'agents', name);
    mkdirSync(dataDir, { recursive: true });
    const proxy = await env.proxy();
    const config: AgentConfigInput = {
      deviceId: name,
      deviceSecret: secret,
      dataDir,
      hub: { mqttUrl: proxy.url },
      api: { host: '127.0.0.1', port: 0 },
      logLevel: 'warn',
      ...tuning,
      link: {
        keepaliveS: 5,
        connectTimeoutMs: 2000,
        reconnectMinMs: 20,
        reconnectMaxMs: 250,
        // Dead links found by the application-level ping within 2.5 s.
        pingIntervalMs: 1000,
        pingTimeoutMs: 1500,
        ...tuning.link,
      },
      outbox: { ackTimeoutMs: 1000, ...tuning.outbox },
    };
    return new StoreSession(env, name, proxy, config, tuning);
  }

  /** The running agent (throws when none runs). */
  get agent(): AgentProcess {
    if (!this.#agent || this.#agent.dead) throw new Error(`${this.name}: no agent running`);
    return this.#agent;
  }

  /** True while an agent process runs on this store. */
  get running(): boolean {
    return this.#agent !== undefined && !this.#agent.dead;
  }

  /** Starts an agent process on the store (after a kill: the restart on the same store). */
  async start(): Promise<AgentProcess> {
    this.#loops.clear();
    this.#agent = await this.#env.launcher.launch(this.#config, this.receipts);
    return this.#agent;
  }

  /**
   * Has the running agent enqueue `count` events; returns the loop's tag. Ordinals continue
   * across the store's life, so enqueue order is checkable at the hub.
   */
  enqueue(plan: Omit<EnqueueCommand, 'op' | 'tag' | 'firstOrdinal'>): string {
    this.#tags += 1;
    const tag = `${this.name}.${this.#tags}`;
    const firstOrdinal = this.#nextOrdinal;
    this.#nextOrdinal += plan.count;
    if (!this.agent.enqueue({ ...plan, tag, firstOrdinal })) throw new Error(`${this.name}: agent gone`);
    this.#loops.add(tag);
    return tag;
  }

  /**
   * Starts an agent process on the store and SIGKILLs it `killAfterMs` later, wherever its
   * start has got to. Resolves with whether it had reported ready.
   */
  async startAndKill(killAfterMs: number): Promise<boolean> {
    if (this.running) throw new Error(`${this.name}: an agent already runs`);
    return this.#env.launcher.launchAndKill(this.#config, this.receipts, killAfterMs);
  }

  /**
   * Cuts the agent off the hub: its proxy resets every connection and refuses new ones;
   * resolves once the agent itself says it is disconnected.
   */
  async goOffline(timeoutMs = 15_000): Promise<void> {
    this.proxy.refuse(true);
    this.proxy.cut();
    await this.#waitLink(false, timeoutMs);
  }

  /** Lets the agent reach the hub again and waits until it says it is connected. */
  async goOnline(timeoutMs = 15_000): Promise<void> {
    this.proxy.heal();
    await this.#waitLink(true, timeoutMs);
  }

  async #waitLink(connected: boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.agent.status()).link.connected !== connected) {
      if (Date.now() > deadline)
        throw new Error(`${this.name}: link not ${connected ? 'up' : 'down'} after ${timeoutMs} ms`);
      await sleep(POLL_MS);
    }
  }

  /** The receipts of one enqueue loop (by its tag). */
  receiptsOf(tag: string): Receipt[] {
    return this.receipts.filter((r) => r.uid.startsWith(`${tag}.`));
  }

  /** Kills the running agent with SIGKILL. */
  async kill9(): Promise<void> {
    await this.#agent?.kill9();
    this.#agent = undefined;
    this.#loops.clear();
  }

  /**
   * Waits until the running agent has nothing pending and no unconfirmed drop in any lane
   * (the hub acknowledged or answered everything); fails after `timeoutMs` with a fresh
   * status. The deadline is a safety net for an agent that does not deliver, so it counts
   * neither the time the agent stood still (a status answered late: a machine that freezes
   * every process for a while under a synchronous commit on a stalled disk) nor the time the
   * hub was down (another trial's restart, a slow hub start on a loaded machine); together
   * they move it by at most {@link MAX_DRAIN_CREDIT_MS}.
   */
  async waitDrained(timeoutMs: number): Promise<AgentStatus> {
    const started = Date.now();
    const hubDownAtStart = this.#env.hubDownMs();
    const stalls = { count: 0, ms: 0 };
    const credit = () => Math.min(MAX_DRAIN_CREDIT_MS, stalls.ms + this.#env.hubDownMs() - hubDownAtStart);
    // Drained means nothing more to come: the running agent's enqueue loops must be over.
    for (const tag of this.#loops) await this.agent.enqueueDone(tag, timeoutMs);
    let last: AgentStatus | undefined;
    for (;;) {
      const agent = this.agent;
      if (agent.fatals.length > 0) throw new Error(`${this.name}: agent failed: ${agent.fatals.join('; ')}`);
      const asked = Date.now();
      last = await agent.status();
      const answerMs = Date.now() - asked;
      if (answerMs > LATE_ANSWER_MS) {
        stalls.count += 1;
        stalls.ms += answerMs;
      }
      const settled = (lane: Lane) => last?.outbox[lane].pending === 0 && last.outbox[lane].unconfirmed === 0;
      if (LANES.every(settled)) return last;
      if (Date.now() > started + timeoutMs + credit()) {
        const hubDown = this.#env.hubDownMs() - hubDownAtStart;
        const extra = credit();
        await sleep(FRESH_STATUS_DELAY_MS);
        const fresh = await agent.status().catch(() => last as AgentStatus);
        const credited = [
          stalls.count > 0 ? `the agent stood still ${stalls.count} times, ${stalls.ms} ms in all` : '',
          hubDown > 0 ? `the hub was down ${hubDown} ms` : '',
        ].filter(Boolean);
        throw new Error(
          `${this.name}: not drained after ${timeoutMs} ms` +
            (credited.length > 0 ? ` (and ${extra} ms more: ${credited.join(', ')})` : '') +
            `: outbox ${JSON.stringify(fresh.outbox)}, link ${JSON.stringify(fresh.link)} (see ${agent.logFile})`,
        );
      }
      await sleep(POLL_MS);
    }
  }

  /** Checks the invariant between the store's file, the hub and the receipts. */
  async check(): Promise<CheckResult> {
    // A drop that emptied a lane is answered by the hub just after the outbox looks drained.
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    let snapshot = readAgentStore(this.dataDir);
    while (!dropsAnswered(snapshot) && Date.now() < deadline) {
      await sleep(POLL_MS);
      snapshot = readAgentStore(this.dataDir);
    }
    const hubEvents = await this.#env.api.events(this.name, snapshot.epoch);
    const { tally, problems } = checkInvariant({ snapshot, hubEvents, receipts: this.receipts });
    problems.push(...(await checkHubLedger(this.#env.api, this.name, snapshot)));
    return { tally, problems };
  }

  /** Stops the agent cleanly and closes the proxy. */
  async close(): Promise<void> {
    await this.#agent?.close();
    this.#agent = undefined;
    await this.#env.dropProxy(this.proxy);
  }
}
