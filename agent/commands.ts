import type { Logger } from 'pino';
import type { Command, CommandResult } from '../shared/index.js';

/** What commands act on. */
export interface CommandContext {
  /** Enqueues the `cmd.result` event in the `control` lane. */
  enqueueResult(result: CommandResult): void;
  /** Publishes the reported state now; false when the link is down. */
  publishState(reason: string): boolean;
  log: Logger;
}

/** Command ids remembered to drop QoS 1 redeliveries of a command already carried out. */
const RECENT_IDS = 256;

/**
 * Carries out hub commands and answers each through the outbox, so the answer
 * survives being offline: `ping` → `{ pong: true }`; `report-state` → publishes the
 * reported state. A command id seen recently is not carried out twice.
 */
export class CommandHandler {
  readonly #ctx: CommandContext;
  readonly #recent = new Set<string>();

  constructor(ctx: CommandContext) {
    this.#ctx = ctx;
  }

  /** Handles one validated command. */
  handle(cmd: Command): void {
    if (!this.#first(cmd.id, cmd.name)) return;
    this.#ctx.log.info({ id: cmd.id, name: cmd.name }, 'command received');
    this.#ctx.enqueueResult(this.#run(cmd));
  }

  /**
   * Answers a command this agent cannot carry out (an unknown name, a newer protocol) with
   * a failed result naming why, so the hub learns it was refused rather than lost.
   */
  refuse(id: string, name: string, reason: string): void {
    if (!this.#first(id, name)) return;
    this.#ctx.log.warn({ id, name, reason }, 'command refused');
    this.#ctx.enqueueResult({ id, name, ok: false, error: reason.slice(0, 1024) });
  }

  /** True the first time `id` is seen (a redelivered command is carried out once). */
  #first(id: string, name: string): boolean {
    if (this.#recent.has(id)) {
      this.#ctx.log.debug({ id, name }, 'duplicate command ignored');
      return false;
    }
    this.#recent.add(id);
    if (this.#recent.size > RECENT_IDS) {
      const oldest = this.#recent.values().next();
      if (!oldest.done) this.#recent.delete(oldest.value);
    }
    return true;
  }

  #run(cmd: Command): CommandResult {
    switch (cmd.name) {
      case 'ping':
        return { id: cmd.id, name: cmd.name, ok: true, result: { pong: true } };
      case 'report-state': {
        const published = this.#ctx.publishState('command');
        return { id: cmd.id, name: cmd.name, ok: true, result: { published } };
      }
    }
  }
}
