/**
 * A child process running one real agent for the fault suite. The config,
 * the commands and the progress travel over IPC (see `protocol.ts`). The suite kills this
 * process with SIGKILL at arbitrary instants.
 */
import { performance } from 'node:perf_hooks';
import { type Logger, pino } from 'pino';
import { type Agent, AgentConfigSchema, createAgent } from '../../../agent/index.js';
import { isOutpostError } from '../../../shared/index.js';
import { Prng } from '../prng.js';
import {
  type ChildCommand,
  type ChildMessage,
  type EnqueueCommand,
  WORKLOAD_EVENT_TYPE,
} from './protocol.js';

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Reports a fatal error to the suite, then exits 1 (once the message is out, or after 1 s). */
function fatal(message: string): void {
  setTimeout(() => process.exit(1), 1000).unref();
  if (!process.send?.({ type: 'fatal', message } satisfies ChildMessage, () => process.exit(1)))
    process.exit(1);
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function enqueueAll(agent: Agent, cmd: EnqueueCommand): Promise<void> {
  const prng = new Prng(cmd.seed);
  const pad = cmd.padBytes > 0 ? 'x'.repeat(cmd.padBytes) : undefined;
  for (let i = 0; i < cmd.count; i++) {
    const lane = prng.pick(cmd.lanes);
    const o = cmd.firstOrdinal + i;
    const uid = `${cmd.tag}.${i}`;
    try {
      const { seq } = agent.enqueue({
        type: WORKLOAD_EVENT_TYPE,
        lane,
        body: pad ? { uid, o, pad } : { uid, o },
      });
      send({ type: 'enqueued', tag: cmd.tag, uid, lane, seq });
    } catch (err) {
      if (!isOutpostError(err)) throw err;
      send({ type: 'refused', tag: cmd.tag, uid, lane, code: err.code });
    }
    if (cmd.paceEvery > 0 && (i + 1) % cmd.paceEvery === 0 && cmd.paceMs > 0) await sleep(cmd.paceMs);
    else await nextTurn();
  }
  send({ type: 'enqueue-done', tag: cmd.tag });
}

/** Period of the event-loop watch, and the lateness it reports, ms. */
const LOOP_TICK_MS = 250;
const LOOP_STALL_MS = 1000;

/**
 * Logs every stall of this process's event loop longer than {@link LOOP_STALL_MS} (a tick that
 * came that late): a stalled loop (a synchronous SQLite commit on a slow disk, a starved CPU)
 * stops the agent's link and its ping with it, and a failed trial's log then says so.
 */
function watchEventLoop(logger: Logger): void {
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const lateMs = now - last - LOOP_TICK_MS;
    last = now;
    if (lateMs > LOOP_STALL_MS) logger.warn({ lateMs: Math.round(lateMs) }, 'event loop stalled');
  }, LOOP_TICK_MS).unref();
}

/** Starts the agent once the suite sends its config, and serves the suite's commands. */
async function run(rawConfig: unknown): Promise<void> {
  const config = AgentConfigSchema.parse(rawConfig);
  // Warnings and errors go to the child's log file (kept with a failed trial's work dir), as
  // the hub's do: a trial that fails says what its agent saw.
  const logger = pino({ level: process.env.OUTPOST_TEST_LOG ?? 'warn' }, pino.destination(2));
  watchEventLoop(logger);
  const offsets = { wall: 0, mono: 0 };
  const agent = await createAgent(config, {
    logger,
    clock: { wallNow: () => Date.now() + offsets.wall, monoNow: () => performance.now() + offsets.mono },
  });
  process.on('message', (message: ChildCommand) => {
    if (message.op === 'enqueue') {
      enqueueAll(agent, message).catch((err: unknown) => fatal(`enqueue failed: ${String(err)}`));
    } else if (message.op === 'clock') {
      offsets.wall = message.wallOffsetMs;
      offsets.mono += Math.max(0, message.monoAdvanceMs);
      send({ type: 'clock', wallOffsetMs: offsets.wall, monoOffsetMs: offsets.mono });
    } else if (message.op === 'status') {
      send({ type: 'status', id: message.id, status: agent.status() });
    } else if (message.op === 'close') {
      agent.close().then(
        () => process.exit(0),
        (err: unknown) => fatal(`close failed: ${String(err)}`),
      );
    }
  });
  send({ type: 'ready', pid: process.pid, epoch: agent.epoch });
}

// The modules are loaded by now (static imports): the suite keeps one such warm process in
// reserve, so a restart after a SIGKILL costs createAgent, not node's start-up.
process.once('message', (message: ChildCommand) => {
  if (message.op !== 'start') return fatal(`expected a start command, got ${message.op}`);
  run(message.config).catch((err: unknown) => fatal(`agent did not start: ${String(err)}`));
});
// The suite went away (it crashed or was killed): do not linger as an orphan.
process.on('disconnect', () => process.exit(0));
send({ type: 'warm', pid: process.pid });
