import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { type BundlePlatform, isOutpostError } from '../../shared/index.js';
import { installBundle } from './bundle.js';
import type { SlotName, SlotState, Slots } from './slots.js';
import type { StoreBackup } from './store-backup.js';

/** Message an agent sends its launcher (IPC) once healthy: connected, migrated, engines admitted, draining. */
export const HEALTHY_MESSAGE = 'outpost.healthy';
/** Agent → launcher: install this downloaded bundle (`{file, signed, rollout?}`) and switch to it. */
export const INSTALL_MESSAGE = 'outpost.install';
/** Agent → launcher: switch to the release the other slot holds (`{version, rollout?}`; a rollback). */
export const SWITCH_MESSAGE = 'outpost.switch';
/** Launcher → agent: the install or switch was refused (`{version, code, reason}`); nothing changed. */
export const REFUSED_MESSAGE = 'outpost.update-refused';
/** Launcher → agent: this release, on trial, is confirmed: it stays. */
export const CONFIRMED_MESSAGE = 'outpost.confirmed';

/** What the launcher tells an agent it starts, in its environment. */
export const LAUNCHER_ENV = {
  /** The slot it runs from. */
  slot: 'OUTPOST_SLOT',
  /** JSON `{version, reason, at, rollout?}`: the last release the launcher reverted. */
  failure: 'OUTPOST_UPDATE_FAILURE',
  /** JSON `{version, from, startedAt, deadline}`: this release runs on trial. */
  trial: 'OUTPOST_UPDATE_TRIAL',
  /** Times the launcher restarted this release after it exited on its own. */
  crashes: 'OUTPOST_LAUNCHER_CRASHES',
} as const;

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
  /** The node entry point and arguments of the agent installed in `slotDir` (slot `slot` of `state`). */
  entry(slotDir: string, slot: SlotName, state: SlotState): { file: string; args: string[] };
  /** Extra environment of every agent started. */
  env?: Record<string, string>;
  log: Logger;
  /** Wall clock, ms (trial deadlines). */
  now?: () => number;
  /** Pause before restarting an agent that exited on its own (not on trial), ms; default 1000. */
  restartDelayMs?: number;
  /** The store backup taken before the trial: restored on a revert when a migration ran. */
  store?: StoreBackup;
  /**
   * Installs asked for by the agent (over IPC): bundles are verified against `trustedKeys`
   * (and this device's platform) again here, and the new release has `confirmMs` to confirm its
   * health. Without it the launcher refuses them.
   */
  install?: { trustedKeys: readonly string[]; confirmMs: number; platform?: BundlePlatform };
  /** How long an agent may take to stop on SIGTERM before SIGKILL, ms; default 30 000. */
  stopTimeoutMs?: number;
  /** Every other message an agent sends (e.g. `{type: 'ready', …}`), to pass on. */
  onMessage?: (message: unknown) => void;
}

interface InstallRequest {
  type: typeof INSTALL_MESSAGE;
  file: string;
  signed: { manifest?: { version?: string } };
  rollout?: string;
}
interface SwitchRequest {
  type: typeof SWITCH_MESSAGE;
  version: string;
  rollout?: string;
}

/**
 * The process systemd runs on a device: it starts the agent of the current slot and keeps
 * it running. A slot on trial (a switch not yet confirmed) must send {@link HEALTHY_MESSAGE}
 * before the trial's deadline; if it exits first or the deadline passes, the launcher kills
 * it, switches back to the previous slot ({@link Slots.revert}, one atomic write) and starts
 * that one, which learns why from `OUTPOST_UPDATE_FAILURE` (JSON `{version, reason, at}`).
 *
 * An agent asks for an update over IPC ({@link INSTALL_MESSAGE}, once it has downloaded and
 * checked a bundle; {@link SWITCH_MESSAGE} for the release its other slot holds): the
 * launcher verifies the bundle again (signature, sha256, platform), unpacks it into the
 * inactive slot, stops the agent, backs up its store, switches on trial and starts the new
 * release. Every step leaves one consistent state on disk whenever it is killed.
 */
