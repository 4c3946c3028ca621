import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { SlotName, SlotState, Slots } from './slots.js';
import type { StoreBackup } from './store-backup.js';

/** Message an agent sends its launcher (IPC) once healthy: connected, migrated, engines admitted, draining. */
export const HEALTHY_MESSAGE = 'outpost.healthy';

/** What runs now. */
export interface Running {
  slot: SlotName;
  version: string;
  pid: number;
  /** True while the slot is on trial (not yet confirmed healthy). */
  trial: boolean;
}

/** Settings and collaborators of the {@link Launcher}. */
export interface LauncherOptions {
  slots: Slots;
  /** The node entry point and arguments of the agent installed in `slotDir`. */
  entry(slotDir: string): { file: string; args: string[] };
  /** Extra environment of every agent started. */
  env?: Record<string, string>;
  log: Logger;
  /** Wall clock, ms (trial deadlines). */
  now?: () => number;
  /** Pause before restarting an agent that exited on its own (not on trial), ms; default 1000. */
  restartDelayMs?: number;
  /** The store backup taken before the trial: restored on a revert when a migration ran. */
  store?: StoreBackup;
}

/**
 * The process systemd runs on a device: it starts the agent of the current slot and keeps
 * it running. A slot on trial (a switch not yet confirmed) must send {@link HEALTHY_MESSAGE}
 * before the trial's deadline; if it exits first or the deadline passes, the launcher kills
 * it, switches back to the previous slot ({@link Slots.revert}, one atomic write) and starts
 * that one, which learns why from `OUTPOST_UPDATE_FAILURE` (JSON `{version, reason, at}`).
 */
export class Launcher {
  readonly #o: LauncherOptions;
  readonly #now: () => number;
  #child: ChildProcess | undefined;
  #running: Running | undefined;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LauncherOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** What runs now, if anything. */
  get running(): Running | undefined {
    return this.#running;
  }

  /** Starts the current slot's agent (reverting first a trial whose deadline has passed). */
  start(): void {
    let state = this.#o.slots.load();
    if (state.trial && this.#now() >= state.trial.deadline) {
      state = this.#o.slots.revert(
        `${state.trial.version} was not confirmed healthy before its deadline`,
        this.#now(),
      );
      this.#restoreStore();
    }
    this.#spawn(state);
  }

  /** Stops the agent (SIGTERM) and waits for it; the slot state is left as it is. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  /** After a revert, with no agent running: the store as the previous release left it, if migrated. */
  #restoreStore(): void {
    if (this.#o.store?.restoreIfMigrated()) {
      this.#o.log.warn('the store was migrated by the reverted release: restored from the backup');
    }
  }

  #spawn(state: SlotState): void {
    if (this.#stopped) return;
    const slot = state.current;
    const version = state.versions[slot] ?? 'unknown';
    const trial = state.trial?.slot === slot;
    const { file, args } = this.#o.entry(this.#o.slots.dir(slot));
    const child = spawn(process.execPath, [file, ...args], {
      env: {
        ...process.env,
        ...this.#o.env,
        OUTPOST_SLOT: slot,
        ...(state.lastFailure ? { OUTPOST_UPDATE_FAILURE: JSON.stringify(state.lastFailure) } : {}),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    this.#running = { slot, version, pid: child.pid ?? -1, trial };
    this.#o.log.info({ slot, version, trial, pid: child.pid }, 'agent started');
    let settled = !trial;
    let reverted = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(this.#timer);
      this.#o.log.error({ slot, version, reason }, 'update reverted');
      const back = this.#o.slots.revert(reason, this.#now());
      if (child.exitCode === null && child.signalCode === null) {
        reverted = true;
        child.kill('SIGKILL');
      } else {
        this.#restoreStore();
        this.#spawn(back);
      }
    };
    if (trial && state.trial) {
      const deadlineMs = Math.max(0, state.trial.deadline - this.#now());
      this.#timer = setTimeout(() => fail(`${version} did not confirm its health in time`), deadlineMs);
      child.on('message', (message) => {
        if (settled || (message as { type?: unknown })?.type !== HEALTHY_MESSAGE) return;
        settled = true;
        clearTimeout(this.#timer);
        this.#o.slots.confirm();
        if (this.#running) this.#running = { ...this.#running, trial: false };
        this.#o.log.info({ slot, version }, 'update confirmed healthy');
      });
    }
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#running = undefined;
      if (this.#stopped) return;
      if (!settled) {
        fail(`${version} exited (${signal ?? `code ${code}`}) before confirming its health`);
        return;
      }
      if (reverted) {
        // Killed after a missed deadline: start the slot it reverted to.
        this.#restoreStore();
        this.#spawn(this.#o.slots.load());
        return;
      }
      this.#o.log.warn({ slot, version, code, signal }, 'agent exited; restarting');
      this.#timer = setTimeout(() => this.#spawn(this.#o.slots.load()), this.#o.restartDelayMs ?? 1000);
    });
  }
}
