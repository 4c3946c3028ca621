import { join } from 'node:path';
import type { AgentConfigInput, AgentStatus } from '../../../agent/index.js';
import type { Lane } from '../../../shared/index.js';
import type { ChildMessage, EnqueueCommand } from '../children/protocol.js';
import { type Child, entryPoint, spawnChild } from './spawn.js';

/** What the application was told about one event: stored as (lane, seq), or refused. */
export interface Receipt {
  uid: string;
  lane: Lane;
  /** The seq the agent answered; undefined when it refused the event. */
  seq?: number;
  /** The refusal's error code. */
  refused?: string;
}

/** Safety nets (not timings): a child loading its modules, an agent starting, a status. */
const WARM_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;
const STATUS_TIMEOUT_MS = 60_000;

type Msg<T extends ChildMessage['type']> = Extract<ChildMessage, { type: T }>;
const is =
  <T extends ChildMessage['type']>(type: T) =>
  (m: ChildMessage): m is Msg<T> =>
    m.type === type;

interface WarmChild {
  proc: Child<ChildMessage>;
  logFile: string;
  warm: Promise<unknown>;
}

/**
 * Starts agent child processes (`children/agent-child.ts`), keeping `spares` more in
 * reserve with their modules already loaded, so that restarting an agent after a SIGKILL
 * costs the agent's own start (store, API, link) rather than node's start-up — the trials
 * stay cheap. Every child it starts is either handed out or killed by {@link close}.
 */
export class AgentLauncher {
  readonly #logDir: string;
  readonly #spares: WarmChild[] = [];
  readonly #poolSize: number;
  readonly #entry: { file: string; execArgv: string[] };
  #count = 0;
  #closed = false;

  /**
   * Child logs go to `logDir/agent-N.log`; `spares` warm children are kept (default 2). `entry`
   * is the child's module (default: `children/agent-child` as compiled or from source).
   */
  constructor(logDir: string, entry = entryPoint('../children/agent-child'), spares = 2) {
    this.#logDir = logDir;
    this.#entry = entry;
    this.#poolSize = spares;
  }

  /** Starts an agent on `config` and waits until it is ready; receipts are appended to `receipts`. */
  async launch(config: AgentConfigInput, receipts: Receipt[]): Promise<AgentProcess> {
    const spare = this.#take();
    const agent = new AgentProcess(spare.proc, spare.logFile, receipts);
    try {
      await spare.warm;
      const ready = spare.proc.waitMessage(is('ready'), `agent ready (${spare.logFile})`, READY_TIMEOUT_MS);
      spare.proc.send({ op: 'start', config });
      agent.epoch = (await ready).epoch;
    } catch (err) {
      await spare.proc.kill9();
      throw err;
    }
    return agent;
  }

  /**
   * Starts an agent on `config` like {@link launch}, but SIGKILLs it `killAfterMs` after
   * the start command (while it opens its store, starts its API, connects or resends).
   * Resolves with whether it had reported ready by then.
   */
  async launchAndKill(config: AgentConfigInput, receipts: Receipt[], killAfterMs: number): Promise<boolean> {
    const spare = this.#take();
    const agent = new AgentProcess(spare.proc, spare.logFile, receipts);
    let ready = false;
    spare.proc.onMessage((m) => {
      if (m.type === 'ready') ready = true;
    });
    try {
      await spare.warm;
      spare.proc.send({ op: 'start', config });
      await new Promise((resolve) => setTimeout(resolve, killAfterMs));
    } finally {
      await agent.kill9();
    }
    return ready;
  }