export class Launcher {
  readonly #o: LauncherOptions;
  readonly #now: () => number;
  #child: ChildProcess | undefined;
  #running: Running | undefined;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** A child the launcher is stopping itself (to switch): its exit restarts nothing. */
  #replacing: ChildProcess | undefined;
  #busy = false;
  /** Restarts after an exit of its own, per `slot:version`. */
  readonly #crashes = new Map<string, number>();

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
    await this.#stopChild();
  }

  /** After a revert, with no agent running: the store as the previous release left it, if migrated. */
  #restoreStore(): void {
    const report = this.#o.store?.restoreIfMigrated();
    if (report === undefined) return;
    const { carried, removed, notCarried } = report;
    if (notCarried.length === 0) {
      this.#o.log.warn(
        { carried, removed },
        'the store was migrated by the reverted release: restored from the backup, its events carried',
      );
    } else {
      this.#o.log.error(
        { carried, removed, notCarried },
        'the store was migrated by the reverted release: restored from the backup, not all carried',
      );
    }
  }

  /** SIGTERM to the running agent, SIGKILL after `stopTimeoutMs`; resolves once it exited. */
  async #stopChild(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.#replacing = child;
    clearTimeout(this.#timer);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), this.#o.stopTimeoutMs ?? 30_000);
    await exited;
    clearTimeout(kill);
  }

  #send(child: ChildProcess, message: unknown): void {
    if (!child.connected) return;
    try {
      child.send(message as object);
    } catch {
      // The agent is exiting: it learns nothing more.
    }
  }

  #refuse(child: ChildProcess, version: string, err: unknown): void {
    const code = isOutpostError(err) ? err.code : 'AGENT_INTERNAL';
    const reason = (err as Error).message.slice(0, 1024);
    this.#o.log.error({ version, code, reason }, 'update refused by the launcher');
    this.#send(child, { type: REFUSED_MESSAGE, version, code, reason });
  }

  /** Verifies and unpacks the bundle into the inactive slot, then switches to it on trial. */
  async #install(child: ChildProcess, request: InstallRequest): Promise<void> {
    const version = String(request.signed?.manifest?.version ?? '?');
    const install = this.#o.install;
    if (install === undefined) {
      this.#refuse(child, version, new Error('this launcher takes no installs (no trusted keys)'));
      return;
    }
    if (this.#busy || this.#o.slots.load().trial) return;
    this.#busy = true;
    try {
      this.#o.log.info({ version, file: request.file }, 'installing an agent release');
      const { slot, manifest } = await installBundle({
        slots: this.#o.slots,
        bundleFile: request.file,
        signed: request.signed,
        trustedKeys: install.trustedKeys,
        ...(install.platform ? { platform: install.platform } : {}),
      });
      this.#o.log.info({ version: manifest.version, slot }, 'agent release unpacked into the inactive slot');
      await this.#switchTo(manifest.version, request.rollout, false, install.confirmMs);
    } catch (err) {
      this.#refuse(child, version, err);
    } finally {
      this.#busy = false;
    }
  }

  /** Switches to the release the other slot already holds (a rollback), on trial. */
  async #switch(child: ChildProcess, request: SwitchRequest): Promise<void> {
    const install = this.#o.install;
    if (install === undefined) {
      this.#refuse(child, request.version, new Error('this launcher takes no switches'));
      return;
    }
    if (this.#busy) return;
    const state = this.#o.slots.load();
    if (state.trial) return;
    const other = this.#o.slots.inactive(state);
    if (!this.#o.slots.holds(other, request.version, state)) {
      this.#refuse(
        child,
        request.version,
        new Error(
          `the other slot holds ${state.versions[other] ?? 'nothing'}, not ${request.version}: it needs a bundle of ${request.version}`,
        ),
      );
      return;
    }
    this.#busy = true;
    try {
      await this.#switchTo(request.version, request.rollout, state.base === other, install.confirmMs);
    } catch (err) {
      this.#refuse(child, request.version, err);
    } finally {
      this.#busy = false;
    }
  }

  /** Stops the agent, backs up its store, switches on trial (one atomic write), starts it. */
  async #switchTo(
    version: string,
    rollout: string | undefined,
    keepBase: boolean,
    confirmMs: number,
  ): Promise<void> {
    await this.#stopChild();
    if (this.#stopped) return;
    // An agent that exited on its own meanwhile is not restarted: the switch starts the next.
    clearTimeout(this.#timer);
    // The agent is stopped: the backup holds every event it queued.
    this.#o.store?.take();
    const state = this.#o.slots.beginTrial(version, confirmMs, this.#now(), { rollout, keepBase });
    this.#o.log.info({ version, slot: state.current, deadline: state.trial?.deadline }, 'switched on trial');
    this.#spawn(state);
  }

  #spawn(state: SlotState): void {
    if (this.#stopped) return;
    const slot = state.current;
    const version = state.versions[slot] ?? 'unknown';
    const trial = state.trial?.slot === slot ? state.trial : undefined;
    const crashKey = `${slot}:${version}`;
    const { file, args } = this.#o.entry(this.#o.slots.dir(slot), slot, state);
    // The launcher's own node flags (e.g. memory limits) apply to its agents too.
    const child = spawn(process.execPath, [...process.execArgv, file, ...args], {
      env: {
        ...process.env,
        ...this.#o.env,
        [LAUNCHER_ENV.slot]: slot,
        [LAUNCHER_ENV.crashes]: String(this.#crashes.get(crashKey) ?? 0),
        ...(state.lastFailure ? { [LAUNCHER_ENV.failure]: JSON.stringify(state.lastFailure) } : {}),
        ...(trial
          ? {
              [LAUNCHER_ENV.trial]: JSON.stringify({
                version,
                from: state.versions[trial.previous] ?? 'unknown',
                startedAt: trial.startedAt,
                deadline: trial.deadline,
              }),
            }
          : {}),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    this.#running = { slot, version, pid: child.pid ?? -1, trial: trial !== undefined };
    this.#o.log.info({ slot, version, trial: trial !== undefined, pid: child.pid }, 'agent started');
    let settled = trial === undefined;
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
    if (trial) {
      const deadlineMs = Math.max(0, trial.deadline - this.#now());
      this.#timer = setTimeout(() => fail(`${version} did not confirm its health in time`), deadlineMs);
    }
    child.on('message', (message: unknown) => {
      const type = (message as { type?: unknown } | null)?.type;
      if (type === HEALTHY_MESSAGE) {
        if (settled) return;
        settled = true;
        clearTimeout(this.#timer);
        this.#o.slots.confirm();
        if (this.#running !== undefined && this.#running.pid === child.pid)
          this.#running = { ...this.#running, trial: false };
        this.#o.log.info({ slot, version }, 'update confirmed healthy');
        this.#send(child, { type: CONFIRMED_MESSAGE, version });
        return;
      }
      if (type === INSTALL_MESSAGE) {
        if (settled) void this.#install(child, message as InstallRequest);
        return;
      }
      if (type === SWITCH_MESSAGE) {
        if (settled) void this.#switch(child, message as SwitchRequest);
        return;
      }
      this.#o.onMessage?.(message);
    });
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#running = undefined;
      if (this.#stopped || this.#replacing === child) return;
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
      this.#crashes.set(crashKey, (this.#crashes.get(crashKey) ?? 0) + 1);
      this.#o.log.warn({ slot, version, code, signal }, 'agent exited; restarting');
      this.#timer = setTimeout(() => {
        if (this.#child === child) this.#spawn(this.#o.slots.load());
      }, this.#o.restartDelayMs ?? 1000);
    });
  }
}