  /** Sends SIGKILL to the spare children without waiting. */
  killNow(): void {
    this.#closed = true;
    for (const spare of this.#spares) spare.proc.child.kill('SIGKILL');
  }

  /** Kills the spare children; no more are started. */
  async close(): Promise<void> {
    this.#closed = true;
    const spares = this.#spares.splice(0);
    await Promise.all(spares.map((spare) => spare.proc.kill9()));
  }

  /** The oldest spare (or a fresh child when there is none); the pool is refilled. */
  #take(): WarmChild {
    if (this.#closed) throw new Error('agent launcher closed');
    const spare = this.#spares.shift() ?? this.#spawn();
    while (this.#spares.length < this.#poolSize) this.#spares.push(this.#spawn());
    return spare;
  }

  #spawn(): WarmChild {
    this.#count += 1;
    const logFile = join(this.#logDir, `agent-${this.#count}.log`);
    const proc = spawnChild<ChildMessage>(this.#entry, [], { logFile });
    const warm = proc.waitMessage(is('warm'), `a warm agent child (${logFile})`, WARM_TIMEOUT_MS);
    warm.catch(() => undefined);
    return { proc, logFile, warm };
  }
}

/**
 * One running agent child process on a given store. Every receipt the application got
 * (enqueued or refused) is appended to `receipts`, which the caller keeps across restarts of
 * the same store.
 */
export class AgentProcess {
  readonly #proc: Child<ChildMessage>;
  readonly logFile: string;
  #statusId = 0;
  epoch = '';
  /** Receipts received so far per enqueue tag. */
  readonly progress = new Map<string, number>();
  /** Fatal errors the child reported. */
  readonly fatals: string[] = [];
  /** Enqueue loops this process finished. */
  readonly #finished = new Set<string>();

  constructor(proc: Child<ChildMessage>, logFile: string, receipts: Receipt[]) {
    this.#proc = proc;
    this.logFile = logFile;
    proc.onMessage((m) => {
      if (m.type === 'fatal') this.fatals.push(m.message);
      if (m.type === 'enqueue-done') this.#finished.add(m.tag);
      if (m.type !== 'enqueued' && m.type !== 'refused') return;
      receipts.push(
        m.type === 'enqueued'
          ? { uid: m.uid, lane: m.lane, seq: m.seq }
          : { uid: m.uid, lane: m.lane, refused: m.code },
      );
      this.progress.set(m.tag, (this.progress.get(m.tag) ?? 0) + 1);
    });
  }

  get pid(): number {
    return this.#proc.pid;
  }

  get dead(): boolean {
    return this.#proc.dead;
  }

  /** Starts an enqueue loop in the child (receipts arrive as it goes). */
  enqueue(cmd: Omit<EnqueueCommand, 'op'>): boolean {
    this.progress.set(cmd.tag, 0);
    return this.#proc.send({ op: 'enqueue', ...cmd });
  }

  /** Resolves once the application got `count` receipts of enqueue loop `tag`. */
  async waitReceipts(tag: string, count: number, timeoutMs: number): Promise<void> {
    if ((this.progress.get(tag) ?? 0) >= count) return;
    await this.#proc.waitMessage(
      (m): m is Msg<'enqueued'> =>
        (m.type === 'enqueued' || m.type === 'refused') &&
        m.tag === tag &&
        (this.progress.get(tag) ?? 0) >= count,
      `${count} receipts of enqueue loop ${tag}`,
      timeoutMs,
    );
  }

  /** Resolves when the child finished the enqueue loop `tag` (at once if it has). */
  async enqueueDone(tag: string, timeoutMs: number): Promise<void> {
    if (this.#finished.has(tag)) return;
    await this.#proc.waitMessage(
      (m): m is Msg<'enqueue-done'> => m.type === 'enqueue-done' && m.tag === tag,
      `the end of enqueue loop ${tag}`,
      timeoutMs,
    );
  }

  /**
   * Sets the agent's wall clock `wallOffsetMs` off the real one and moves its monotonic
   * source `monoAdvanceMs` ahead (see the `clock` command); resolves once applied.
   */
  async moveClock(wallOffsetMs: number, monoAdvanceMs: number): Promise<void> {
    const applied = this.#proc.waitMessage(is('clock'), 'the clock offsets applied', STATUS_TIMEOUT_MS);
    this.#proc.send({ op: 'clock', wallOffsetMs, monoAdvanceMs });
    await applied;
  }

  /** The agent's status (what `GET /v1/status` returns). */
  async status(): Promise<AgentStatus> {
    const id = ++this.#statusId;
    const reply = this.#proc.waitMessage(
      (m): m is Msg<'status'> => m.type === 'status' && m.id === id,
      'an agent status',
      STATUS_TIMEOUT_MS,
    );
    this.#proc.send({ op: 'status', id });
    return (await reply).status as AgentStatus;
  }

  /** SIGKILL (no cleanup of any kind); resolves once the process is gone. */
  kill9(): Promise<number | string> {
    return this.#proc.kill9();
  }

  /** Closes the agent cleanly (offline status, clean disconnect); SIGKILL after `graceMs`. */
  async close(graceMs = 10_000): Promise<number | string> {
    if (this.#proc.dead) return this.#proc.exited;
    this.#proc.send({ op: 'close' });
    const timer = setTimeout(() => void this.#proc.kill9(), graceMs);
    const code = await this.#proc.exited;
    clearTimeout(timer);
    return code;
  }
}
